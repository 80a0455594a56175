/**
 * The error a failed request rejects with, on the client, the test client and the server alike:
 * the code of a `[3, id, code, data?, message?]` frame, or a code the requester produced itself
 * (`TIMEOUT`, `DISCONNECTED`). It lives in the protocol layer so every side shares one class.
 */

/**
 * A failed request: `code` is a built-in code (`INVALID_PAYLOAD`, `UNKNOWN_EVENT`, `TIMEOUT`,
 * `DISCONNECTED`, `INTERNAL`, `INVALID_FRAME`) or one the contract declares for the request;
 * `data` is the error's data (for `INVALID_PAYLOAD`, `{ issues }`), `undefined` when there is none.
 * The message is the peer's message when it sent one, else the code.
 * @example
 * try { await client.request("send", { text }); }
 * catch (e) { if (e instanceof RequestError && e.code === "RATE_LIMITED") retryIn(e.data.retryAfterMs); }
 */
export class RequestError<Code extends string = string, Data = unknown> extends Error {
  /** The error code, e.g. "TIMEOUT" or a declared application code. */
  readonly code: Code;
  /** The error's data, as the peer sent it; `undefined` when there is none. */
  readonly data: Data;

  constructor(code: Code, data?: Data, message?: string) {
    super(message ?? code);
    this.name = "RequestError";
    this.code = code;
    this.data = data as Data;
  }
}
