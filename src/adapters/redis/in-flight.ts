/**
 * What the adapter has sent to Redis and not had answered yet, kept within a count and a byte
 * bound. While Redis is frozen (a stopped process, a stalled network) nothing is answered and
 * every command sent waits in ioredis and the socket's buffers: this bound is what keeps that
 * memory finite. Redis answers a connection's commands in order, so counting is enough.
 * @example
 * const ticket = inFlight.admit(bytes.length, true); if (ticket === undefined) overflowed++;
 */
export class InFlight {
  readonly #maxCommands: number;
  readonly #maxBytes: number;
  #commands = 0;
  #bytes = 0;
  #publishes = 0;
  /** Bumped by reset(), so the answers to commands sent on a closed connection are not counted twice. */
  #generation = 0;

  constructor(maxCommands: number, maxBytes: number) {
    this.#maxCommands = maxCommands;
    this.#maxBytes = maxBytes;
  }

  /** Commands in flight. */
  get commands(): number {
    return this.#commands;
  }

  /** Bytes of published operations in flight. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Reserves room for one command carrying `bytes`; undefined when that would pass a bound. */
  admit(bytes: number, publish: boolean): number | undefined {
    if (this.#commands >= this.#maxCommands || this.#bytes + bytes > this.#maxBytes) return undefined;
    this.#commands++;
    this.#bytes += bytes;
    if (publish) this.#publishes++;
    return this.#generation;
  }

  /** Frees what admit() reserved once Redis answered; false when reset() already did. */
  release(ticket: number, bytes: number, publish: boolean): boolean {
    if (ticket !== this.#generation) return false;
    this.#commands--;
    this.#bytes -= bytes;
    if (publish) this.#publishes--;
    return true;
  }

  /** The connection closed: nothing in flight will be answered. Returns how many publishes were lost. */
  reset(): number {
    const lost = this.#publishes;
    this.#generation++;
    this.#commands = this.#bytes = this.#publishes = 0;
    return lost;
  }
}
