// tswebsockets/otel with the OpenTelemetry SDK's in-memory exporter: a client's span, the server's
// connect or request span and the broadcast its handler makes form one trace.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { defaultTextMapSetter, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { BaseHandler, createServer, type EventContext, type Message, Namespace, type Server, type Socket } from "../src/index.js";
import { eventChannel } from "../src/observe/channels.js";
import { type TracingHandle, traceServer } from "../src/otel/index.js";
import { decodeFrame, encodeReply, encodeRequest } from "../src/protocol/index.js";
import { Client, quietLogger, start } from "./helpers.js";

@Namespace("/joined/:room")
class Joined extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join(`joined-${socket.params.room}`);
    socket.server.to(`joined-${socket.params.room}`).send("someone joined");
  }
}

/**
 * Plays the message layer's part (src/events/ is not merged yet): decodes a tsws.v1 request and
 * runs its handler through the `tswebsockets:event` TracingChannel as the channel contract says.
 */
@Namespace("/requests/:room")
class Requests extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join(`requests-${socket.params.room}`);
  }
  static onMessage(socket: Socket, message: Message) {
    const decoded = decodeFrame(String(message));
    if (!decoded.ok || decoded.frame[0] !== 1) return undefined;
    const [, id, event, data, meta] = decoded.frame;
    const context: EventContext = { server: socket.server, socket, event, kind: "request", direction: "in", id, meta };
    const handle = async () => {
      await Promise.resolve(); // an async handler: the broadcast comes after an await
      socket.server.to(`requests-${socket.params.room}`).send(JSON.stringify(data));
      socket.send(encodeReply(id, { ok: true }));
      context.outcome = "ok";
    };
    return eventChannel.hasSubscribers ? eventChannel.tracePromise(handle, context) : handle();
  }
}

describe("traceServer", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const propagator = new W3CTraceContextPropagator();
  const clientTracer = provider.getTracer("browser");
  let server: Server;
  let base: string;
  let tracing: TracingHandle;

  before(async () => {
    server = createServer({ handlers: [Joined, Requests], host: "127.0.0.1", port: 0, logger: quietLogger() });
    tracing = traceServer(server, { tracer: provider.getTracer("tswebsockets"), propagator });
    base = await start(server);
  });
  after(async () => {
    tracing.stop();
    await server.close();
  });
  beforeEach(() => exporter.reset());

  function traceparentOf(span: Span): string {
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    assert.ok(carrier.traceparent);
    return carrier.traceparent;
  }
  const named = (spans: ReadableSpan[], name: string) => {
    const span = spans.find((s) => s.name === name);
    assert.ok(span, `a span named ${name} among ${spans.map((s) => s.name).join(", ")}`);
    return span;
  };
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("joins a client request, its handler and the broadcast it makes in one trace (traceparent in the request's meta)", async () => {
    const client = await Client.open(`${base}/requests/ops`);
    const clientSpan = clientTracer.startSpan("client send");
    client.send(encodeRequest(1, "send", { text: "hi" }, { traceparent: traceparentOf(clientSpan) }));
    const got = await client.received(2);
    clientSpan.end();
    assert.deepEqual(got.sort(), ['[2,1,{"ok":true}]', '{"text":"hi"}'].sort());
    await client.close();

    const spans = exporter.getFinishedSpans();
    const request = named(spans, "/requests/:room send");
    const broadcast = named(spans, "broadcast");
    const traceId = clientSpan.spanContext().traceId;
    assert.equal(request.spanContext().traceId, traceId);
    assert.equal(broadcast.spanContext().traceId, traceId);
    assert.equal(parentOf(request), clientSpan.spanContext().spanId);
    assert.equal(parentOf(broadcast), request.spanContext().spanId);
    assert.equal(request.attributes["messaging.system"], "tswebsockets");
    assert.equal(request.attributes["messaging.destination.name"], "/requests/:room");
    assert.equal(request.attributes["messaging.message.id"], "1");
    assert.equal(broadcast.attributes["messaging.batch.message_count"], 1);
  });

  it("joins a client's connect, onConnect and its broadcast in one trace (traceparent header on the upgrade)", async () => {
    const clientSpan = clientTracer.startSpan("client connect");
    const client = await Client.open(`${base}/joined/lobby`, { headers: { traceparent: traceparentOf(clientSpan) } });
    await client.received(1);
    clientSpan.end();
    await client.close();

    const spans = exporter.getFinishedSpans();
    const connect = named(spans, "connect /joined/:room");
    const broadcast = named(spans, "broadcast");
    assert.equal(connect.spanContext().traceId, clientSpan.spanContext().traceId);
    assert.equal(parentOf(connect), clientSpan.spanContext().spanId);
    assert.equal(parentOf(broadcast), connect.spanContext().spanId);
  });

  it("starts a new trace for a connect without traceparent, and traces nothing once stopped", async () => {
    const client = await Client.open(`${base}/joined/solo`);
    await client.received(1);
    await client.close();
    const connect = named(exporter.getFinishedSpans(), "connect /joined/:room");
    assert.equal(parentOf(connect), undefined);

    const other = createServer({ handlers: [Joined], host: "127.0.0.1", port: 0, logger: quietLogger() });
    const handle = traceServer(other, { tracer: provider.getTracer("tswebsockets"), propagator });
    handle.stop();
    exporter.reset();
    const c = await Client.open(`${await start(other)}/joined/quiet`);
    await c.received(1);
    await c.close();
    await other.close();
    assert.deepEqual(exporter.getFinishedSpans(), []);
  });
});
