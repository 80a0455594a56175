// tswebsockets/otel with the OpenTelemetry SDK's in-memory exporter: a client's span, the server's
// connect or request span and the broadcast its handler makes form one trace.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, beforeEach, describe, it } from "node:test";
import { defaultTextMapSetter, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import { BaseHandler, createServer, type EventSocket, events, handle, Namespace, type Server, type Socket } from "../src/index.js";
import { type TracingHandle, traceServer } from "../src/otel/index.js";
import { Peer } from "./helpers/tsws-peer.js";
import { Client, quietLogger, start, until } from "./helpers.js";

@Namespace("/joined/:room")
class Joined extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join(`joined-${socket.params.room}`);
    socket.server.to(`joined-${socket.params.room}`).send("someone joined");
  }
}

const chat = defineContract({
  client: {
    send: request(z.object({ text: z.string().min(1) }), z.object({ ok: z.boolean() })),
  },
  server: {
    message: event(z.object({ text: z.string() })),
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});

/** The real message layer: a request whose async handler broadcasts, and a request to the client on connect. */
@Namespace("/requests/:room")
class Requests extends events(chat) {
  static onConnect(socket: EventSocket<typeof chat>) {
    socket.join(`requests-${socket.params.room}`);
    if (socket.params.room === "asks") void socket.request("confirm", { question: "ok?" }, { timeoutMs: 2000 }).catch(() => {});
  }
  static events = handle(chat, {
    async send(socket, { text }) {
      await Promise.resolve(); // an async handler: the broadcast comes after an await
      socket.server.to(`requests-${socket.params.room}`).emit("message", { text });
      return { ok: true };
    },
  });
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
    const client = await Peer.open(`${base}/requests/ops`);
    const clientSpan = clientTracer.startSpan("client send");
    client.send([1, 1, "send", { text: "hi" }, { traceparent: traceparentOf(clientSpan) }]);
    assert.deepEqual(await client.answer(1), [2, 1, { ok: true }]);
    assert.deepEqual(await client.event("message"), [0, "message", { text: "hi" }]);
    clientSpan.end();
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

  it("gives a request span an error status with the code answered, and traces the server's request to the client", async () => {
    const client = new Peer(`${base}/requests/asks`);
    client.answers.set("confirm", () => true); // before the handshake: onConnect asks at once
    await once(client.ws, "open");
    assert.equal((await client.request(2, "send", { text: "" }))[2], "INVALID_PAYLOAD");
    await until(() => exporter.getFinishedSpans().some((s) => s.name === "/requests/:room confirm"), "the confirm span");
    await client.close();

    const spans = exporter.getFinishedSpans();
    const invalid = named(spans, "/requests/:room send");
    assert.equal(invalid.kind, SpanKind.SERVER);
    assert.equal(invalid.status.code, SpanStatusCode.ERROR);
    assert.equal(invalid.attributes["error.type"], "INVALID_PAYLOAD");
    assert.equal(parentOf(invalid), undefined, "no traceparent in its meta: a trace of its own");
    const confirm = named(spans, "/requests/:room confirm");
    assert.equal(confirm.kind, SpanKind.CLIENT);
    assert.equal(confirm.status.code, SpanStatusCode.UNSET);
    assert.equal(confirm.attributes["messaging.message.id"], "1");
    assert.equal(parentOf(confirm), named(spans, "connect /requests/:room").spanContext().spanId, "made in onConnect: a child of connect");
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
