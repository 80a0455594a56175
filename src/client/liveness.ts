/**
 * The client's liveness check. Browsers answer protocol pings without telling the page, so the page
 * can only judge a link by the frames it receives: the server sends `[9,"ping"]` on idle sockets and
 * the client expects some frame within `idleMs + graceMs`. One timer per link, re-armed lazily: a
 * frame only records the time, and the timer, when it fires early, sleeps again for what is left,
 * so a busy socket costs nothing and no interval ever runs (Chrome throttles chained timers in
 * hidden tabs to one per minute).
 *
 * A page that was frozen or throttled may wake with frames still queued behind the timer, so an
 * expired deadline seen by a late timer or a wake-up event is not trusted at once: the link gets
 * `graceMs` more, once, and any frame in that time clears the doubt.
 */

/** A timer that fired this much later than asked was held back: the page was throttled or frozen. */
const LATE_MS = 1000;

/**
 * Watches one link at a time; calls `onDead` when it delivered nothing for `idleMs + graceMs`.
 * @example
 * const live = new Liveness(25_000, 10_000, () => ws.close());
 * ws.onmessage = () => live.touch();
 */
export class Liveness {
  readonly #idleMs: number;
  readonly #graceMs: number;
  readonly #onDead: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;
  #due = 0;
  #granted = false;

  constructor(idleMs: number, graceMs: number, onDead: () => void) {
    this.#idleMs = idleMs;
    this.#graceMs = graceMs;
    this.#onDead = onDead;
  }

  /** A frame arrived (or the link opened): the deadline moves to now + idleMs + graceMs. */
  touch(): void {
    this.#last = performance.now();
    this.#granted = false;
    if (this.#timer === undefined) this.#arm(this.#idleMs + this.#graceMs);
  }

  /** The page woke up (visible again, shown from the back/forward cache, back online): judge now. */
  wake(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#check(true);
  }

  /** Stops watching (the link closed). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#due = performance.now() + ms;
    this.#timer = setTimeout(() => this.#check(false), ms);
  }

  #check(woke: boolean): void {
    this.#timer = undefined;
    const now = performance.now();
    const left = this.#last + this.#idleMs + this.#graceMs - now;
    if (left > 0) this.#arm(left);
    else if ((woke || now - this.#due > LATE_MS) && !this.#granted) {
      this.#granted = true;
      this.#last = now - this.#idleMs;
      this.#arm(this.#graceMs);
    } else this.#onDead();
  }
}
