/**
 * Checks an already JSON-parsed value against the tsws.v1 frame shapes. It never throws and never
 * copies: a good value comes back typed as a {@link Frame}, a bad one as a message saying what is
 * wrong plus the request id when one was usable, so the receiver can answer `[3, id, "INVALID_FRAME"]`.
 * Which frames a side accepts (a server ignores pushes from a client) is the receiver's rule.
 */
import { type Frame, FrameKind, type RequestId } from "./frames.js";
import { MAX_FRAME_DEPTH, withinDepth } from "./limits.js";

/**
 * The outcome of {@link parseFrame}: the typed frame, or why it is not one and the id to answer.
 * @example
 * const r = parseFrame(value);
 * if (!r.ok) socket.send(encodeError(r.id, "INVALID_FRAME", undefined, r.message));
 */
export type ParseResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly id: RequestId | null; readonly message: string };

/**
 * Options of {@link parseFrame}.
 * @example
 * parseFrame(value, { maxDepth: 16 });
 */
export interface ParseOptions {
  /** Maximum nesting depth, the frame array counting 1 (default {@link MAX_FRAME_DEPTH}, 32). */
  readonly maxDepth?: number;
}

/**
 * True for a valid request id: a positive safe integer.
 * @example
 * isRequestId(1); // true
 * isRequestId(0); // false
 * isRequestId(2 ** 53); // false
 */
export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Types a decoded value as a tsws.v1 frame, or says what is wrong with it (wrong shape, bad id,
 * non-string event name, too deep...). Extra trailing elements are an error.
 * @example
 * parseFrame([1, 7, "send", { text: "hi" }]); // { ok: true, frame: [1, 7, "send", { text: "hi" }] }
 * parseFrame([1, 7, 42]); // { ok: false, id: 7, message: "request: the event name must be a string" }
 * parseFrame({ a: 1 }); // { ok: false, id: null, message: "a frame must be a JSON array" }
 */
export function parseFrame(value: unknown, options?: ParseOptions): ParseResult {
  if (!Array.isArray(value)) return fail(null, "a frame must be a JSON array");
  const error = shapeError(value);
  const id = value[0] === FrameKind.REQUEST && isRequestId(value[1]) ? value[1] : null;
  if (error !== undefined) return fail(id, error);
  const maxDepth = options?.maxDepth ?? MAX_FRAME_DEPTH;
  if (!withinDepth(value, maxDepth)) return fail(id, `a frame may nest at most ${maxDepth} levels deep`);
  return { ok: true, frame: value as unknown as Frame };
}

/** What is wrong with a request's meta element, if anything (unknown keys are allowed and ignored). */
function metaError(meta: unknown): string | undefined {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return "request: meta must be a JSON object";
  const { traceparent, tracestate } = meta as Record<string, unknown>;
  if (traceparent !== undefined && typeof traceparent !== "string") return "request: meta.traceparent must be a string";
  if (tracestate !== undefined && typeof tracestate !== "string") return "request: meta.tracestate must be a string";
  return undefined;
}

/** What is wrong with a push's meta element, if anything (unknown keys are allowed and ignored). */
function pushMetaError(meta: unknown): string | undefined {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return "push: meta must be a JSON object";
  const { id } = meta as Record<string, unknown>;
  return id !== undefined && typeof id !== "string" ? "push: meta.id must be a string" : undefined;
}

function fail(id: RequestId | null, message: string): ParseResult {
  return { ok: false, id, message };
}

/** The first problem with the array's shape, or undefined when it is a well-formed frame. */
function shapeError(a: unknown[]): string | undefined {
  switch (a[0]) {
    case FrameKind.EVENT:
      if (a.length < 2 || a.length > 3) return "event: expected [0, event, data?]";
      if (typeof a[1] !== "string") return "event: the event name must be a string";
      return undefined;
    case FrameKind.REQUEST:
      if (a.length < 3 || a.length > 5) return "request: expected [1, id, event, data?, meta?]";
      if (!isRequestId(a[1])) return "request: the id must be a positive safe integer";
      if (typeof a[2] !== "string") return "request: the event name must be a string";
      return a.length === 5 ? metaError(a[4]) : undefined;
    case FrameKind.REPLY:
      if (a.length < 2 || a.length > 3) return "reply: expected [2, id, data?]";
      if (!isRequestId(a[1])) return "reply: the id must be a positive safe integer";
      return undefined;
    case FrameKind.ERROR:
      if (a.length < 3 || a.length > 5) return "error: expected [3, id, code, data?, message?]";
      if (a[1] !== null && !isRequestId(a[1])) return "error: the id must be a positive safe integer or null";
      if (typeof a[2] !== "string" || a[2] === "") return "error: the code must be a non-empty string";
      if (a.length === 5 && typeof a[4] !== "string") return "error: the message must be a string";
      return undefined;
    case FrameKind.PUSH:
      if (a.length < 4 || a.length > 6) return "push: expected [4, stream, seq, event, data?, meta?]";
      if (typeof a[1] !== "string") return "push: the stream must be a string";
      if (typeof a[2] !== "number" || !Number.isSafeInteger(a[2]) || a[2] < 0) return "push: seq must be a non-negative safe integer";
      if (typeof a[3] !== "string") return "push: the event name must be a string";
      return a.length === 6 ? pushMetaError(a[5]) : undefined;
    case FrameKind.CONTROL:
      if (a.length < 2 || a.length > 3) return "control: expected [9, kind, data?]";
      if (typeof a[1] !== "string") return "control: the kind must be a string";
      return undefined;
    default:
      return "unknown frame kind (expected 0, 1, 2, 3, 4 or 9 as the first element)";
  }
}
