/**
 * The in-memory {@link SessionStore}: sessions of one node. A node restart loses them all (its
 * clients then get gap "expired"); use the Redis store for sessions that outlive a node. It keeps
 * each token's secret, not its digest (see session-token.ts: nothing outside the process can read
 * this table).
 *
 * Cheap per handshake by design, since every fresh resumable connection opens a session here:
 * - While attached, a session's record is read from its socket when needed (a take of a
 *   half-open connection), so the session writes nothing here between its open and its close.
 * - Every session waits the same `ttl` after its close, so deadlines come in the order of the
 *   closes: one queue and one timer for the whole store, not a timer per detached session.
 * - A detached session's record is kept packed in one array (packed-record.ts): fewer objects
 *   for the collector to copy and trace, for every session closed in the last `ttl`.
 */
import { consoleLogger, type Logger } from "../logger.js";
import { Listeners } from "./listeners.js";
import { type PackedRecord, packedGeneration, packedSid, packRecord, unpackRecord } from "./packed-record.js";
import type { RecordSource, SessionRecord, SessionStore, TakeResult } from "./session-store.js";
import { issueSecret, sameSecret, splitToken } from "./session-token.js";

interface Held {
  /** The last record given (open, update, take); packed while the session is detached. */
  record: SessionRecord | PackedRecord;
  secret: string;
  /** The secret of the token that took the session last, until the client showed it holds the next (see `SessionStore.take`). */
  previous: string | undefined;
  /** The open socket's session, while attached and it was given: the current record comes from it. */
  source: RecordSource | undefined;
  /** When the detached session expires (ms on the monotonic clock, `performance.now()`); 0 while attached. */
  expires: number;
}

/**
 * Sessions in this process's memory.
 * @example
 * const store = new MemorySessions({ ttl: 120_000 });
 * store.onExpire((record) => announceLeave(record.sid));
 * const token = store.open(record);
 */
export class MemorySessions implements SessionStore {
  readonly readsLive = true;
  readonly #ttl: number;
  readonly #logger: Logger;
  readonly #held = new Map<string, Held>();
  readonly #expired: Listeners<[SessionRecord]>;
  /**
   * Detached sessions in the order of their deadlines (`#due[i]` for `#waiting[i]`), from `#next`
   * on. An entry whose session was taken, ended or detached again since is stale: its held entry
   * has another deadline, or is no longer in `#held`, and it is skipped.
   */
  #waiting: Held[] = [];
  #due: number[] = [];
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param options.ttl how long a detached session waits for a resume, in ms
   * @param options.logger where a throwing `onExpire` listener is reported (default: stderr)
   */
  constructor(options: { ttl: number; logger?: Logger }) {
    this.#ttl = options.ttl;
    this.#logger = options.logger ?? consoleLogger;
    this.#expired = new Listeners(this.#logger, "an onExpire listener threw");
  }

  /** Sessions held (attached or detached). */
  get size(): number {
    return this.#held.size;
  }

  open(record: SessionRecord, source?: RecordSource): string {
    const { token, secret } = issueSecret(record.sid);
    // A sid opened again replaces its entry: a deadline queued for the old one is then stale.
    this.#held.set(record.sid, { record, secret, previous: undefined, source, expires: 0 });
    return token;
  }

  update(record: SessionRecord): boolean {
    const held = this.#held.get(record.sid);
    if (held === undefined || record.generation < generationOf(held)) return false;
    // A write after the close (a reply that settled late) keeps the session packed.
    held.record = held.expires === 0 ? record : packRecord(record);
    return true;
  }

  detach(sid: string, generation: number): void {
    const held = this.#held.get(sid);
    if (held === undefined || generation < generationOf(held) || this.#closed) return;
    held.source = undefined; // the close's update wrote the last record
    if (!isPacked(held.record)) held.record = packRecord(held.record);
    held.expires = performance.now() + this.#ttl;
    this.#waiting.push(held);
    this.#due.push(held.expires);
    if (this.#timer === undefined) this.#arm(this.#ttl);
  }

  take(token: string, owner: string): TakeResult {
    const parsed = splitToken(token);
    const held = parsed === undefined ? undefined : this.#held.get(parsed.sid);
    if (parsed === undefined || held === undefined) return { ok: false, reason: "unknown" };
    const previous = held.previous;
    if (!sameSecret(parsed.secret, held.secret) && (previous === undefined || !sameSecret(parsed.secret, previous))) {
      return { ok: false, reason: "unknown" };
    }
    const current = held.source?.record() ?? recordOf(held);
    if (current.owner !== owner) return { ok: false, reason: "owner" };
    held.expires = 0;
    held.source = undefined; // the socket that held it is superseded: the new one gives its own
    const next = issueSecret(current.sid);
    held.secret = next.secret;
    held.previous = parsed.secret; // good until the client shows it holds the next
    held.record = { ...current, generation: current.generation + 1 };
    return { ok: true, record: held.record, token: next.token };
  }

  /**
   * The socket of `sid`'s current generation gives the store its record from now on (after a take:
   * the resumed socket, once it is made).
   */
  readFrom(sid: string, generation: number, source: RecordSource): void {
    const held = this.#held.get(sid);
    if (held !== undefined && generationOf(held) === generation && held.expires === 0) held.source = source;
  }

  retire(sid: string, generation: number): void {
    const held = this.#held.get(sid);
    if (held !== undefined && generationOf(held) === generation) held.previous = undefined;
  }

  holds(sid: string): boolean {
    return this.#held.has(sid);
  }

  end(sid: string, generation?: number): boolean {
    const held = this.#held.get(sid);
    if (held === undefined || (generation !== undefined && generationOf(held) !== generation)) return false;
    return this.#held.delete(sid);
  }

  onExpire(listener: (record: SessionRecord) => void): void {
    this.#expired.add(listener);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#held.clear();
    this.#waiting = [];
    this.#due = [];
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#expireDue(), delay);
    this.#timer.unref();
  }

  /** The timer of the first deadline fired: expires every session due by then, and arms the next. */
  #expireDue(): void {
    this.#timer = undefined;
    const fired = this.#due[this.#next] as number;
    // The timer fired for `fired`: that much time has passed, even under mock timers that leave the
    // clock alone. A monotonic clock: a step of the wall clock (NTP) expires nothing early.
    const now = Math.max(fired, performance.now());
    while (this.#next < this.#due.length && (this.#due[this.#next] as number) <= now) {
      const held = this.#waiting[this.#next] as Held;
      const due = this.#due[this.#next] as number;
      this.#next++;
      if (held.expires === due && this.#held.get(sidOf(held)) === held) this.#expire(held);
    }
    if (this.#next >= this.#due.length) {
      this.#waiting = [];
      this.#due = [];
      this.#next = 0;
      return;
    }
    if (this.#next > 1024) {
      // Done entries are dropped in blocks, not one shift per expiry.
      this.#waiting = this.#waiting.slice(this.#next);
      this.#due = this.#due.slice(this.#next);
      this.#next = 0;
    }
    this.#arm(Math.max(0, (this.#due[this.#next] as number) - now));
  }

  #expire(held: Held): void {
    const record = recordOf(held);
    this.#held.delete(record.sid);
    this.#expired.run({ sid: record.sid }, record);
  }
}

function isPacked(record: SessionRecord | PackedRecord): record is PackedRecord {
  return Array.isArray(record);
}

function recordOf(held: Held): SessionRecord {
  return isPacked(held.record) ? unpackRecord(held.record) : held.record;
}

function generationOf(held: Held): number {
  return isPacked(held.record) ? packedGeneration(held.record) : held.record.generation;
}

function sidOf(held: Held): string {
  return isPacked(held.record) ? packedSid(held.record) : held.record.sid;
}
