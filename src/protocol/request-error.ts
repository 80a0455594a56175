/**
 * `RequestError`: how a failed request rejects, on the server (`socket.request`) and in the client
 * alike. Isomorphic: no Node imports.
 */
import type { Issue } from "./error-codes.js";

/**
 * A request that failed: the peer answered an error (`[3, id, code, data?, message?]`), or the
 * requester gave up (`TIMEOUT`, `DISCONNECTED`). `code` is a built-in code or one the request
 * declares; `data` is the error's data (for `INVALID_PAYLOAD`, `{ issues }`).
 * @example
 * try { await socket.request("confirm", { question: "leave?" }, { timeoutMs: 5000 }); }
 * catch (error) { if (error instanceof RequestError && error.code === "TIMEOUT") assumeNo(); }
 */
export class RequestError<Code extends string = string, Data = unknown> extends Error {
  /** The error code, e.g. `"TIMEOUT"`, `"INVALID_PAYLOAD"` or a declared code such as `"RATE_LIMITED"`. */
  readonly code: Code;
  /** The error's data; undefined when it carries none. */
  readonly data: Data;

  constructor(code: Code, data?: Data, message?: string) {
    super(message ?? defaultMessage(code, data));
    this.name = "RequestError";
    this.code = code;
    this.data = data as Data;
  }
}

function defaultMessage(code: string, data: unknown): string {
  const issues = (data as { issues?: readonly Issue[] } | undefined)?.issues;
  if (code === "INVALID_PAYLOAD" && Array.isArray(issues) && issues.length > 0) {
    const first = issues[0] as Issue;
    return `request failed: INVALID_PAYLOAD (${first.path.length > 0 ? `${first.path.join(".")}: ` : ""}${first.message})`;
  }
  return `request failed: ${code}`;
}
