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
 * One unmasked text frame in a single Buffer, header and payload together, for a frame written to
 * one socket: one allocation and one write, where `ws.send` makes a header and a payload (and the
 * TCP socket's write gathers one chunk more). Text of 64 KiB or more goes through {@link encodeFrame}.
 * @example
 * outboxOf(socket).sendFrame([textFrame(welcome)], welcome);
 */
export function textFrame(text: string): Buffer {
  const size = Buffer.byteLength(text);
  if (size > 0xffff) return Buffer.concat(encodeFrame(text));
  const head = size < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(head + size);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (head === 2) frame[1] = size;
  else {
    frame[1] = 126; // a 16-bit length follows
    frame.writeUInt16BE(size, 2);
  }
  frame.write(text, head);
  return frame;
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
