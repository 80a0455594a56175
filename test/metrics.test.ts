// tswebsockets/metrics against a real server and real clients: the counts match what the test
// did, no label carries a socket id, room or path, and the series stay bounded with many sockets.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import {
  BaseHandler,
  BaseMixin,
  createServer,
  DROP,
  EventError,
  type EventSocket,
  events,
  handle,
  type Message,
  MixinFail,
  Namespace,
  type Outbound,
  type Server,
  type Socket,
} from "../src/index.js";
import { collectMetrics, type MetricsHandle } from "../src/metrics/index.js";
import { Peer } from "./helpers/tsws-peer.js";
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

class NoSecrets extends BaseMixin {
  static onOutbound(_socket: Socket, m: Outbound) {
    return m === "secret" ? DROP : undefined;
  }
}

const contract = defineContract({
  client: {
    send: request(z.object({ text: z.string().min(1) }), z.object({ ok: z.boolean() }), { errors: { RATE_LIMITED: null } }),
    typing: event(z.object({ on: z.boolean() })),
  },
  server: { confirm: request(z.object({ question: z.string() }), z.boolean()) },
});

/** The real message layer; onOutbound drops what a socket sends itself as "secret". */
@Namespace("/ev")
class Ev extends events(contract, NoSecrets) {
  static events = handle(contract, {
    send(_socket, { text }) {
      if (text === "fast") throw new EventError("RATE_LIMITED");
      return { ok: true };
    },
    typing() {},
  });
  static onMessage(socket: Socket, message: Message) {
    socket.send(message); // raw clients (no tsws.v1): echo, through onOutbound
  }
}

let release: () => void = () => {};
/** A hook that waits for the test: with maxPendingMessages 2, its socket's reading pauses. */
@Namespace("/busy")
class Busy extends BaseHandler {
  static async onMessage() {
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  }
}

/** Waits until an async check holds (a metric read is async). */
async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
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
      handlers: [RoomHandler, Ev, Busy],
      host: "127.0.0.1",
      port: 0,
      maxPendingMessages: 2,
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

  it("counts the message layer's events and requests, both directions, by contract name and outcome", async () => {
    const peer = await Peer.open(`${base}/ev`);
    peer.answers.set("confirm", (data) => ((data as { question: string }).question === "slow?" ? new Promise(() => {}) : true));
    assert.deepEqual(await peer.request(1, "send", { text: "a" }), [2, 1, { ok: true }]);
    assert.deepEqual(await peer.request(2, "send", { text: "b" }), [2, 2, { ok: true }]);
    assert.equal((await peer.request(3, "send", { text: "" }))[2], "INVALID_PAYLOAD");
    assert.equal((await peer.request(4, "send", { text: "fast" }))[2], "RATE_LIMITED");
    assert.equal((await peer.request(5, "nowhere-secret-name", {}))[2], "UNKNOWN_EVENT");
    peer.send([0, "typing", { on: true }]);
    peer.send([0, "typing", { on: "yes" }]);
    await peer.request(6, "send", { text: "after the events" }); // the socket's queue is ordered: the events are done
    const socket = [...server.sockets()].find((s) => s.namespace === "/ev") as EventSocket<typeof contract>;
    assert.equal(await socket.request("confirm", { question: "ok?" }), true);
    await assert.rejects(socket.request("confirm", { question: "slow?" }, { timeoutMs: 50 }), { code: "TIMEOUT" });
    await peer.close();

    const events = (labels: Record<string, string>) => value(register, "tsws_events_total", { namespace: "/ev", ...labels });
    const inbound = { kind: "request", direction: "in" };
    assert.equal(await events({ ...inbound, event: "send", outcome: "ok" }), 3);
    assert.equal(await events({ ...inbound, event: "send", outcome: "INVALID_PAYLOAD" }), 1);
    assert.equal(await events({ ...inbound, event: "send", outcome: "RATE_LIMITED" }), 1);
    assert.equal(await events({ ...inbound, event: "", outcome: "UNKNOWN_EVENT" }), 1);
    assert.equal(await events({ kind: "event", direction: "in", event: "typing", outcome: "ok" }), 1);
    assert.equal(await events({ kind: "event", direction: "in", event: "typing", outcome: "INVALID_PAYLOAD" }), 1);
    assert.equal(await events({ kind: "request", direction: "out", event: "confirm", outcome: "ok" }), 1);
    assert.equal(await events({ kind: "request", direction: "out", event: "confirm", outcome: "TIMEOUT" }), 1);
    assert.equal(await value(register, "tsws_request_timeouts_total", { direction: "out" }), 1);
    assert.equal(await value(register, "tsws_request_timeouts_total", { direction: "in" }), 0);
    const durations = await register.getSingleMetric("tsws_event_duration_seconds")?.get();
    const count = durations?.values.find(
      (v) => (v as { metricName?: string }).metricName === "tsws_event_duration_seconds_count" && v.labels.event === "send",
    );
    assert.equal(count?.value, 5);
    assert.ok(!(await register.metrics()).includes("nowhere-secret-name"), "a name outside the contract is never a label");
  });

  it("counts paused sockets and messages an onOutbound hook dropped", async () => {
    const busy = await Client.open(`${base}/busy`);
    for (let i = 0; i < 3; i++) busy.send(`m${i}`); // one runs, two wait: reading pauses
    await eventually(async () => (await value(register, "tsws_paused_sockets")) === 1, "one paused socket");
    for (let i = 0; i < 3; i++) {
      release();
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(async () => (await value(register, "tsws_paused_sockets")) === 0, "no paused socket");
    await busy.close();

    const raw = await Client.open(`${base}/ev`); // no tsws.v1: the raw onMessage echoes
    raw.send("secret");
    raw.send("plain");
    assert.deepEqual(await raw.received(1), ["plain"]);
    await raw.close();
    assert.equal(await value(register, "tsws_dropped_messages_total", { reason: "outbound_drop" }), 1);
  });

  it("observes the heartbeat's round trip", async () => {
    const other = createServer({ handlers: [RoomHandler], host: "127.0.0.1", port: 0, heartbeatInterval: 30, logger: quietLogger() });
    const register = new Registry();
    const metrics = collectMetrics(other, { register });
    const c = await Client.open(`${await start(other)}/room/beat`);
    const pongs = async () => {
      const { values } = (await register.getSingleMetric("tsws_heartbeat_round_trip_seconds")?.get()) ?? { values: [] };
      return values.find((v) => (v as { metricName?: string }).metricName === "tsws_heartbeat_round_trip_seconds_count")?.value ?? 0;
    };
    await eventually(async () => (await pongs()) >= 2, "two pongs observed");
    await c.close();
    await other.close();
    metrics.stop();
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
