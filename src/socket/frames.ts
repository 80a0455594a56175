import * as wsModule from "ws";
import type { Message } from "../types.js";
import { bytesOf } from "./text-bytes.js";

/**
 * Frames encoded once for many receivers, and the rule for when one may be written straight to a
 * TCP socket. The only file that knows ws's framing.
 */

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// `Sender.frame` is exported by ws but missing from @types/ws.
const frameOf = (wsModule as unknown as { Sender: { frame(data: Message, options: FrameOptions): Buffer[] } }).Sender.frame;

/** Below this size a frame's header and payload are joined, so each receiver costs one write, not two. */
const JOIN_BELOW = 16 * 1024;

/**
 * One unmasked server frame (text for strings, binary for bytes), shared by every receiver.
 * @example
 * const frame = encodeFrame("hello"); for (const s of members) outboxOf(s).sendFrame(frame, "hello");
 */
export function encodeFrame(data: Message): readonly Buffer[] {
  const payload = typeof data === "string" ? (bytesOf(data) ?? Buffer.from(data)) : data;
  const parts = frameOf(payload, { fin: true, opcode: typeof data === "string" ? 1 : 2, mask: false, readOnly: false, rsv1: false });
  return parts.length > 1 && payload.length < JOIN_BELOW ? [Buffer.concat(parts)] : parts;
}

/**
 * Whether frames from {@link encodeFrame} may be written to this connection's TCP socket as they
 * are: only when no extension (permessage-deflate) must transform each frame.
 * @example
 * const plain = acceptsRawFrames(ws);
 */
export function acceptsRawFrames(ws: { readonly extensions: string }): boolean {
  return ws.extensions === "";
}
