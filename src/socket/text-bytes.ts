/**
 * The bytes of the last inbound text message beside the string decoded from them. A handler that
 * sends a received string on (an echo, a relay, a chat message to its room) would otherwise have
 * it encoded back to the UTF-8 it arrived as: measured on a 64-byte echo, decoding and encoding
 * again cost about a fifth of the server's CPU per message. Sending the bytes it came as, when the
 * outgoing string is equal to the last one decoded, saves the encoding half; decoding stays, as
 * handlers are given strings.
 */

/** Longer messages are not kept: the memo holds the bytes (and their read chunk) until the next message. */
const MAX_BYTES = 16 * 1024;

let lastText: string | undefined;
let lastBytes: Buffer | undefined;

/**
 * Decodes an inbound text message (UTF-8, already validated by ws) and remembers its bytes.
 * @example
 * queue.message(isBinary ? data : decodeText(data));
 */
export function decodeText(bytes: Buffer): string {
  const text = bytes.toString();
  if (bytes.length <= MAX_BYTES) {
    lastText = text;
    lastBytes = bytes;
  }
  return text;
}

/**
 * The UTF-8 bytes of `text` when it equals the last inbound text message decoded, else undefined.
 * Equal strings have equal bytes, whichever copy is passed; the usual case (the very string
 * received) is one pointer comparison.
 * @example
 * const bytes = bytesOf(text); bytes === undefined ? ws.send(text) : ws.send(bytes, { binary: false });
 */
export function bytesOf(text: string): Buffer | undefined {
  return text === lastText ? lastBytes : undefined;
}
