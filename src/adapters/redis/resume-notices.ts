/**
 * The bodies of the resume stores' notices on a node's direct channel, made and read in one place.
 * Each notice is a frame of the adapters' direct channels (sharded-wire.ts) with no sequence number:
 * its head (kind) then its body.
 * - `moved` `<generation>:<sid>`: a take moved the session away from the node that held it.
 * - `reply` `<request id>:<sid bytes>:<sid><frame>`: a reply a retry on that node waits for.
 * - `inbox` `<seq>:<epoch>:<sid bytes>:<sid><body>`: a direct message numbered for a session held there.
 * Lengths count bytes, so a sid of any characters is read back whole. The sharded mode sends what
 * {@link movedNotice}, {@link replyNotice} and {@link inboxNotice} make, after the script that
 * decided it; the classic mode's scripts publish the same bytes themselves, built in Lua: `moved`
 * and `reply` in session-scripts.ts (TAKE, UPDATE), `inbox` in inbox-route.ts (ROUTE). A change of
 * layout here must be made there too (test/resume-notices.test.ts runs both modes).
 */
import type { StreamPosition } from "../../resume/history-log.js";
import { frame, WireKind } from "./sharded-wire.js";

/** The head of a `moved` notice, for the scripts that publish it. */
export const MOVED_HEAD = frame(WireKind.moved, 0, Buffer.alloc(0));
/** The head of a `reply` notice, for the scripts that publish it. */
export const REPLY_HEAD = frame(WireKind.reply, 0, Buffer.alloc(0));
/** The head of an `inbox` notice, for the scripts that publish it. */
export const INBOX_HEAD = frame(WireKind.inbox, 0, Buffer.alloc(0));

/**
 * A whole `moved` notice (head and body).
 * @example
 * channels.send(holder, movedNotice(3, "0f8e")); // body "3:0f8e"
 */
export function movedNotice(generation: number, sid: string): Buffer {
  return Buffer.concat([MOVED_HEAD, Buffer.from(`${generation}:${sid}`)]);
}

/**
 * A whole `reply` notice (head and body).
 * @example
 * channels.send(holder, replyNotice(7, "0f8e", "[2,7,1]")); // body "7:4:0f8e[2,7,1]"
 */
export function replyNotice(id: number | string, sid: string, frame: string): Buffer {
  return Buffer.concat([REPLY_HEAD, Buffer.from(`${id}:${Buffer.byteLength(sid)}:${sid}${frame}`)]);
}

/**
 * A whole `inbox` notice (head and body).
 * @example
 * channels.send(holder, inboxNotice({ seq: 2, epoch: "k3" }, "0f8e", body)); // body "2:k3:4:0f8e" + body
 */
export function inboxNotice(pos: StreamPosition, sid: string, body: string): Buffer {
  return Buffer.concat([INBOX_HEAD, Buffer.from(`${pos.seq}:${pos.epoch}:${Buffer.byteLength(sid)}:${sid}${body}`)]);
}

/**
 * The body of a `moved` notice, or undefined when malformed.
 * @example
 * parseMoved(Buffer.from("3:0f8e")); // { generation: 3, sid: "0f8e" }
 */
export function parseMoved(body: Buffer): { generation: number; sid: string } | undefined {
  const text = body.toString();
  const colon = text.indexOf(":");
  const generation = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(generation)) return undefined;
  return { generation, sid: text.slice(colon + 1) };
}

/**
 * The body of a `reply` notice, or undefined when malformed.
 * @example
 * parseReply(Buffer.from('7:4:0f8e[2,7,1]')); // { id: 7, sid: "0f8e", frame: "[2,7,1]" }
 */
export function parseReply(body: Buffer): { id: number; sid: string; frame: string } | undefined {
  const a = body.indexOf(58);
  const b = a < 0 ? -1 : body.indexOf(58, a + 1);
  const id = Number(body.toString("latin1", 0, a));
  const length = Number(body.toString("latin1", a + 1, b));
  if (a < 1 || b < 0 || !Number.isSafeInteger(id) || !Number.isSafeInteger(length) || b + 1 + length > body.length) return undefined;
  return { id, sid: body.toString("utf8", b + 1, b + 1 + length), frame: body.toString("utf8", b + 1 + length) };
}

/**
 * The body of an `inbox` notice, or undefined when malformed.
 * @example
 * parseInbox(Buffer.from('2:k3:4:0f8e"dm",{"n":2}')); // { sid: "0f8e", pos: { seq: 2, epoch: "k3" }, body: '"dm",{"n":2}' }
 */
export function parseInbox(body: Buffer): { sid: string; pos: StreamPosition; body: string } | undefined {
  const a = body.indexOf(58);
  const b = a < 0 ? -1 : body.indexOf(58, a + 1);
  const c = b < 0 ? -1 : body.indexOf(58, b + 1);
  const seq = Number(body.toString("latin1", 0, a));
  const length = Number(body.toString("latin1", b + 1, c));
  if (a < 1 || c < 0 || !Number.isSafeInteger(seq) || !Number.isSafeInteger(length) || c + 1 + length > body.length) return undefined;
  return {
    sid: body.toString("utf8", c + 1, c + 1 + length),
    pos: { seq, epoch: body.toString("utf8", a + 1, b) },
    body: body.toString("utf8", c + 1 + length),
  };
}
