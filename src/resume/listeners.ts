import type { Logger } from "../logger.js";

/**
 * The listeners of one store event (an expiry, a moved session, a reply, a resync), run in turn.
 * One that throws is reported and the others still run: one faulty hook must not hide an event
 * from the rest.
 * @example
 * const expired = new Listeners<[SessionRecord]>(logger, "an onExpire listener threw");
 * expired.add((record) => hooks.run(record)); expired.run({ sid: record.sid }, record);
 */
export class Listeners<A extends unknown[]> {
  readonly #list: ((...args: A) => void)[] = [];
  readonly #logger: Logger;
  readonly #threw: string;

  /** @param threw the log line for a listener that threw (with `err` and the context of {@link run}) */
  constructor(logger: Logger, threw: string) {
    this.#logger = logger;
    this.#threw = threw;
  }

  add(listener: (...args: A) => void): void {
    this.#list.push(listener);
  }

  /** Runs every listener with `args`; `context` goes into the log line of one that throws. */
  run(context: Record<string, unknown>, ...args: A): void {
    for (const listener of this.#list) {
      try {
        listener(...args);
      } catch (error) {
        this.#logger.error({ ...context, err: error }, this.#threw);
      }
    }
  }
}
