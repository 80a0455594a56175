/**
 * The {@link InboxRoute} of the Redis resume stores: one Lua script per direct message appends it
 * to the session's inbox (numbered, replayed at a resume) and, in the same atomic step, reads which
 * node holds the session (the session hash's `n`, written by open, take and detach in their own
 * scripts) and, when that is another node, PUBLISHes the numbered message to that node's direct
 * channel (in the script; on a Redis Cluster, where the channel is in another slot, right after
 * it), which writes it to the session's socket there. So a message lands in history whatever
 * happens to the hop: a session away from every node gets it at its resume, a resume that takes the
 * session at the same moment reads it or hears of it, and a holder that does not hear the hop (its
 * subscriber is down, it died) delivers it with the next message (a hole it reads), once its
 * subscription is back or at its check every ttl / 3 (it compares its sessions with {@link
 * RedisInboxRoute.tops}), or the client gets it at the resume.
 */
import type { InboxDelivery, InboxRoute } from "../../resume/backend.js";
import { inboxStream, type StreamPosition } from "../../resume/history-log.js";
import type { DirectChannels } from "./direct-channels.js";
import { script } from "./scripts.js";
import type { SessionLayout } from "./session-layout.js";
import { frame, WireKind } from "./sharded-wire.js";
import { APPEND_STEPS, type RedisHistory } from "./streams-log.js";

/**
 * KEYS: inbox meta, inbox log, session hash (one slot: session-layout.ts). ARGV 1-8: the append's
 * (streams-log.ts), then my id, "1" if this node's own socket sends it, channel prefix, channel
 * suffix, publish command ("" = the caller publishes), the notice head, the sid. { 0 } nothing done
 * (no such session, or one whose holder is not kept: a record of an older version; and not this
 * node's own socket), else { epoch, seq, 1 if another node holds the session (told
 * `<head><seq>:<epoch>:<sid length>:<sid><body>`), that node }.
 */
const ROUTE = `local n = redis.call('HGET', KEYS[3], 'n')
if not n and ARGV[10] ~= '1' then return { 0 } end
${APPEND_STEPS}
local away = 0
if n and n ~= '' and n ~= ARGV[9] then
  away = 1
  if ARGV[13] ~= '' then
    redis.call(ARGV[13], ARGV[11] .. n .. ARGV[12], ARGV[14] .. top .. ':' .. epoch .. ':' .. #ARGV[15] .. ':' .. ARGV[15] .. ARGV[5])
  end
end
return { epoch, top, away, n or '' }`;
const routeScript = script(ROUTE);

const NONE: InboxDelivery = { kind: "none" };
/** The head of an `inbox` notice: the frame of the adapters' direct channels, kind `inbox`, no sequence number. */
const INBOX_HEAD = frame(WireKind.inbox, 0, Buffer.alloc(0));

/**
 * Direct messages of resumable sessions over Redis, for every node.
 * @example
 * const route = new RedisInboxRoute(history, channels, slotLayout("tsws"));
 * const d = await route.deliver(sid, pushBody("note", { text: "hi" }), false);
 */
export class RedisInboxRoute implements InboxRoute {
  readonly #history: RedisHistory;
  readonly #channels: DirectChannels;
  readonly #layout: SessionLayout;
  readonly #listeners: ((sid: string, pos: StreamPosition, body: string) => void)[] = [];

  /** @param layout where the session hashes are: the same layout as `history`'s */
  constructor(history: RedisHistory, channels: DirectChannels, layout: SessionLayout) {
    this.#history = history;
    this.#channels = channels;
    this.#layout = layout;
  }

  async deliver(sid: string, body: string, own: boolean): Promise<InboxDelivery> {
    const { me, prefix, suffix, command, send } = this.#channels;
    const args = [me(), own ? "1" : "0", prefix, suffix, send === undefined ? command : "", INBOX_HEAD, sid];
    const answer = (await this.#history.appendWith(routeScript, inboxStream(sid), body, [this.#layout.hash(sid)], args)) as unknown[];
    if (answer.length < 4) return NONE;
    const reply = answer as [string, number, number, string];
    const pos = { seq: Number(reply[1]), epoch: String(reply[0]) };
    if (reply[2] === 1 && send !== undefined) {
      // The holder's channel is in another slot than the inbox: told now, in the order the appends were answered.
      send(reply[3], Buffer.concat([INBOX_HEAD, Buffer.from(`${pos.seq}:${pos.epoch}:${Buffer.byteLength(sid)}:${sid}${body}`)]));
    }
    return { kind: "appended", pos, elsewhere: reply[2] === 1 };
  }

  onForwarded(listener: (sid: string, pos: StreamPosition, body: string) => void): void {
    this.#listeners.push(listener);
  }

  tops(sids: readonly string[]): Promise<(StreamPosition | undefined)[]> {
    return this.#history.tops(sids.map(inboxStream));
  }

  /**
   * An `inbox` notice arrived on this node's direct channel (the adapter passes its body): a message
   * another node appended to the inbox of a session this node holds. False when malformed.
   */
  forwarded(notice: Buffer): boolean {
    // `<seq>:<epoch>:<sid bytes>:<sid><body>`, read as bytes: the sid's length counts bytes.
    const a = notice.indexOf(58);
    const b = a < 0 ? -1 : notice.indexOf(58, a + 1);
    const c = b < 0 ? -1 : notice.indexOf(58, b + 1);
    const seq = Number(notice.toString("latin1", 0, a));
    const length = Number(notice.toString("latin1", b + 1, c));
    if (a < 1 || c < 0 || !Number.isSafeInteger(seq) || !Number.isSafeInteger(length) || c + 1 + length > notice.length) return false;
    const pos = { seq, epoch: notice.toString("utf8", a + 1, b) };
    const sid = notice.toString("utf8", c + 1, c + 1 + length);
    const body = notice.toString("utf8", c + 1 + length);
    for (const listener of this.#listeners) listener(sid, pos, body);
    return true;
  }
}
