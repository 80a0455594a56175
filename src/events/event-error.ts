/**
 * `EventError`: what a request handler (or an `onEvent` mixin) throws to answer one request with
 * an error while the socket stays open.
 */

/**
 * Answers the request being handled with `[3, id, code, data?]`. `code` must be declared in the
 * request's `errors` (its `data` is checked against the declared schema); anything else, like any
 * other thrown error, is logged and answered `INTERNAL`. Thrown while handling an event (no
 * reply), it is logged and the event ends there.
 * @example
 * async send(socket, { text }) {
 *   if (tooFast(socket)) throw new EventError("RATE_LIMITED", { retryAfterMs: 500 });
 *   return { id: await save(text) };
 * }
 */
export class EventError<Code extends string = string, Data = unknown> extends Error {
  /** The error code sent to the requester, e.g. `"RATE_LIMITED"`. */
  readonly code: Code;
  /** The error's data, sent with it; undefined for none. */
  readonly data: Data;

  constructor(code: Code, data?: Data) {
    super(`request answered with ${code}`);
    this.name = "EventError";
    this.code = code;
    this.data = data as Data;
  }
}
