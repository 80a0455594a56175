import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  type BroadcastMessage,
  CHANNELS,
  type CloseMessage,
  type ConnectMessage,
  type DropMessage,
  type EventContext,
  eventChannel,
  type ForcedCloseMessage,
  type HeartbeatMessage,
  type RefuseMessage,
} from "../observe/channels.js";
import { type Totals, trafficOf } from "../observe/traffic.js";
import type { Server } from "../server.js";

/**
 * Options of {@link collectMetrics}.
 * @example
 * const options: MetricsOptions = { register: new Registry(), prefix: "chat_ws_" };
 */
export interface MetricsOptions {
  /** The application's prom-client registry; the metrics are registered there (never in the global one). */
  readonly register: Registry;
  /** Prepended to every metric name (default "tsws_"). */
  readonly prefix?: string;
  /** Buckets of the event and request duration histogram, in seconds (default 1 ms to 10 s). */
  readonly durationBuckets?: readonly number[];
}

/**
 * What {@link collectMetrics} returns: stop it to unsubscribe and remove its metrics.
 * @example
 * const metrics = collectMetrics(server, { register }); await server.close(); metrics.stop();
 */
export interface MetricsHandle {
  stop(): void;
}

const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The TracingChannel events a subscriber does not need (its typings ask for all five). */
const IGNORED = { end() {}, asyncStart() {}, error() {} };
const STARTED: unique symbol = Symbol("tswebsockets.metrics.started");

/**
 * Registers Prometheus metrics of one server in the application's registry. Gauges are read
 * live when the registry is scraped (connections per namespace, rooms, adapter state); counters
 * follow the server's diagnostics channels. Every label is bounded: a namespace pattern, a close
 * or error code, a contract event name, a fixed kind; never a room, socket, user or raw path.
 * Messages in and direct sends are counted by the server in place (no diagnostics message per
 * message; see `Traffic`), read at scrape time; the `tswebsockets:message` channel stays for
 * subscribers that want each message.
 * @example
 * import { Registry } from "prom-client";
 * import { collectMetrics } from "tswebsockets/metrics";
 * const register = new Registry();
 * collectMetrics(server, { register });
 * app.get("/metrics", async (_req, res) => { res.type(register.contentType).send(await register.metrics()) });
 */
export function collectMetrics(server: Server, options: MetricsOptions): MetricsHandle {
  const p = options.prefix ?? "tsws_";
  const registers = [options.register];
  // Messages in and direct sends are counted by the server itself in its Traffic slot (plain
  // additions, no message object); these totals start from what it had counted when this began.
  const traffic = trafficOf(server);
  traffic.counting++;
  const startIn = new Map([...traffic.received].map(([namespace, t]) => [namespace, { ...t }]));
  const startOut = { ...traffic.sent };
  const since = (t: Totals, start: Totals | undefined): Totals => ({
    messages: t.messages - (start?.messages ?? 0),
    bytes: t.bytes - (start?.bytes ?? 0),
  });
  const received = () => [...traffic.received].map(([namespace, t]) => [namespace, since(t, startIn.get(namespace))] as const);
  const sent = { broadcast: { messages: 0, bytes: 0 } };

  new Gauge({
    name: `${p}connections`,
    help: "Open WebSocket connections on this node, by namespace pattern",
    labelNames: ["namespace"],
    registers,
    collect() {
      this.reset();
      for (const [namespace, count] of server.connectionsByNamespace()) this.set({ namespace }, count);
    },
  });
  new Gauge({
    name: `${p}rooms`,
    help: "Rooms with at least one member on this node",
    registers,
    collect() {
      this.set(server.roomCount);
    },
  });
  const connects = new Counter({ name: `${p}connects_total`, help: "Completed handshakes", labelNames: ["namespace"], registers });
  const disconnects = new Counter({
    name: `${p}disconnects_total`,
    help: "Closed connections, by namespace, close code and who started the close (peer or server)",
    labelNames: ["namespace", "code", "by"],
    registers,
  });
  const refusals = new Counter({
    name: `${p}upgrade_refusals_total`,
    help: "Upgrades refused before the handshake, by HTTP status and TSWS_* code",
    labelNames: ["status", "code"],
    registers,
  });
  const forced = new Counter({
    name: `${p}forced_closes_total`,
    help: "Sockets the server closed for a reason of its own (limit, mixin, failed hook, protocol error), by TSWS_* code",
    labelNames: ["code"],
    registers,
  });
  const dropped = new Counter({
    name: `${p}dropped_messages_total`,
    help: "Messages not delivered, by reason (slow_consumer, rate_limit, outbound_drop)",
    labelNames: ["reason"],
    registers,
  });
  trafficCounter(`${p}messages_received_total`, "Messages received from peers, by namespace", ["namespace"], registers, () =>
    received().map(([namespace, t]) => [{ namespace }, t.messages]),
  );
  trafficCounter(`${p}received_bytes_total`, "Payload bytes received from peers, by namespace", ["namespace"], registers, () =>
    received().map(([namespace, t]) => [{ namespace }, t.bytes]),
  );
  trafficCounter(`${p}messages_sent_total`, "Messages written to sockets, by kind (direct or broadcast)", ["kind"], registers, () => [
    [{ kind: "direct" }, since(traffic.sent, startOut).messages],
    [{ kind: "broadcast" }, sent.broadcast.messages],
  ]);
  trafficCounter(`${p}sent_bytes_total`, "Payload bytes written to sockets, by kind (direct or broadcast)", ["kind"], registers, () => [
    [{ kind: "direct" }, since(traffic.sent, startOut).bytes],
    [{ kind: "broadcast" }, sent.broadcast.bytes],
  ]);
  new Gauge({
    name: `${p}paused_sockets`,
    help: "Sockets whose reading is paused because maxPendingMessages wait behind a busy hook",
    registers,
    collect() {
      this.set(traffic.paused);
    },
  });
  const roundTrips = new Histogram({
    name: `${p}heartbeat_round_trip_seconds`,
    help: "Time from the server's heartbeat ping to the peer's pong",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const broadcasts = new Counter({
    name: `${p}broadcasts_total`,
    help: "Broadcasts delivered on this node, by origin (local: made here; remote: from another node)",
    labelNames: ["origin"],
    registers,
  });
  const events = new Counter({
    name: `${p}events_total`,
    help: "Events and requests handled or sent by the message layer, by namespace, contract name, kind, direction and outcome",
    labelNames: ["namespace", "event", "kind", "direction", "outcome"],
    registers,
  });
  const durations = new Histogram({
    name: `${p}event_duration_seconds`,
    help: "How long events and requests took, by namespace, contract name and kind",
    labelNames: ["namespace", "event", "kind"],
    buckets: [...(options.durationBuckets ?? DEFAULT_BUCKETS)],
    registers,
  });
  const timeouts = new Counter({
    name: `${p}request_timeouts_total`,
    help: "Requests that got no reply in time, by direction (in: client to server; out: server to client)",
    labelNames: ["direction"],
    registers,
  });
  adapterMetrics(server, p, registers);

  const mine = (m: { server: object }) => m.server === server;
  const listeners: [string, (message: unknown) => void][] = [
    [CHANNELS.connect, (m) => mine(m as ConnectMessage) && connects.inc({ namespace: (m as ConnectMessage).socket.namespace })],
    [
      CHANNELS.close,
      (m) => {
        const c = m as CloseMessage;
        if (mine(c)) disconnects.inc({ namespace: c.socket.namespace, code: closeCodeLabel(c), by: c.by });
      },
    ],
    [
      CHANNELS.refuse,
      (m) => {
        const r = m as RefuseMessage;
        if (mine(r)) refusals.inc({ status: String(r.status), code: r.code });
      },
    ],
    [CHANNELS.forcedClose, (m) => mine(m as ForcedCloseMessage) && forced.inc({ code: (m as ForcedCloseMessage).code })],
    [
      CHANNELS.drop,
      (m) => {
        const d = m as DropMessage;
        if (mine(d)) dropped.inc({ reason: d.reason }, d.count);
      },
    ],
    [
      CHANNELS.heartbeat,
      (m) => {
        const h = m as HeartbeatMessage;
        if (mine(h)) roundTrips.observe(h.ms / 1000);
      },
    ],
    [
      CHANNELS.broadcast,
      (m) => {
        const b = m as BroadcastMessage;
        if (b.server !== server) return;
        sent.broadcast.messages += b.receivers;
        sent.broadcast.bytes += b.bytes * b.receivers;
        broadcasts.inc({ origin: b.origin });
      },
    ],
  ];
  for (const [name, listener] of listeners) subscribe(name, listener);

  const traced = {
    ...IGNORED,
    start(context: EventContext) {
      if (context.server === server) context[STARTED] = performance.now();
    },
    asyncEnd(context: EventContext) {
      const started = context[STARTED];
      if (typeof started !== "number") return;
      const outcome = context.outcome ?? (context.error === undefined ? "ok" : "INTERNAL");
      const { namespace } = context.socket;
      events.inc({ namespace, event: context.event, kind: context.kind, direction: context.direction, outcome });
      durations.observe({ namespace, event: context.event, kind: context.kind }, (performance.now() - started) / 1000);
      if (outcome === "TIMEOUT") timeouts.inc({ direction: context.direction });
    },
  };
  eventChannel.subscribe(traced);

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      traffic.counting--;
      for (const [name, listener] of listeners) unsubscribe(name, listener);
      eventChannel.unsubscribe(traced);
      for (const metric of options.register.getMetricsAsArray()) {
        if (metric.name.startsWith(p)) options.register.removeSingleMetric(metric.name);
      }
    },
  };
}

/**
 * A counter whose totals live outside prom-client (plain numbers added per message): it is set to
 * them when scraped, so a message costs an addition, not a label lookup in prom-client.
 */
function trafficCounter(
  name: string,
  help: string,
  labelNames: string[],
  registers: Registry[],
  totals: () => [Record<string, string>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const [labels, value] of totals()) this.inc(labels, value);
    },
  });
}

/** Adapter counters and state, read from the adapter's `stats` when it keeps any (the Redis adapter). */
function adapterMetrics(server: Server, p: string, registers: Registry[]): void {
  if (server.adapterStats === undefined) return;
  const counters = [
    ["published", "Cluster operations carried to the other nodes"],
    ["dropped", "Cluster operations that did not reach every other node"],
    ["received", "Cluster operations received from other nodes"],
  ] as const;
  for (const [key, help] of counters) {
    new Counter({
      name: `${p}adapter_${key}_total`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(server.adapterStats?.[key] ?? 0);
      },
    });
  }
  new Gauge({
    name: `${p}adapter_connected`,
    help: "1 when the cluster adapter's link is up, else 0",
    registers,
    collect() {
      this.set(server.adapterStats?.connected === false ? 0 : 1);
    },
  });
  new Gauge({
    name: `${p}adapter_nodes`,
    help: "Nodes the cluster adapter expects a publish to reach, this one included",
    registers,
    collect() {
      this.set(server.adapterStats?.nodes ?? 1);
    },
  });
}

/**
 * Close codes as a bounded label: a peer may send any code from 3000 to 4999, so those it sends
 * are counted as "other"; codes the server sends come from the library or the application's code.
 */
function closeCodeLabel(close: CloseMessage): string {
  return close.by === "peer" && close.code >= 3000 ? "other" : String(close.code);
}
