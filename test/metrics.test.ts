// tswebsockets/metrics against a real server and real clients: the counts match what the test
// did, no label carries a socket id, room or path, and the series stay bounded with many sockets.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import {
  BaseHandler,
  createServer,
  type EventContext,
  type Message,
  MixinFail,
  Namespace,
  type Server,
  type Socket,
} from "../src/index.js";
import { collectMetrics, type MetricsHandle } from "../src/metrics/index.js";
import { eventChannel } from "../src/observe/channels.js";
import { Client, quietLogger, refusedStatus, start, until } from "./helpers.js";

@Namespace("/room/:room")
class RoomHandler extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join(`room-${socket.params.room}`);
  }
  static onMessage(socket: Socket, message: Message) {
    const text = String(message);
    if (text === "fail") throw new MixinFail("told to fail", 4003);
    if (text.startsWith("all:")) socket.server.to(`room-${socket.params.room}`).send(text.slice(4));
    else socket.send(text);
  }
}

/** The value of one series of a metric, 0 when absent. */
async function value(register: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = register.getSingleMetric(name);
  assert.ok(metric, `metric ${name} is registered`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return match?.value ?? 0;
}

/** Series lines of the exposition text (comments and blank lines left out). */
function seriesLines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

describe("collectMetrics", () => {
  let server: Server;
  let base: string;
  let register: Registry;
  let metrics: MetricsHandle;
  const clients: Client[] = [];

  before(async () => {
    server = createServer({
      handlers: [RoomHandler],
      host: "127.0.0.1",
      port: 0,
      allowedOrigins: ["http://app.example"],
      logger: quietLogger(),
    });
    register = new Registry();
    metrics = collectMetrics(server, { register });
    base = await start(server);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
    metrics.stop();
  });

  it("counts connects, refusals, messages, broadcasts, closes and forced closes as the test made them", async () => {
    const rooms = ["qx-alpha", "qx-beta", "qx-gamma"];
    for (let i = 0; i < 6; i++) clients.push(await Client.open(`${base}/room/${rooms[i % 3]}`));
    for (let i = 0; i < 3; i++)
      assert.equal(await refusedStatus(`${base}/room/qx-alpha`, { headers: { Origin: "http://evil.example" } }), 403);
    for (let i = 0; i < 2; i++) assert.equal(await refusedStatus(`${base}/nowhere-${i}`), 404);

    for (const c of clients) {
      c.send("hi");
      c.send("hey");
    }
    await Promise.all(clients.map((c) => c.received(2)));
    clients[0]?.send("all:news"); // room qx-alpha holds clients 0 and 3
    await Promise.all([clients[0]?.received(3), clients[3]?.received(3)]);

    const [gone1, gone2, failing] = clients.splice(3, 3) as [Client, Client, Client];
    await gone1.close();
    await gone2.close();
    failing.send("fail");
    assert.equal((await failing.closed).code, 4003);
    await until(() => server.size === 3, "three sockets left");

    assert.equal(await value(register, "tsws_connects_total", { namespace: "/room/:room" }), 6);
    assert.equal(await value(register, "tsws_connections", { namespace: "/room/:room" }), 3);
    assert.equal(await value(register, "tsws_rooms"), 3);
    assert.equal(await value(register, "tsws_upgrade_refusals_total", { status: "403", code: "TSWS_FORBIDDEN_ORIGIN" }), 3);
    assert.equal(await value(register, "tsws_upgrade_refusals_total", { status: "404", code: "TSWS_NOT_FOUND" }), 2);
    assert.equal(await value(register, "tsws_messages_received_total", { namespace: "/room/:room" }), 6 * 2 + 1 + 1);
    assert.equal(await value(register, "tsws_received_bytes_total", { namespace: "/room/:room" }), 6 * 5 + 8 + 4);
    assert.equal(await value(register, "tsws_messages_sent_total", { kind: "direct" }), 12);
    assert.equal(await value(register, "tsws_sent_bytes_total", { kind: "direct" }), 6 * 5);
    assert.equal(await value(register, "tsws_messages_sent_total", { kind: "broadcast" }), 2);
    assert.equal(await value(register, "tsws_sent_bytes_total", { kind: "broadcast" }), 2 * 4);
    assert.equal(await value(register, "tsws_broadcasts_total", { origin: "local" }), 1);
    assert.equal(await value(register, "tsws_disconnects_total", { namespace: "/room/:room", code: "1005", by: "peer" }), 2);
    assert.equal(await value(register, "tsws_disconnects_total", { namespace: "/room/:room", code: "4003", by: "server" }), 1);
    assert.equal(await value(register, "tsws_forced_closes_total", { code: "TSWS_BLOCKED_BY_MIXIN" }), 1);

    const text = await register.metrics();
    for (const secret of [...rooms, ...rooms.map((r) => `room-${r}`), "/room/qx-", "nowhere-", ...[...server.sockets()].map((s) => s.id)]) {
      assert.ok(!text.includes(secret), `no label contains ${secret}`);
    }
  });

  it("counts events and requests the message layer traces, by contract name and outcome", async () => {
    const socket = server.sockets().next().value as Socket;
    const trace = (event: string, outcome: string) => {
      const context: EventContext = { server, socket, event, kind: "request", direction: "in", id: 1 };
      return eventChannel.tracePromise(async () => {
        context.outcome = outcome;
      }, context);
    };
    await trace("send", "ok");
    await trace("send", "ok");
    await trace("send", "INVALID_PAYLOAD");
    await trace("confirm", "TIMEOUT");
    assert.equal(await value(register, "tsws_events_total", { event: "send", outcome: "ok" }), 2);
    assert.equal(await value(register, "tsws_events_total", { event: "send", outcome: "INVALID_PAYLOAD" }), 1);
    assert.equal(await value(register, "tsws_request_timeouts_total", { direction: "in" }), 1);
    const durations = await register.getSingleMetric("tsws_event_duration_seconds")?.get();
    const count = durations?.values.find(
      (v) => (v as { metricName?: string }).metricName === "tsws_event_duration_seconds_count" && v.labels.event === "send",
    );
    assert.equal(count?.value, 3);
  });

  it("ignores another server's traffic in the same process", async () => {
    const other = createServer({ handlers: [RoomHandler], host: "127.0.0.1", port: 0, logger: quietLogger() });
    const before = await value(register, "tsws_connects_total", { namespace: "/room/:room" });
    const c = await Client.open(`${await start(other)}/room/elsewhere`);
    c.send("x");
    await c.received(1);
    await c.close();
    await other.close();
    assert.equal(await value(register, "tsws_connects_total", { namespace: "/room/:room" }), before);
  });
});

describe("collectMetrics with many sockets", () => {
  const COUNT = Number(process.env.METRICS_SOCKETS ?? 10_000);
  const ROOMS = COUNT / 10;

  it(`keeps at most 200 series with ${COUNT} sockets in ${ROOMS} rooms`, { timeout: 60_000 }, async () => {
    const server = createServer({ handlers: [RoomHandler], host: "127.0.0.1", port: 0, heartbeatInterval: 0, logger: quietLogger() });
    const register = new Registry();
    const metrics = collectMetrics(server, { register });
    const base = await start(server);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/many-clients.ts", `${base}/room`, String(COUNT), String(ROOMS)],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    try {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      await until(() => out.includes("open ") || child.exitCode !== null, "the clients to open", 50_000);
      assert.match(out, new RegExp(`open ${COUNT}`));
      await until(() => server.size === COUNT, `${COUNT} sockets on the server`);
      assert.equal(server.roomCount, ROOMS);
      const deadline = Date.now() + 20_000;
      while ((await value(register, "tsws_messages_received_total", { namespace: "/room/:room" })) < COUNT) {
        assert.ok(Date.now() < deadline, "every socket's message arrives");
        await new Promise((r) => setTimeout(r, 50));
      }
      const text = await register.metrics();
      const series = seriesLines(text);
      assert.ok(series.length <= 200, `${series.length} series`);
      assert.equal(await value(register, "tsws_connections", { namespace: "/room/:room" }), COUNT);
      for (const room of ["room-r0", `room-r${ROOMS - 1}`]) assert.ok(!text.includes(room));
      console.log(`# ${COUNT} sockets in ${ROOMS} rooms: ${series.length} series`);
    } finally {
      child.stdin.end();
      if (child.exitCode === null) await once(child, "exit");
      await server.close();
      metrics.stop();
    }
  });
});
