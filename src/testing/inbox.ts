/**
 * What a test client has received and not read yet: events by name and raw messages, each in
 * arrival order from the moment of connection, plus the waits on them (`next`, `receive`,
 * `nothing`, `closed`). Timers are the global `setTimeout`, so node:test's mock timers drive them.
 */
import type { CloseInfo } from "../client/index.js";

/** A message that is not a tsws.v1 frame: text as a string, binary as a Buffer. */
export type RawMessage = string | Buffer;

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly what: string;
  readonly timer: ReturnType<typeof setTimeout>;
}

// Raw messages are queued under a key no event name can take (event keys start with ":").
const RAW = "raw";
const eventKey = (name: string) => `:${name}`;

/**
 * The received and unread items of one test client, and the promises waiting for them.
 * @example
 * const inbox = new Inbox();
 * inbox.event("message", { text: "hi" });
 * await inbox.next("message", 2000); // { text: "hi" }
 */
export class Inbox {
  readonly #unread = new Map<string, unknown[]>();
  readonly #waiting = new Map<string, Waiter[]>();
  /** `nothing()` calls in progress, told of every arrival. */
  readonly #watchers = new Set<(what: string) => void>();
  readonly #closed: Promise<CloseInfo>;
  #close: CloseInfo | undefined;
  #onClose!: (close: CloseInfo) => void;

  constructor() {
    this.#closed = new Promise((resolve) => (this.#onClose = resolve));
  }

  /** A server event (or a replayed push) arrived. */
  event(name: string, data: unknown): void {
    this.#arrive(eventKey(name), data, `event "${name}"`);
  }

  /** A message that is no tsws.v1 frame arrived (every message, on a raw namespace). */
  raw(message: RawMessage): void {
    this.#arrive(RAW, message, `a raw message (${describeRaw(message)})`);
  }

  /** A server → client request arrived (the client answers it; `nothing()` still hears of it). */
  request(name: string): void {
    for (const watch of this.#watchers) watch(`request "${name}"`);
  }

  /** The connection closed: waits that can no longer be met reject now. */
  end(close: CloseInfo): void {
    if (this.#close !== undefined) return;
    this.#close = close;
    this.#onClose(close);
    for (const [key, waiters] of this.#waiting) {
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`${w.what}: the connection closed (${close.code}${close.reason ? ` ${close.reason}` : ""}) first`));
      }
      this.#waiting.delete(key);
    }
  }

  /** The oldest unread event `name`, waiting up to `timeoutMs` for one. */
  next(name: string, timeoutMs: number): Promise<unknown> {
    return this.#take(eventKey(name), `next("${name}")`, `a "${name}" event`, timeoutMs);
  }

  /** The oldest unread raw message, waiting up to `timeoutMs` for one. */
  receive(timeoutMs: number): Promise<RawMessage> {
    return this.#take(RAW, "receive()", "a raw message", timeoutMs) as Promise<RawMessage>;
  }

  /** Resolves after `ms` unless an event, request or raw message arrives first (then rejects, naming it). */
  nothing(ms: number): Promise<void> {
    checkMs("nothing", ms);
    return new Promise((resolve, reject) => {
      const watch = (what: string) => {
        clearTimeout(timer);
        this.#watchers.delete(watch);
        reject(new Error(`nothing(${ms}): ${what} arrived`));
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watch);
        resolve();
      }, ms);
      this.#watchers.add(watch);
    });
  }

  /** Resolves with the close code and reason once the connection has closed. */
  closed(): Promise<CloseInfo> {
    return this.#closed;
  }

  #arrive(key: string, value: unknown, what: string): void {
    for (const watch of this.#watchers) watch(what);
    const waiter = this.#waiting.get(key)?.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve(value);
      return;
    }
    let queue = this.#unread.get(key);
    if (queue === undefined) this.#unread.set(key, (queue = []));
    queue.push(value);
  }

  #take(key: string, call: string, wanted: string, timeoutMs: number): Promise<unknown> {
    checkMs(call, timeoutMs);
    const queue = this.#unread.get(key);
    if (queue !== undefined && queue.length > 0) return Promise.resolve(queue.shift());
    const close = this.#close;
    if (close !== undefined) return Promise.reject(new Error(`${call}: the connection closed (${close.code}) before ${wanted} arrived`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const waiters = this.#waiting.get(key) ?? [];
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`${call}: no ${wanted} within ${timeoutMs} ms${this.#unreadSummary()}`));
      }, timeoutMs);
      const waiter: Waiter = { resolve, reject, what: call, timer };
      let waiters = this.#waiting.get(key);
      if (waiters === undefined) this.#waiting.set(key, (waiters = []));
      waiters.push(waiter);
    });
  }

  /** What did arrive instead, for the timeout message: `; unread: "message" ×2, raw ×1`. */
  #unreadSummary(): string {
    const parts: string[] = [];
    for (const [key, queue] of this.#unread) {
      if (queue.length > 0) parts.push(`${key === RAW ? "raw" : `"${key.slice(1)}"`} ×${queue.length}`);
    }
    return parts.length === 0 ? " (nothing unread)" : `; unread: ${parts.join(", ")}`;
  }
}

function describeRaw(message: RawMessage): string {
  if (typeof message !== "string") return `${message.length} bytes`;
  return message.length > 40 ? `${JSON.stringify(message.slice(0, 40))}…` : JSON.stringify(message);
}

function checkMs(call: string, ms: number): void {
  if (typeof ms !== "number" || !(ms >= 0) || !Number.isFinite(ms)) {
    throw new TypeError(`${call}: the time must be a finite number of milliseconds ≥ 0, got ${ms}`);
  }
}
