/**
 * The tsws.v1 frames: compact JSON arrays whose first element says the kind. This file holds the
 * constants, the frame types and the encoders; parse-frame.ts checks frames coming in.
 * docs/protocol.md is the normative description.
 */

/**
 * The subprotocol a tsws.v1 client offers in `Sec-WebSocket-Protocol`. A connection that did not
 * negotiate it gets no protocol handling: its frames reach the raw `onMessage` unchanged.
 * @example
 * new WebSocket(url, [SUBPROTOCOL]);
 */
export const SUBPROTOCOL = "tsws.v1";

/**
 * A client resuming a session offers `tsws-resume.<token>` as a second subprotocol,
 * after `tsws.v1` (the token uses only RFC 7230 token characters, e.g. base64url). The server never
 * selects it.
 * @example
 * new WebSocket(url, [SUBPROTOCOL, RESUME_SUBPROTOCOL_PREFIX + token]);
 */
export const RESUME_SUBPROTOCOL_PREFIX = "tsws-resume.";

/**
 * The first element of every frame.
 * @example
 * if (frame[0] === FrameKind.REQUEST) answer(frame[1]);
 */
export const FrameKind = {
  EVENT: 0,
  REQUEST: 1,
  REPLY: 2,
  ERROR: 3,
  /** A numbered push of a stream, for resumable sessions (see {@link PushFrame}). */
  PUSH: 4,
  CONTROL: 9,
} as const;

/**
 * One of the values in {@link FrameKind}.
 * @example
 * const kind: FrameKind = FrameKind.EVENT; // 0
 */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/**
 * The kinds of control frames. `ping` is sent by the server on idle sockets (no answer needed);
 * the others belong to resumable sessions (docs/protocol.md). A receiver ignores kinds it does not know.
 * @example
 * if (frame[1] === ControlKind.PING) return;
 */
export const ControlKind = {
  PING: "ping",
  WELCOME: "welcome",
  RESUMED: "resumed",
  GAP: "gap",
  POS: "pos",
  /** Client to server, after `resumed`: it holds the new token, so the one it resumed with is retired. */
  CONFIRM: "confirm",
} as const;

/**
 * A request or reply id: a positive safe integer, chosen by the requester, unique per connection
 * and direction (each side numbers its own requests; a reply carries the id of the request).
 * @example
 * const id: RequestId = ++lastId;
 */
export type RequestId = number;

/** `[0, event, data?]`: an event, either direction. @example const f: EventFrame = [0, "typing", { on: true }]; */
export type EventFrame = readonly [kind: 0, event: string, data?: unknown];
/**
 * `[1, id, event, data?, meta?]`: a request, either direction. `meta` is optional context about the
 * request, not its data (a W3C trace context); `data` is written as `null` when meta follows
 * without data.
 * @example
 * const f: RequestFrame = [1, 7, "send", { text: "hi" }];
 * const traced: RequestFrame = [1, 8, "send", { text: "hi" }, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }];
 */
export type RequestFrame = readonly [kind: 1, id: RequestId, event: string, data?: unknown, meta?: FrameMeta];

/**
 * The optional last element of a request frame: context that travels with the request. Known keys
 * are `traceparent` and `tracestate` (W3C Trace Context, so a client span and the server's join
 * one trace); a receiver ignores keys it does not know.
 * @example
 * const meta: FrameMeta = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
 */
export interface FrameMeta {
  readonly traceparent?: string;
  readonly tracestate?: string;
}
/** `[2, id, data?]`: the successful reply to request `id`. @example const f: ReplyFrame = [2, 7, { id: "m1" }]; */
export type ReplyFrame = readonly [kind: 2, id: RequestId, data?: unknown];
/**
 * `[3, id, code, data?, message?]`: an error reply to request `id`, or to a frame without a usable
 * id (`null`). `data` is `null` on the wire when a message follows without data.
 * @example
 * const f: ErrorFrame = [3, 7, "RATE_LIMITED", { retryAfterMs: 500 }];
 */
export type ErrorFrame = readonly [kind: 3, id: RequestId | null, code: string, data?: unknown, message?: string];
/**
 * `[4, stream, seq, event, data?, meta?]`: a push numbered `seq` in `stream` (a room's history
 * `room:<name>`, or a session's inbox), sent to resumable sessions so that a resume replays what
 * was missed. `meta` is {@link PushMeta}; `data` is written as `null` when meta follows without data.
 * @example
 * const f: PushFrame = [4, "room:lobby", 42, "message", { text: "hi" }];
 * const copy: PushFrame = [4, "room:b", 7, "message", { text: "hi" }, { id: "Qx3f_k2a.1" }];
 */
export type PushFrame = readonly [kind: 4, stream: string, seq: number, event: string, data?: unknown, meta?: PushMeta];

/**
 * The optional last element of a push. `id`: the message's id when one emit went to several
 * rooms (`to(a).to(b).emit`); each room's stream has its own copy, with its own seq and the same
 * id, so a member of several of them delivers the message once and drops the other copies.
 * @example
 * const meta: PushMeta = { id: "Qx3f_k2a.1" };
 */
export interface PushMeta {
  readonly id?: string;
}
/** `[9, kind, data?]`: a control frame (see {@link ControlKind}). @example const f: ControlFrame = [9, "ping"]; */
export type ControlFrame = readonly [kind: 9, control: string, data?: unknown];

/**
 * Any tsws.v1 frame.
 * @example
 * function onFrame(frame: Frame) { if (frame[0] === FrameKind.REPLY) settle(frame[1], frame[2]); }
 */
export type Frame = EventFrame | RequestFrame | ReplyFrame | ErrorFrame | PushFrame | ControlFrame;

// The encoders build the array and stringify it once; trailing `data` is left out when undefined so
// the wire stays compact and the receiver sees `undefined` again. JSON.stringify throws a TypeError on
// a BigInt or a cycle: the caller decides what that means (a server bug, answered INTERNAL).

/**
 * Encodes `[0, event, data?]`.
 * @example
 * encodeEvent("typing", { on: true }); // '[0,"typing",{"on":true}]'
 */
export function encodeEvent(event: string, data?: unknown): string {
  return JSON.stringify(data === undefined ? [0, event] : [0, event, data]);
}

/**
 * Encodes `[1, id, event, data?, meta?]`; `data` becomes `null` when only meta follows.
 * @example
 * encodeRequest(7, "send", { text: "hi" }); // '[1,7,"send",{"text":"hi"}]'
 * encodeRequest(8, "sync", undefined, { traceparent: tp }); // '[1,8,"sync",null,{"traceparent":"00-…"}]'
 */
export function encodeRequest(id: RequestId, event: string, data?: unknown, meta?: FrameMeta): string {
  if (meta !== undefined) return JSON.stringify([1, id, event, data === undefined ? null : data, meta]);
  return JSON.stringify(data === undefined ? [1, id, event] : [1, id, event, data]);
}

/**
 * Encodes `[2, id, data?]`.
 * @example
 * encodeReply(7, { id: "m1" }); // '[2,7,{"id":"m1"}]'
 */
export function encodeReply(id: RequestId, data?: unknown): string {
  return JSON.stringify(data === undefined ? [2, id] : [2, id, data]);
}

/**
 * Encodes `[3, id, code, data?, message?]`; `data` becomes `null` when only a message follows.
 * @example
 * encodeError(7, "UNKNOWN_EVENT"); // '[3,7,"UNKNOWN_EVENT"]'
 * encodeError(null, "INVALID_FRAME", undefined, "not an array"); // '[3,null,"INVALID_FRAME",null,"not an array"]'
 */
export function encodeError(id: RequestId | null, code: string, data?: unknown, message?: string): string {
  if (message !== undefined) return JSON.stringify([3, id, code, data === undefined ? null : data, message]);
  return JSON.stringify(data === undefined ? [3, id, code] : [3, id, code, data]);
}

/**
 * Encodes `[4, stream, seq, event, data?, meta?]`; `data` becomes `null` when only meta follows.
 * @example
 * encodePush("room:lobby", 42, "message", { text: "hi" }); // '[4,"room:lobby",42,"message",{"text":"hi"}]'
 */
export function encodePush(stream: string, seq: number, event: string, data?: unknown, meta?: PushMeta): string {
  if (meta !== undefined) return JSON.stringify([4, stream, seq, event, data === undefined ? null : data, meta]);
  return JSON.stringify(data === undefined ? [4, stream, seq, event] : [4, stream, seq, event, data]);
}

/**
 * Encodes `[9, kind, data?]`.
 * @example
 * encodeControl("ping"); // '[9,"ping"]'
 */
export function encodeControl(kind: string, data?: unknown): string {
  return JSON.stringify(data === undefined ? [9, kind] : [9, kind, data]);
}
