/**
 * Inbound rate limits per socket: a token bucket for messages and one for bytes, each holding one
 * second's worth, so a peer may burst up to its per-second allowance and then sustain that rate.
 */

/**
 * The `rateLimit` option. Either field may be left out to limit only the other.
 * @example
 * createServer({ handlers: [Chat], rateLimit: { messagesPerSecond: 50, bytesPerSecond: 256 * 1024 } })
 */
export interface RateLimit {
  /** Messages a socket may send per second (bursts up to this many). */
  readonly messagesPerSecond?: number;
  /** Bytes of message payload a socket may send per second (bursts up to this many). */
  readonly bytesPerSecond?: number;
}

/**
 * One socket's buckets. `allow` refills by the time elapsed, then takes one message and its bytes.
 * @example
 * const limiter = new RateLimiter({ messagesPerSecond: 10 });
 * if (!limiter.allow(data.length)) socket.close(1008, "rate limit");
 */
export class RateLimiter {
  readonly #messagesPerMs: number;
  readonly #bytesPerMs: number;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #messages: number;
  #bytes: number;
  #at = performance.now();

  constructor(limit: RateLimit) {
    this.#maxMessages = limit.messagesPerSecond ?? Number.POSITIVE_INFINITY;
    this.#maxBytes = limit.bytesPerSecond ?? Number.POSITIVE_INFINITY;
    this.#messagesPerMs = this.#maxMessages / 1000;
    this.#bytesPerMs = this.#maxBytes / 1000;
    this.#messages = this.#maxMessages;
    this.#bytes = this.#maxBytes;
  }

  /** Accounts for one message of `size` bytes; false when it is over the limit. */
  allow(size: number): boolean {
    const now = performance.now();
    const elapsed = now - this.#at;
    this.#at = now;
    // A bucket left out is infinite: refilling it would compute 0 * Infinity (NaN) on a frozen clock.
    if (this.#maxMessages !== Number.POSITIVE_INFINITY) {
      this.#messages = Math.min(this.#maxMessages, this.#messages + elapsed * this.#messagesPerMs);
    }
    if (this.#maxBytes !== Number.POSITIVE_INFINITY) this.#bytes = Math.min(this.#maxBytes, this.#bytes + elapsed * this.#bytesPerMs);
    this.#messages -= 1;
    this.#bytes -= size;
    return this.#messages >= 0 && this.#bytes >= 0;
  }
}
