/**
 * The bounded offline buffer: what the application sends while the link is down, kept in order
 * until the next open, within a count, a size and an age. Nothing leaves it silently: the owner is
 * told of every entry dropped, and why.
 */

/** One buffered frame: the encoded text, its UTF-8 size, when it was made, and what it was. */
export interface Entry {
  readonly text: string;
  readonly bytes: number;
  readonly at: number;
  readonly event: string;
  readonly data: unknown;
  /** The request id, for a request. */
  readonly id?: number;
}

/** Why an entry left the buffer without being sent. */
export type DropReason = "full" | "expired" | "closed";

const utf8 = new TextEncoder();

/**
 * A FIFO bounded by `maxMessages`, `maxBytes` (UTF-8) and `maxAgeMs`; overflow drops the oldest.
 * @example
 * const buffer = new OfflineBuffer(100, 262_144, 30_000, (entry, reason) => report(entry, reason));
 * buffer.push("send", data, encodeEvent("send", data));
 * buffer.flush((text) => ws.send(text));
 */
export class OfflineBuffer {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #onDrop: (entry: Entry, reason: DropReason) => void;
  #entries: Entry[] = [];
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number, maxAgeMs: number, onDrop: (entry: Entry, reason: DropReason) => void) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
    this.#onDrop = onDrop;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#entries.length;
  }

  /** UTF-8 bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds a frame, dropping expired then oldest entries to stay within bounds (the new one too, if it alone is too big). */
  push(event: string, data: unknown, text: string, id?: number): void {
    const entry: Entry = { text, bytes: utf8.encode(text).length, at: performance.now(), event, data, id };
    this.#entries.push(entry);
    this.#bytes += entry.bytes;
    this.#expire();
    while (this.#entries.length > this.#maxMessages || this.#bytes > this.#maxBytes) this.#drop(0, "full");
  }

  /** Removes the request `id` (it settled while waiting); no drop is reported. */
  remove(id: number): void {
    const i = this.#entries.findIndex((e) => e.id === id);
    if (i >= 0) this.#bytes -= this.#entries.splice(i, 1)[0]!.bytes;
  }

  /** Sends every entry still young enough, oldest first, and empties the buffer. */
  flush(send: (entry: Entry) => void): void {
    this.#expire();
    const entries = this.#entries;
    this.#entries = [];
    this.#bytes = 0;
    for (const entry of entries) send(entry);
  }

  /** Drops everything (the client closed for good). */
  clear(): void {
    while (this.#entries.length > 0) this.#drop(0, "closed");
  }

  #expire(): void {
    const oldest = performance.now() - this.#maxAgeMs;
    while (this.#entries.length > 0 && this.#entries[0]!.at < oldest) this.#drop(0, "expired");
  }

  #drop(i: number, reason: DropReason): void {
    const [entry] = this.#entries.splice(i, 1);
    this.#bytes -= entry!.bytes;
    this.#onDrop(entry!, reason);
  }
}
