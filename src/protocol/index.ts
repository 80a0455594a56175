/**
 * The tsws.v1 wire protocol, shared by the server and the browser client: no Node imports, no
 * Buffer. docs/protocol.md describes it for clients in other languages.
 */
export { CloseCode } from "./close-codes.js";
export { decodeFrame } from "./decode-frame.js";
export { type BuiltInErrorCode, ErrorCode, type Issue, isBuiltInErrorCode } from "./error-codes.js";
export {
  type ControlFrame,
  ControlKind,
  type ErrorFrame,
  type EventFrame,
  encodeControl,
  encodeError,
  encodeEvent,
  encodePush,
  encodeReply,
  encodeRequest,
  type Frame,
  FrameKind,
  type FrameMeta,
  type PushFrame,
  type PushMeta,
  RESUME_SUBPROTOCOL_PREFIX,
  type ReplyFrame,
  type RequestFrame,
  type RequestId,
  SUBPROTOCOL,
} from "./frames.js";
export { DEFAULT_REQUEST_TIMEOUT_MS, INVALID_FRAME_WINDOW_MS, MAX_FRAME_DEPTH, MAX_INVALID_FRAMES, withinDepth } from "./limits.js";
export { isRequestId, type ParseOptions, type ParseResult, parseFrame } from "./parse-frame.js";
export { RequestError } from "./request-error.js";
