import type { Message } from "../types.js";
import type { ClusterOp } from "./adapter.js";

/**
 * A compact binary form of a {@link ClusterOp} for adapters that carry bytes (Redis pub/sub).
 * Layout: one byte for the kind, one byte of flags, then length-prefixed UTF-8 strings (the
 * sender's node id first, so a node can skip its own messages without decoding the rest), and,
 * for broadcasts and direct sends, the payload as the remaining bytes: binary payloads stay
 * binary and text is never escaped. When the publisher gives a send time, it follows the strings
 * (and the close code) as a float64 of milliseconds since the epoch, marked by a flag, so a
 * receiver can refuse an operation that arrives too late.
 */

const Kind = { broadcast: 1, sendTo: 2, closeSession: 3, closeUser: 4 } as const;
const BINARY = 1;
const SENT_AT = 2;
/** A broadcast of a room with history: its stream's epoch is the string after the sender. */
const EPOCH = 4;
/** The kind and flag bytes. */
const HEAD = 2;

/** An operation decoded from the wire, with the node that published it. */
export interface ClusterEnvelope {
  readonly sender: string;
  readonly op: ClusterOp;
  /** When the sender published it (ms since the epoch, its clock); absent if it gave none. */
  readonly sentAt?: number;
}

/**
 * Encodes an operation published by node `sender`, with its send time if given (ms since the epoch).
 * @example
 * const bytes = encodeClusterOp(nodeId, { type: "sendTo", id, data: "hi" }, Date.now());
 */
export function encodeClusterOp(sender: string, op: ClusterOp, sentAt?: number): Buffer {
  const strings: string[] = [sender];
  let kind: number;
  let data: Message | undefined;
  let code = 0;
  let flags = 0;
  if (op.type === "broadcast") {
    kind = Kind.broadcast;
    if (op.epoch !== undefined) {
      strings.push(op.epoch);
      flags = EPOCH;
    }
    strings.push(String(op.rooms.length), ...op.rooms, ...op.except);
    data = op.data;
  } else if (op.type === "sendTo") {
    kind = Kind.sendTo;
    strings.push(op.id);
    data = op.data;
  } else {
    kind = op.by === "session" ? Kind.closeSession : Kind.closeUser;
    strings.push(op.value, op.reason);
    code = op.code;
  }
  const payload = typeof data === "string" ? Buffer.from(data) : data;
  let size = HEAD + 4 + (code === 0 ? 0 : 2) + (sentAt === undefined ? 0 : 8) + (payload?.length ?? 0);
  for (const s of strings) size += 4 + Buffer.byteLength(s);
  const out = Buffer.allocUnsafe(size);
  out[0] = kind;
  out[1] = (payload !== undefined && typeof data !== "string" ? BINARY : 0) | (sentAt === undefined ? 0 : SENT_AT) | flags;
  let at = out.writeUInt32BE(strings.length, HEAD);
  for (const s of strings) {
    const length = out.write(s, at + 4);
    out.writeUInt32BE(length, at);
    at += 4 + length;
  }
  if (code !== 0) at = out.writeUInt16BE(code, at);
  if (sentAt !== undefined) at = out.writeDoubleBE(sentAt, at);
  if (payload !== undefined) payload.copy(out, at);
  return out;
}

/**
 * The node id that published an encoded operation, read without decoding the rest; undefined
 * when the bytes are not an operation.
 * @example
 * if (senderOf(bytes) === myNodeId) return; // our own message, already delivered locally
 */
export function senderOf(bytes: Buffer): string | undefined {
  if (bytes.length < HEAD + 8) return undefined;
  const length = bytes.readUInt32BE(HEAD + 4);
  const start = HEAD + 8;
  return start + length <= bytes.length ? bytes.toString("utf8", start, start + length) : undefined;
}

/**
 * Decodes what {@link encodeClusterOp} produced; throws a RangeError on malformed bytes.
 * @example
 * const { sender, op } = decodeClusterOp(bytes);
 */
export function decodeClusterOp(bytes: Buffer): ClusterEnvelope {
  const kind = bytes[0];
  const count = bytes.readUInt32BE(HEAD);
  const strings: string[] = [];
  let at = HEAD + 4;
  for (let i = 0; i < count; i++) {
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) throw new RangeError("cluster message: a string runs past the end");
    strings.push(bytes.toString("utf8", at + 4, at + 4 + length));
    at += 4 + length;
  }
  const [sender = "", first = "", second = ""] = strings;
  const isClose = kind === Kind.closeSession || kind === Kind.closeUser;
  let sentAt: number | undefined;
  if ((bytes[1] ?? 0) & SENT_AT) {
    const timeAt = at + (isClose ? 2 : 0);
    sentAt = bytes.readDoubleBE(timeAt);
    if (!isClose) at = timeAt + 8;
  }
  const envelope = (op: ClusterOp): ClusterEnvelope => (sentAt === undefined ? { sender, op } : { sender, op, sentAt });
  const rest = (): Message => {
    const payload = bytes.subarray(at);
    return (bytes[1] ?? 0) & BINARY ? payload : payload.toString();
  };
  switch (kind) {
    case Kind.broadcast: {
      const epoch = (bytes[1] ?? 0) & EPOCH ? first : undefined;
      const base = epoch === undefined ? 1 : 2;
      const roomCount = Number(strings[base]);
      const rooms = strings.slice(base + 1, base + 1 + roomCount);
      const except = strings.slice(base + 1 + roomCount);
      return envelope(
        epoch === undefined
          ? { type: "broadcast", rooms, except, data: rest() }
          : { type: "broadcast", rooms, except, data: rest(), epoch },
      );
    }
    case Kind.sendTo:
      return envelope({ type: "sendTo", id: first, data: rest() });
    case Kind.closeSession:
    case Kind.closeUser: {
      const by = kind === Kind.closeSession ? "session" : "user";
      return envelope({ type: "close", by, value: first, reason: second, code: bytes.readUInt16BE(at) });
    }
    default:
      throw new RangeError(`cluster message: unknown kind ${kind}`);
  }
}
