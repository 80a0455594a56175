import { encodeEvent, encodePush, type PushFrame } from "../protocol/frames.js";
import type { Message } from "../types.js";
import { DROP, type Drop } from "./drop.js";

/**
 * An event-layer message on its way out, as `onOutbound` hooks see it: `socket.emit`,
 * `server.to(room).emit` and history replays of events (with `resume`, the push frames of rooms
 * with history and of inboxes: a replacement keeps the stream and seq, `DROP` passes the seq over
 * for that receiver, as `except()` does). Return a new one to replace it.
 * @example
 * static onOutbound(socket: Socket, m: Outbound) { return isEvent(m) && m.event === "secret" && !isAdmin(socket) ? DROP : undefined }
 */
export interface OutboundEvent {
  readonly event: string;
  readonly data: unknown;
}

/** What an `onOutbound` hook is given: a raw message, or an event of the message layer. */
export type Outbound = Message | OutboundEvent;

/**
 * The composed `onOutbound` hooks of one namespace: the message to send instead, `DROP`, or
 * `undefined` to keep it. Synchronous: it runs for every receiver of every message.
 */
export type OutboundTransform<S> = (socket: S, message: Outbound) => Outbound | Drop | undefined;

const BRACKET = 0x5b; // "["
const EVENT_KIND = 0x30; // "0": a tsws.v1 event frame is `[0,"name",data]`
const PUSH_KIND = 0x34; // "4": a push frame of a stream is `[4,"stream",seq,"name",data]`

/**
 * Whether a text frame sent to a socket that negotiated tsws.v1 is an event or a push frame (which
 * hooks see as `{ event, data }`), or another protocol frame (a reply, a request, a control frame: hooks
 * never see those), from its first two characters (encoders write no spaces).
 */
function frameKind(text: string): "event" | "push" | "protocol" | "raw" {
  if (text.charCodeAt(0) !== BRACKET) return "raw";
  const kind = text.charCodeAt(1);
  if (text.charCodeAt(2) === 0x2c) {
    if (kind === EVENT_KIND) return "event";
    if (kind === PUSH_KIND) return "push";
  }
  return kind >= 0x30 && kind <= 0x39 ? "protocol" : "raw";
}

/**
 * The form a hook sees for `data` sent to a socket: `undefined` when hooks must not see it (a
 * protocol frame other than an event or a push), the parsed `{ event, data }` for those, else the
 * raw message.
 * @param negotiated whether the socket speaks tsws.v1
 * @example
 * const view = outboundView('[0,"message",{"text":"hi"}]', true); // { event: "message", data: { text: "hi" } }
 */
export function outboundView(data: Message, negotiated: boolean): Outbound | undefined {
  if (!negotiated || typeof data !== "string") return data;
  const kind = frameKind(data);
  if (kind === "raw") return data;
  if (kind === "protocol") return undefined;
  if (kind === "push") {
    const push = JSON.parse(data) as PushFrame;
    return { event: push[3], data: push[4] };
  }
  const frame = JSON.parse(data) as [0, string, unknown?];
  return { event: frame[1], data: frame[2] };
}

/**
 * What a hook's verdict means for the wire: the message to send (encoded back into an event frame
 * when the hook returned an event, or into a push frame of the same stream and seq when `original`
 * was one), `DROP`, or `undefined` to send the original unchanged.
 * @param original the message the hook was shown
 * @example
 * const wire = outboundWire(transform(socket, view), data); // string | Buffer | DROP | undefined
 */
export function outboundWire(verdict: Outbound | Drop | undefined, original?: Message): Message | Drop | undefined {
  if (verdict === undefined || verdict === DROP) return verdict;
  if (typeof verdict === "string" || Buffer.isBuffer(verdict)) return verdict;
  if (typeof original === "string" && frameKind(original) === "push") {
    const [, stream, seq, , , meta] = JSON.parse(original) as PushFrame;
    return encodePush(stream, seq, verdict.event, verdict.data, meta);
  }
  return encodeEvent(verdict.event, verdict.data);
}

/**
 * Memoises a transform per input, so the receivers of one broadcast that get the same variant
 * share one result, and so one encoded frame (the broadcast encodes each distinct result once).
 * The memo holds the last input only: a broadcast's receivers all see the same input.
 * @example
 * const redacted = variant((m: OutboundEvent) => ({ event: m.event, data: { ...(m.data as object), salary: undefined } }));
 * class Redact extends BaseMixin { static onOutbound(s: Socket, m: Outbound) { return isAdmin(s) || typeof m !== "object" || Buffer.isBuffer(m) ? undefined : redacted(m) } }
 */
export function variant<I, O>(transform: (input: I) => O): (input: I) => O {
  let lastInput: I | undefined;
  let lastOutput: O | undefined;
  let primed = false;
  return (input) => {
    if (!primed || input !== lastInput) {
      lastOutput = transform(input);
      lastInput = input;
      primed = true;
    }
    return lastOutput as O;
  };
}
