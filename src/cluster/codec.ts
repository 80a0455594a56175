import type { Message } from "../types.js";
import type { ClusterOp } from "./adapter.js";

/**
 * A compact binary form of a {@link ClusterOp} for adapters that carry bytes (Redis pub/sub).
 * Layout: one byte for the kind, one byte of flags, then length-prefixed UTF-8 strings (the
 * sender's node id first, so a node can skip its own messages without decoding the rest), and,
 * for broadcasts and direct sends, the payload as the remaining bytes: binary payloads stay
 * binary and text is never escaped.
 */

const Kind = { broadcast: 1, sendTo: 2, closeSession: 3, closeUser: 4 } as const;
const BINARY = 1;
/** The kind and flag bytes. */
const HEAD = 2;

/** An operation decoded from the wire, with the node that published it. */
export interface ClusterEnvelope {
  readonly sender: string;
  readonly op: ClusterOp;
}

/**
 * Encodes an operation published by node `sender`.
 * @example
 * const bytes = encodeClusterOp(nodeId, { type: "sendTo", id, data: "hi" });
 */
export function encodeClusterOp(sender: string, op: ClusterOp): Buffer {
  const strings: string[] = [sender];
  let kind: number;
  let data: Message | undefined;
  let code = 0;
  if (op.type === "broadcast") {
    kind = Kind.broadcast;
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
  let size = HEAD + 4 + (code === 0 ? 0 : 2) + (payload?.length ?? 0);
  for (const s of strings) size += 4 + Buffer.byteLength(s);
  const out = Buffer.allocUnsafe(size);
  out[0] = kind;
  out[1] = payload !== undefined && typeof data !== "string" ? BINARY : 0;
  let at = out.writeUInt32BE(strings.length, HEAD);
  for (const s of strings) {
    const length = out.write(s, at + 4);
    out.writeUInt32BE(length, at);
    at += 4 + length;
  }
  if (code !== 0) at = out.writeUInt16BE(code, at);
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
  const rest = (): Message => {
    const payload = bytes.subarray(at);
    return (bytes[1] ?? 0) & BINARY ? payload : payload.toString();
  };
  switch (kind) {
    case Kind.broadcast: {
      const roomCount = Number(first);
      const rooms = strings.slice(2, 2 + roomCount);
      return { sender, op: { type: "broadcast", rooms, except: strings.slice(2 + roomCount), data: rest() } };
    }
    case Kind.sendTo:
      return { sender, op: { type: "sendTo", id: first, data: rest() } };
    case Kind.closeSession:
    case Kind.closeUser: {
      const by = kind === Kind.closeSession ? "session" : "user";
      return { sender, op: { type: "close", by, value: first, reason: second, code: bytes.readUInt16BE(at) } };
    }
    default:
      throw new RangeError(`cluster message: unknown kind ${kind}`);
  }
}
