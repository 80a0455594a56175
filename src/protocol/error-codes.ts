/**
 * The error codes every tsws.v1 peer knows, and the shape of an `INVALID_PAYLOAD` issue.
 * Application codes are declared per request in the contract and travel in the same place.
 */

/**
 * Built-in error codes of `[3, id, code, data?, message?]` frames.
 * - `INVALID_PAYLOAD`: the request's data failed its schema; `data` is `{ issues: Issue[] }`.
 * - `UNKNOWN_EVENT`: no request of that name in the receiver's direction of the contract.
 * - `TIMEOUT`: no reply within the timeout (10 s by default); produced locally by the requester.
 * - `DISCONNECTED`: the connection closed before the reply; produced locally by the requester.
 * - `INTERNAL`: the handler failed unexpectedly; its message is not sent to the peer.
 * - `INVALID_FRAME`: the frame itself was malformed (not a tsws.v1 frame); `id` is null when the
 *   frame had no usable id.
 * - `DROPPED`: a mixin of the receiver declined the request (it returned `DROP`); the connection
 *   stays open.
 * @example
 * if (error.code === ErrorCode.INVALID_PAYLOAD) showIssues(error.data.issues);
 */
export const ErrorCode = {
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  UNKNOWN_EVENT: "UNKNOWN_EVENT",
  TIMEOUT: "TIMEOUT",
  DISCONNECTED: "DISCONNECTED",
  INTERNAL: "INTERNAL",
  INVALID_FRAME: "INVALID_FRAME",
  DROPPED: "DROPPED",
} as const;

/**
 * One of the built-in codes in {@link ErrorCode}.
 * @example
 * const code: BuiltInErrorCode = "TIMEOUT";
 */
export type BuiltInErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * True for a built-in code; application codes may not reuse these names.
 * @example
 * isBuiltInErrorCode("TIMEOUT"); // true
 * isBuiltInErrorCode("RATE_LIMITED"); // false
 */
export function isBuiltInErrorCode(code: string): code is BuiltInErrorCode {
  return Object.hasOwn(ErrorCode, code);
}

/**
 * One validation issue as it travels in `INVALID_PAYLOAD`: the schema's message and the path to the
 * offending value as an array of object keys (strings) and array indexes (numbers); `[]` is the root.
 * @example
 * const issue: Issue = { message: "Too small: expected string to have >=1 characters", path: ["text"] };
 */
export interface Issue {
  readonly message: string;
  readonly path: readonly (string | number)[];
}
