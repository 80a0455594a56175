/**
 * What the core tells observers, through `node:diagnostics_channel`. Every channel is process-wide
 * (diagnostics channels are global by name): a message carries the `server` it comes from, so a
 * subscriber serving one server ignores the others. Core publishes only when a channel has
 * subscribers (`hasSubscribers`), so with nobody listening no message object is made.
 *
 * Fields are bounded where a metric could use them as a label: `namespace` is the `@Namespace`
 * pattern ("/chat/:room"), never the request path; `code` is a stable TSWS_* code or a close code.
 * Unbounded values (a room, a socket) are there for spans and the admin page, never for labels.
 * A message object is valid only during the synchronous call to the subscriber: copy what you keep.
 * docs/observability.md lists the channels for applications that subscribe themselves.
 */
import { type Channel, channel, type TracingChannel, tracingChannel } from "node:diagnostics_channel";
import type { FrameMeta } from "../protocol/frames.js";
import type { Message, Room, SocketId } from "../types.js";

export type { FrameMeta } from "../protocol/frames.js";

/**
 * The channel names, stable across versions.
 * @example
 * import { subscribe } from "node:diagnostics_channel";
 * subscribe(CHANNELS.refuse, (m) => console.log((m as RefuseMessage).code));
 */
export const CHANNELS = {
  connect: "tswebsockets:connect",
  close: "tswebsockets:close",
  refuse: "tswebsockets:refuse",
  message: "tswebsockets:message",
  broadcast: "tswebsockets:broadcast",
  forcedClose: "tswebsockets:forced-close",
  drop: "tswebsockets:drop",
  adapter: "tswebsockets:adapter",
  heartbeat: "tswebsockets:heartbeat",
  /** A TracingChannel: its events are `tracing:tswebsockets:event:start`, `:end`, `:asyncStart`, `:asyncEnd`, `:error`. */
  event: "tswebsockets:event",
} as const;

/**
 * What a message says about its socket: the id and the namespace pattern it matched.
 * @example
 * const label = (m: ConnectMessage) => m.socket.namespace; // "/chat/:room"
 */
export interface ObservedSocket {
  readonly id: SocketId;
  /** The `@Namespace` pattern, e.g. "/chat/:room" (bounded), not the path the client asked for. */
  readonly namespace: string;
  readonly server: object;
}

/**
 * `tswebsockets:connect`: a handshake completed. Published with `runStores` around the start of
 * `onConnect`, so a store bound to this channel (`bindStore`) is active while `onConnect` runs.
 * @example
 * subscribe(CHANNELS.connect, (m) => connects.inc({ namespace: (m as ConnectMessage).socket.namespace }));
 */
export interface ConnectMessage {
  readonly server: object;
  readonly socket: ObservedSocket;
  /** The upgrade request's headers (a W3C `traceparent` header joins a connect span to the caller's trace). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * `tswebsockets:close`: a socket's connection has closed (published once per socket).
 * @example
 * subscribe(CHANNELS.close, (m) => { const c = m as CloseMessage; closes.inc({ code: String(c.code), by: c.by }) });
 */
export interface CloseMessage {
  readonly server: object;
  readonly socket: ObservedSocket;
  /** The close code (1005 when the close frame had none, 1006 when the connection dropped without one). */
  readonly code: number;
  /** Who started the close: the peer or this server (a handler, a limit, a shutdown). */
  readonly by: "peer" | "server";
}

/**
 * `tswebsockets:refuse`: an upgrade was refused before the handshake.
 * @example
 * subscribe(CHANNELS.refuse, (m) => { const r = m as RefuseMessage; refusals.inc({ status: String(r.status), code: r.code }) });
 */
export interface RefuseMessage {
  readonly server: object;
  /** The HTTP status answered (403, 404, 429, 503...). */
  readonly status: number;
  /** The stable TSWS_* code (see `Refusal` in errors.ts). */
  readonly code: string;
  /** The namespace pattern, when the path matched one (not for 404). */
  readonly namespace: string | undefined;
  /** The human-readable message (unbounded: for logs and the admin page, never a label). */
  readonly message: string;
}

/**
 * `tswebsockets:message`: one message in from a peer, or one direct send to a socket (`socket.send`,
 * `sendTo`). Broadcasts are counted once per broadcast on {@link BroadcastMessage} instead.
 * @example
 * subscribe(CHANNELS.message, (m) => { const x = m as MessageMessage; if (x.direction === "in") bytesIn += x.bytes });
 */
export interface MessageMessage {
  readonly server: object;
  readonly socket: ObservedSocket;
  readonly direction: "in" | "out";
  /** The payload's size in bytes (UTF-8 for text), without framing. */
  readonly bytes: number;
}

/**
 * `tswebsockets:broadcast`: a broadcast delivered to this node's members of its rooms.
 * `origin` is "local" when it was made on this node, "remote" when another node published it.
 * @example
 * subscribe(CHANNELS.broadcast, (m) => { const b = m as BroadcastMessage; sent += b.receivers });
 */
export interface BroadcastMessage {
  readonly server: object;
  readonly origin: "local" | "remote";
  /** The target rooms (unbounded: for spans, never a label). */
  readonly rooms: readonly Room[];
  /** Local sockets the message was written to. */
  readonly receivers: number;
  /** The payload's size in bytes (once, not per receiver). */
  readonly bytes: number;
}

/**
 * `tswebsockets:forced-close`: the server closed a socket for a reason of its own (a limit, a
 * mixin's `MixinFail`, a failed hook, a protocol error).
 * @example
 * subscribe(CHANNELS.forcedClose, (m) => { const f = m as ForcedCloseMessage; forced.inc({ code: f.code }) });
 */
export interface ForcedCloseMessage {
  readonly server: object;
  readonly socket: ObservedSocket;
  /** The stable TSWS_* code (see `ForcedClose` in errors.ts). */
  readonly code: string;
  /** The WebSocket close code sent (or that would have been sent, for a terminated socket). */
  readonly closeCode: number;
  /** Why, in words (bounded for the library's own kinds; a MixinFail's reason is the application's). */
  readonly reason: string;
}

/**
 * `tswebsockets:drop`: messages that were not delivered, by reason.
 * @example
 * subscribe(CHANNELS.drop, (m) => { const d = m as DropMessage; dropped.inc({ reason: d.reason }, d.count) });
 */
export interface DropMessage {
  readonly server: object;
  /** "slow_consumer" (a drop-* policy), "rate_limit" (an inbound message over the limit), "outbound_drop" (an onOutbound hook returned DROP). */
  readonly reason: "slow_consumer" | "rate_limit" | "outbound_drop";
  readonly count: number;
}

/**
 * `tswebsockets:adapter`: the cluster adapter's state changed.
 * @example
 * subscribe(CHANNELS.adapter, (m) => { if ((m as AdapterMessage).state === "failed") page() });
 */
export interface AdapterMessage {
  readonly server: object;
  readonly state: "ready" | "failed" | "connected" | "disconnected";
  readonly error?: unknown;
}

/**
 * `tswebsockets:heartbeat`: a peer answered the server's ping; `ms` is the round trip (whole ms).
 * @example
 * subscribe(CHANNELS.heartbeat, (m) => rtt.observe((m as HeartbeatMessage).ms / 1000));
 */
export interface HeartbeatMessage {
  readonly server: object;
  readonly socket: ObservedSocket;
  /** From the ping to its pong, in whole milliseconds (the heartbeat ticks in ms). */
  readonly ms: number;
}

/**
 * The context object of the `tswebsockets:event` TracingChannel: one event or request handled by
 * the message layer. The layer calls `eventChannel.traceSync(run, context)` or
 * `eventChannel.tracePromise(run, context)` around the handler, only when
 * `eventChannel.hasSubscribers`, and sets `outcome` before `end`/`asyncEnd` (and `error` when the
 * handler threw). A store bound to `eventChannel.start` is active while the handler runs.
 * Outgoing requests (server → client) are traced the same way with `direction: "out"`, the
 * promise settling with the reply, an error reply, TIMEOUT or DISCONNECTED.
 * @example
 * eventChannel.start.subscribe((c) => { (c as EventContext).startedAt ??= performance.now() });
 */
export interface EventContext {
  readonly server: object;
  readonly socket: ObservedSocket;
  /** A contract name (bounded by the contract); "" when the name is not in the contract. */
  readonly event: string;
  readonly kind: "event" | "request";
  /** "in": sent by the client, handled here; "out": sent by this server (a request to the client). */
  readonly direction: "in" | "out";
  /** The request id, for requests. */
  readonly id?: number | undefined;
  /** The request frame's `meta` (its W3C `traceparent`, `tracestate`), when the peer sent one. */
  readonly meta?: FrameMeta | undefined;
  /** The payload's size in bytes, when known. */
  readonly bytes?: number | undefined;
  /** Set by the message layer before the end: "ok", or the error code answered (INVALID_PAYLOAD, TIMEOUT, an application code...). */
  outcome?: string;
  /** Set by the TracingChannel when the handler threw or rejected. */
  error?: unknown;
  /** Free for subscribers (a start time, a span): set on the context, read at its end. */
  [key: symbol]: unknown;
}

/** @example if (connectChannel.hasSubscribers) connectChannel.runStores(message, start); */
export const connectChannel: Channel = channel(CHANNELS.connect);
/** @example if (closeChannel.hasSubscribers) closeChannel.publish(message); */
export const closeChannel: Channel = channel(CHANNELS.close);
/** @example if (refuseChannel.hasSubscribers) refuseChannel.publish(message); */
export const refuseChannel: Channel = channel(CHANNELS.refuse);
/** @example if (messageChannel.hasSubscribers) messageChannel.publish(message); */
export const messageChannel: Channel = channel(CHANNELS.message);
/** @example if (broadcastChannel.hasSubscribers) broadcastChannel.publish(message); */
export const broadcastChannel: Channel = channel(CHANNELS.broadcast);
/** @example if (forcedCloseChannel.hasSubscribers) forcedCloseChannel.publish(message); */
export const forcedCloseChannel: Channel = channel(CHANNELS.forcedClose);
/** @example if (dropChannel.hasSubscribers) dropChannel.publish(message); */
export const dropChannel: Channel = channel(CHANNELS.drop);
/** @example if (heartbeatChannel.hasSubscribers) heartbeatChannel.publish(message); */
export const heartbeatChannel: Channel = channel(CHANNELS.heartbeat);
/** @example if (adapterChannel.hasSubscribers) adapterChannel.publish(message); */
export const adapterChannel: Channel = channel(CHANNELS.adapter);
/** @example if (eventChannel.hasSubscribers) await eventChannel.tracePromise(run, context); */
export const eventChannel: TracingChannel<object, EventContext> = tracingChannel<object, EventContext>(CHANNELS.event);

/**
 * The size in bytes of a message's payload (text counts as UTF-8).
 * @example
 * byteSize("é"); // 2
 */
export function byteSize(data: Message): number {
  return typeof data === "string" ? Buffer.byteLength(data) : data.length;
}

/**
 * Publishes a socket's message on {@link messageChannel}; call only when it has subscribers.
 * @example
 * if (messageChannel.hasSubscribers) publishMessage(server, socket, "in", data);
 */
export function publishMessage(server: object, socket: ObservedSocket, direction: "in" | "out", data: Message): void {
  messageChannel.publish({ server, socket, direction, bytes: byteSize(data) } satisfies MessageMessage);
}

/**
 * Publishes a forced close on {@link forcedCloseChannel}, when it has subscribers.
 * @example
 * publishForcedClose(server, socket, ForcedClose.rateLimit);
 */
export function publishForcedClose(
  server: object,
  socket: ObservedSocket,
  kind: { code: string; closeCode: number; reason: string },
): void {
  if (!forcedCloseChannel.hasSubscribers) return;
  forcedCloseChannel.publish({
    server,
    socket,
    code: kind.code,
    closeCode: kind.closeCode,
    reason: kind.reason,
  } satisfies ForcedCloseMessage);
}
