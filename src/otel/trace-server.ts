import { AsyncLocalStorage } from "node:async_hooks";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import {
  type Context,
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import {
  type BroadcastMessage,
  CHANNELS,
  type ConnectMessage,
  connectChannel,
  type EventContext,
  eventChannel,
} from "../observe/channels.js";
import type { Server } from "../server.js";

/**
 * Options of {@link traceServer}.
 * @example
 * const options: TracingOptions = { tracer: provider.getTracer("chat"), propagator: new W3CTraceContextPropagator() };
 */
export interface TracingOptions {
  /** The tracer spans are made with (default: `trace.getTracer("tswebsockets")` of the global provider). */
  readonly tracer?: Tracer;
  /** Reads `traceparent` from upgrade headers and request meta (default: the global propagator). */
  readonly propagator?: TextMapPropagator;
}

/**
 * What {@link traceServer} returns: stop it to unsubscribe.
 * @example
 * const tracing = traceServer(server); await server.close(); tracing.stop();
 */
export interface TracingHandle {
  stop(): void;
}

const SYSTEM = "tswebsockets";
const SPAN: unique symbol = Symbol("tswebsockets.otel.span");
const IGNORED = { end() {}, asyncStart() {} };

/**
 * Makes OpenTelemetry spans of one server, from its diagnostics channels, with the messaging
 * semantic conventions (`messaging.system` = "tswebsockets"):
 * - `connect <namespace>` (SERVER) per handshake, a child of the upgrade request's `traceparent`
 *   header when it has one; it covers the synchronous part of `onConnect`;
 * - `<namespace> <event>` per event (CONSUMER) or request (SERVER) of the message layer, a child of
 *   the `traceparent` in the request's `meta`; it lasts until the handler has settled;
 * - `broadcast` (PRODUCER) per broadcast made on this node, a child of the span the handler runs in.
 * Spans started by these hooks are current while the handler runs (an AsyncLocalStorage bound to
 * the channels), so a broadcast made there joins the request's trace.
 * @example
 * import { traceServer } from "tswebsockets/otel";
 * traceServer(server); // with the app's OpenTelemetry SDK registered
 */
export function traceServer(server: Server, options: TracingOptions = {}): TracingHandle {
  const tracer = options.tracer ?? trace.getTracer(SYSTEM);
  const propagator = options.propagator ?? propagation;
  const store = new AsyncLocalStorage<Context>();
  const active = () => store.getStore() ?? context.active();
  const extract = (carrier: object | undefined) =>
    carrier === undefined ? active() : propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);

  // A store transform runs for every server's messages: another server's keep the current context.
  const onConnect = (message: unknown): Context => {
    const m = message as ConnectMessage;
    if (m.server !== server) return active();
    const parent = m.headers.traceparent === undefined ? active() : extract(m.headers);
    const span = tracer.startSpan(
      `connect ${m.socket.namespace}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.type": "receive",
          "messaging.operation.name": "connect",
          "messaging.destination.name": m.socket.namespace,
          "messaging.client.id": m.socket.id,
        },
      },
      parent,
    );
    // The synchronous part of onConnect runs before this microtask: the span ends right after it.
    queueMicrotask(() => span.end());
    return trace.setSpan(parent, span);
  };
  connectChannel.bindStore(store, onConnect);

  const onEventStart = (c: EventContext): Context => {
    if (c.server !== server) return active();
    const parent = c.meta === undefined ? active() : extract(c.meta);
    const inbound = c.direction === "in";
    const span = tracer.startSpan(
      `${c.socket.namespace} ${c.event || "(unknown)"}`,
      {
        kind: c.kind === "request" ? (inbound ? SpanKind.SERVER : SpanKind.CLIENT) : inbound ? SpanKind.CONSUMER : SpanKind.PRODUCER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.type": inbound ? "process" : "send",
          "messaging.operation.name": c.event,
          "messaging.destination.name": c.socket.namespace,
          "messaging.client.id": c.socket.id,
          ...(c.id === undefined ? {} : { "messaging.message.id": String(c.id) }),
          ...(c.bytes === undefined ? {} : { "messaging.message.body.size": c.bytes }),
        },
      },
      parent,
    );
    c[SPAN] = span;
    return trace.setSpan(parent, span);
  };
  eventChannel.start.bindStore(store, onEventStart);
  const traced = {
    ...IGNORED,
    start() {},
    error(c: EventContext) {
      const span = c[SPAN] as Span | undefined;
      if (span !== undefined && c.error instanceof Error) span.recordException(c.error);
    },
    asyncEnd(c: EventContext) {
      const span = c[SPAN] as Span | undefined;
      if (span === undefined) return;
      const outcome = c.outcome ?? (c.error === undefined ? "ok" : "INTERNAL");
      if (outcome !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome }).setAttribute("error.type", outcome);
      span.end();
    },
  };
  eventChannel.subscribe(traced);

  const onBroadcast = (message: unknown) => {
    const b = message as BroadcastMessage;
    if (b.server !== server || b.origin !== "local") return;
    const span = tracer.startSpan(
      "broadcast",
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.type": "send",
          "messaging.operation.name": "broadcast",
          "messaging.destination.name": b.rooms.join(","),
          "messaging.batch.message_count": b.receivers,
          "messaging.message.body.size": b.bytes,
        },
      },
      active(),
    );
    span.end(); // delivery to local sockets is synchronous; other nodes get it through the adapter
  };
  subscribe(CHANNELS.broadcast, onBroadcast);

  return {
    stop() {
      connectChannel.unbindStore(store);
      eventChannel.start.unbindStore(store);
      eventChannel.unsubscribe(traced);
      unsubscribe(CHANNELS.broadcast, onBroadcast);
    },
  };
}
