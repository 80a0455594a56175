/**
 * The in-memory {@link SessionStore}: sessions of one node, each with one unref'd timer while
 * detached. A node restart loses them all (its clients then get gap "expired"); use the Redis
 * store for sessions that outlive a node. It keeps each token's secret, not its digest (see
 * session-token.ts: nothing outside the process can read this table).
 */
import { consoleLogger, type Logger } from "../logger.js";
import type { SessionRecord, SessionStore, TakeResult } from "./session-store.js";
import { issueSecret, sameSecret, splitToken } from "./session-token.js";

interface Held {
  record: SessionRecord;
  secret: string;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Sessions in this process's memory.
 * @example
 * const store = new MemorySessions({ ttl: 120_000 });
 * store.onExpire((record) => announceLeave(record.sid));
 * const token = store.open(record);
 */
export class MemorySessions implements SessionStore {
  readonly #ttl: number;
  readonly #logger: Logger;
  readonly #held = new Map<string, Held>();
  readonly #listeners: ((record: SessionRecord) => void)[] = [];
  #closed = false;

  /**
   * @param options.ttl how long a detached session waits for a resume, in ms
   * @param options.logger where a throwing `onExpire` listener is reported (default: stderr)
   */
  constructor(options: { ttl: number; logger?: Logger }) {
    this.#ttl = options.ttl;
    this.#logger = options.logger ?? consoleLogger;
  }

  /** Sessions held (attached or detached). */
  get size(): number {
    return this.#held.size;
  }

  open(record: SessionRecord): string {
    const old = this.#held.get(record.sid);
    if (old?.timer !== undefined) clearTimeout(old.timer);
    const { token, secret } = issueSecret(record.sid);
    this.#held.set(record.sid, { record, secret, timer: undefined });
    return token;
  }

  update(record: SessionRecord): boolean {
    const held = this.#held.get(record.sid);
    if (held === undefined || record.generation < held.record.generation) return false;
    held.record = record;
    return true;
  }

  detach(sid: string, generation: number): void {
    const held = this.#held.get(sid);
    if (held === undefined || generation < held.record.generation || this.#closed) return;
    if (held.timer !== undefined) clearTimeout(held.timer);
    held.timer = setTimeout(() => this.#expire(sid, held), this.#ttl);
    held.timer.unref();
  }

  take(token: string, owner: string): TakeResult {
    const parsed = splitToken(token);
    const held = parsed === undefined ? undefined : this.#held.get(parsed.sid);
    if (parsed === undefined || held === undefined || !sameSecret(parsed.secret, held.secret)) return { ok: false, reason: "unknown" };
    if (held.record.owner !== owner) return { ok: false, reason: "owner" };
    if (held.timer !== undefined) clearTimeout(held.timer);
    held.timer = undefined;
    const next = issueSecret(held.record.sid);
    held.secret = next.secret;
    held.record = { ...held.record, generation: held.record.generation + 1 };
    return { ok: true, record: held.record, token: next.token };
  }

  holds(sid: string): boolean {
    return this.#held.has(sid);
  }

  end(sid: string): SessionRecord | undefined {
    const held = this.#held.get(sid);
    if (held === undefined) return undefined;
    if (held.timer !== undefined) clearTimeout(held.timer);
    this.#held.delete(sid);
    return held.record;
  }

  onExpire(listener: (record: SessionRecord) => void): void {
    this.#listeners.push(listener);
  }

  close(): void {
    this.#closed = true;
    for (const held of this.#held.values()) if (held.timer !== undefined) clearTimeout(held.timer);
    this.#held.clear();
  }

  #expire(sid: string, held: Held): void {
    // The session may have been taken and detached again since this timer was armed: only the
    // current entry with this very timer expires.
    if (this.#held.get(sid) !== held) return;
    this.#held.delete(sid);
    for (const listener of this.#listeners) {
      try {
        listener(held.record);
      } catch (error) {
        // Reported, and the other listeners still run: one faulty hook must not hide an expiry from the rest.
        this.#logger.error({ err: error, sid }, "an onExpire listener threw");
      }
    }
  }
}
