/**
 * The server's frame decoder: secure-json-parse (rejects `__proto__` and `constructor.prototype`
 * keys at any depth, without recursion) then the shared shape and depth check, parseFrame. When a
 * frame is refused for a prototype key, its request id is still recovered so that the requester's
 * pending request is answered rather than left to time out.
 */
import sjson from "secure-json-parse";
import { MAX_FRAME_DEPTH } from "../protocol/limits.js";
import { isRequestId, type ParseResult, parseFrame } from "../protocol/parse-frame.js";

const PROTO_MESSAGE = 'the keys "__proto__" and "constructor.prototype" are not allowed';

/**
 * Decodes one text frame into a typed tsws.v1 frame, or says what is wrong and which request id
 * to answer. Never throws.
 * @example
 * const r = decodeText('[1,7,"send",{"text":"hi"}]'); // { ok: true, frame: [1, 7, "send", { text: "hi" }] }
 * decodeText('[1,7,"send",{"__proto__":{}}]'); // { ok: false, id: 7, message: 'the keys "__proto__" ... are not allowed' }
 */
export function decodeText(text: string): ParseResult {
  // safeParse: undefined for invalid JSON (or a parser RangeError), null for a prototype key.
  const value: unknown = sjson.safeParse(text);
  if (value === undefined) return { ok: false, id: null, message: "the frame is not valid JSON" };
  if (value === null) {
    // Only on a refused frame: parse again, plainly, to learn whether it was `null` or a prototype key.
    const plain: unknown = JSON.parse(text);
    if (plain !== null) return { ok: false, id: requestIdOf(plain), message: PROTO_MESSAGE };
  }
  return parseFrame(value, { maxDepth: MAX_FRAME_DEPTH });
}

function requestIdOf(value: unknown): number | null {
  return Array.isArray(value) && value[0] === 1 && isRequestId(value[1]) ? value[1] : null;
}

/**
 * True when a text frame (as bytes) starts like a reply or error frame, `[2,` or `[3,` with
 * optional JSON whitespace: a check of a few bytes, so replies can be settled before the frame
 * would wait in the socket's queue without parsing every message twice. A reply written in some
 * other way (`[2.0,`) still works: it is settled from the queue instead.
 * @example
 * looksLikeReply(Buffer.from('[2,7,{"ok":true}]')); // true
 * looksLikeReply(Buffer.from('[1,7,"send"]')); // false
 */
export function looksLikeReply(data: Buffer): boolean {
  let i = skipSpace(data, 0);
  if (data[i] !== 0x5b) return false; // [
  i = skipSpace(data, i + 1);
  const kind = data[i];
  if (kind !== 0x32 && kind !== 0x33) return false; // 2 or 3
  i = skipSpace(data, i + 1);
  return data[i] === 0x2c; // ,
}

function skipSpace(data: Buffer, i: number): number {
  // JSON whitespace: space, tab, line feed, carriage return. Bounded: a frame of only spaces ends.
  while (i < data.length) {
    const c = data[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}
