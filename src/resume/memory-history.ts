/**
 * The in-memory {@link HistoryLog}: one ring buffer per stream, bounded by count (`size`) and age
 * (`ttl`). Appends are O(1); expiry is lazy (on append, read and sweep()), O(1) amortized since every
 * entry expires once. Memory per stream: two arrays of `size` slots (a body reference and a
 * Float64 time, about 12-16 bytes a slot) plus about 200 bytes of bookkeeping, plus the bodies
 * themselves (and a map entry per message that had an `except` list); a stream whose entries all expired releases its arrays and keeps only its counters.
 */
import { randomBytes } from "node:crypto";
import type { HistoryEntry, HistoryLog, HistoryWindow, StreamName, StreamPosition } from "./history-log.js";

/**
 * Options of {@link MemoryHistory}.
 * @example
 * new MemoryHistory({ size: 100, ttl: 300_000, now: () => fakeNow });
 */
export interface MemoryHistoryOptions {
  /** Entries kept per stream (the newest). */
  size: number;
  /** How long an entry stays, in ms. */
  ttl: number;
  /** The clock, in ms; `Date.now` unless a test drives time itself. */
  now?: () => number;
}

/** One stream: counters that outlive its entries, and the ring once something is kept. */
class Ring {
  readonly epoch = newEpoch();
  top = 0;
  first = 1;
  trimmedThrough = 0;
  expiredThrough = 0;
  bodies: (string | undefined)[] | undefined;
  times: Float64Array | undefined;
  /** The `except` lists of the kept entries that have one, by seq (most have none: no slot per entry). */
  excepts: Map<number, readonly string[]> | undefined;
}

/**
 * Per-stream history in this process's memory: what a single node uses.
 * @example
 * const log = new MemoryHistory({ size: 100, ttl: 300_000 });
 * const { seq, epoch } = log.append("room:lobby", pushBody("message", { text: "hi" }));
 * log.read("room:lobby", { seq: seq - 1, epoch }, 100).entries; // [{ seq, body }]
 */
export class MemoryHistory implements HistoryLog {
  readonly #size: number;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #streams = new Map<StreamName, Ring>();

  constructor(options: MemoryHistoryOptions) {
    this.#size = options.size;
    this.#ttl = options.ttl;
    this.#now = options.now ?? Date.now;
  }

  /** Streams currently known (with or without entries). */
  get streams(): number {
    return this.#streams.size;
  }

  append(stream: StreamName, body: string, except?: readonly string[]): StreamPosition {
    const ring = this.#ring(stream);
    const now = this.#now();
    this.#expire(ring, now);
    const size = this.#size;
    if (ring.bodies === undefined || ring.times === undefined) {
      ring.bodies = new Array<string | undefined>(size);
      ring.times = new Float64Array(size);
    }
    const seq = ++ring.top;
    if (seq - ring.first >= size) {
      // Full: the oldest entry gives way (its slot is the one the new entry takes).
      ring.trimmedThrough = ring.first;
      ring.excepts?.delete(ring.first);
      ring.first++;
    }
    ring.bodies[seq % size] = body;
    ring.times[seq % size] = now;
    if (except !== undefined && except.length > 0) (ring.excepts ??= new Map()).set(seq, except);
    return { seq, epoch: ring.epoch };
  }

  read(stream: StreamName, after: StreamPosition | undefined, limit: number): HistoryWindow {
    const ring = this.#ring(stream);
    this.#expire(ring, this.#now());
    // A seq past the top is an older numbering's (see HistoryLog.read): everything kept is news.
    const from = after !== undefined && after.epoch === ring.epoch && after.seq <= ring.top ? after.seq + 1 : 1;
    const start = Math.max(from, ring.first, ring.top - limit + 1);
    const entries: HistoryEntry[] = [];
    const bodies = ring.bodies;
    const excepts = ring.excepts;
    if (bodies !== undefined) {
      for (let seq = start; seq <= ring.top; seq++) {
        const except = excepts?.get(seq);
        const body = bodies[seq % this.#size] as string;
        entries.push(except === undefined ? { seq, body } : { seq, body, except });
      }
    }
    return {
      epoch: ring.epoch,
      top: ring.top,
      first: ring.first,
      trimmedThrough: ring.trimmedThrough,
      expiredThrough: ring.expiredThrough,
      entries,
    };
  }

  position(stream: StreamName): StreamPosition {
    const ring = this.#ring(stream);
    return { seq: ring.top, epoch: ring.epoch };
  }

  drop(stream: StreamName): void {
    this.#streams.delete(stream);
  }

  /**
   * Expires old entries of every stream now, so idle streams release their memory too; a server
   * calls it on an unref'd timer (every `ttl / 4`, say). O(streams + expired entries).
   */
  sweep(): void {
    const now = this.#now();
    for (const ring of this.#streams.values()) this.#expire(ring, now);
  }

  /** Forgets everything, as a restart would: every stream starts a new epoch. */
  clear(): void {
    this.#streams.clear();
  }

  #ring(stream: StreamName): Ring {
    let ring = this.#streams.get(stream);
    if (ring === undefined) this.#streams.set(stream, (ring = new Ring()));
    return ring;
  }

  #expire(ring: Ring, now: number): void {
    const { bodies, times } = ring;
    if (bodies === undefined || times === undefined) return;
    const oldest = now - this.#ttl;
    const size = this.#size;
    while (ring.first <= ring.top && times[ring.first % size]! <= oldest) {
      bodies[ring.first % size] = undefined;
      ring.excepts?.delete(ring.first);
      ring.expiredThrough = ring.first;
      ring.first++;
    }
    if (ring.first > ring.top) {
      // Nothing kept: release the arrays; the counters (top, epoch) stay so numbering continues.
      ring.bodies = undefined;
      ring.times = undefined;
      ring.excepts = undefined;
    }
  }
}

/** 48 random bits, base64url: unique per stream incarnation in practice, and short on the wire. */
function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}
