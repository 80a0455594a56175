import type { LoadResult, ResultKey, ScenarioName } from "./load.js";
import type { ServerStats } from "./servers/control.js";
import { type Spread, spread } from "./stats.js";

/** One figure the report shows, how to read it, and the targets tswebsockets has against the baselines. */
export interface Metric {
  readonly key: string;
  readonly scenario: ScenarioName;
  readonly label: string;
  readonly unit: string;
  readonly better: "higher" | "lower";
  /** The ratio to raw ws tswebsockets must reach (≥ for higher-is-better, ≤ for lower). */
  readonly target?: number;
  /** The ratio to the hand-optimised ws server (the ceiling) tswebsockets must reach. */
  readonly ceilingTarget?: number;
  /** An absolute floor for tswebsockets' own figure (the share of broadcasts delivered). */
  readonly floor?: number;
  /** The ratio to Socket.IO tswebsockets must reach (printed under the table; issue 13's request/reply). */
  readonly socketioTarget?: number;
}

export const METRICS: readonly Metric[] = [
  { key: "echoRate", scenario: "echo", label: "echo throughput", unit: "msg/s", better: "higher", target: 1.0, ceilingTarget: 0.95 },
  { key: "echoP50", scenario: "echo", label: "echo round trip p50", unit: "ms", better: "lower" },
  { key: "echoP99", scenario: "echo", label: "echo round trip p99", unit: "ms", better: "lower", target: 1.0 },
  { key: "echoCpu", scenario: "echo", label: "echo server CPU per message", unit: "µs", better: "lower" },
  { key: "echoClient", scenario: "echo", label: "echo client CPU", unit: "% core", better: "lower" },
  {
    key: "rpcRate",
    scenario: "rpc",
    label: "request/reply (zod both ways)",
    unit: "replies/s",
    better: "higher",
    target: 1.5,
    socketioTarget: 2.0,
  },
  { key: "rpcP99", scenario: "rpc", label: "request/reply round trip p99", unit: "ms", better: "lower" },
  { key: "rpcCpu", scenario: "rpc", label: "request/reply server CPU per reply", unit: "µs", better: "lower" },
  { key: "rpcClient", scenario: "rpc", label: "request/reply client CPU", unit: "% core", better: "lower" },
  { key: "tickDelivered", scenario: "broadcastTick", label: "broadcast/10 ms delivered", unit: "%", better: "higher", floor: 100 },
  { key: "tickP99", scenario: "broadcastTick", label: "broadcast/10 ms latency p99", unit: "ms", better: "lower", target: 1.0 },
  { key: "tickCpu", scenario: "broadcastTick", label: "broadcast/10 ms server CPU", unit: "% core", better: "lower", target: 1.0 },
  { key: "tickClient", scenario: "broadcastTick", label: "broadcast/10 ms client CPU", unit: "% core", better: "lower" },
  {
    key: "satRate",
    scenario: "broadcastSaturate",
    label: "broadcast saturated deliveries",
    unit: "/s",
    better: "higher",
    target: 1.2,
    ceilingTarget: 0.95,
  },
  { key: "satCpu", scenario: "broadcastSaturate", label: "broadcast server CPU per delivery", unit: "µs", better: "lower" },
  { key: "satClient", scenario: "broadcastSaturate", label: "broadcast saturated client CPU", unit: "% core", better: "lower" },
  { key: "idleRss", scenario: "idle", label: "idle RSS per connection", unit: "KiB", better: "lower", target: 1.2 },
  { key: "idleHeap", scenario: "idle", label: "idle heap per connection", unit: "KiB", better: "lower", target: 1.2 },
  { key: "scaleRss", scenario: "idleScale", label: "idle RSS per connection at scale", unit: "KiB", better: "lower" },
  { key: "scaleHeap", scenario: "idleScale", label: "idle heap per connection at scale", unit: "KiB", better: "lower" },
  { key: "hsRate", scenario: "handshakes", label: "handshakes", unit: "/s", better: "higher", target: 0.9, ceilingTarget: 1.0 },
  { key: "hsP99", scenario: "handshakes", label: "handshake open latency p99", unit: "ms", better: "lower" },
  { key: "hsCpu", scenario: "handshakes", label: "handshake server CPU per connection", unit: "µs", better: "lower" },
  { key: "hsClient", scenario: "handshakes", label: "handshake client CPU", unit: "% core", better: "lower" },
];

/** The server's stats at the marks of one job, by mark name. */
export type Marks = Readonly<Record<string, ServerStats>>;

const cpuShare = (micros: number, seconds: number) => (100 * micros) / (seconds * 1e6);

/** The key under which a job's server or load-generator CPU (% of one core) is kept. */
export const cpuKey = (scenario: ScenarioName, side: "server" | "load" | "others0" | "others1") => `cpu.${scenario}.${side}`;

/**
 * Turns one job's raw counts and the server's stats into the figures of its scenario, plus the
 * server's and the load generator's CPU over the measuring window (for idle: while opening), so a
 * saturated generator shows beside every figure it produced.
 */
export function derive(scenario: ScenarioName, raw: LoadResult, marks: Marks): Record<string, number> {
  const r = raw as Record<ResultKey, number>;
  const opening = scenario === "idle" || scenario === "idleScale";
  const [from, to] = opening ? ["baseline", "loaded"] : ["start", "end"];
  const serverCpu = (marks[to]?.cpuMicros ?? Number.NaN) - (marks[from]?.cpuMicros ?? Number.NaN);
  const cpu = {
    [cpuKey(scenario, "server")]: cpuShare(serverCpu, r.seconds),
    [cpuKey(scenario, "load")]: cpuShare(r.clientCpu, r.seconds),
  };
  return { ...figures(scenario, r, marks, serverCpu), ...cpu };
}

function figures(scenario: ScenarioName, r: Record<ResultKey, number>, marks: Marks, serverCpu: number): Record<string, number> {
  switch (scenario) {
    case "echo":
      return {
        echoRate: r.messages / r.seconds,
        echoP50: r.p50,
        echoP99: r.p99,
        echoCpu: serverCpu / r.messages,
        echoClient: cpuShare(r.clientCpu, r.seconds),
      };
    case "rpc":
      return {
        rpcRate: r.messages / r.seconds,
        rpcP99: r.p99,
        rpcCpu: serverCpu / r.messages,
        rpcClient: cpuShare(r.clientCpu, r.seconds),
      };
    case "broadcastTick":
      return {
        tickDelivered: (100 * r.received) / r.expected,
        tickP99: r.p99,
        tickCpu: cpuShare(serverCpu, r.seconds),
        tickClient: cpuShare(r.clientCpu, r.seconds),
      };
    case "broadcastSaturate":
      return {
        satRate: r.received / r.seconds,
        satCpu: serverCpu / r.received,
        satClient: cpuShare(r.clientCpu, r.seconds),
      };
    case "idle":
    case "idleScale": {
      const base = marks.baseline as ServerStats;
      const loaded = marks.loaded as ServerStats;
      const rss = (loaded.rss - base.rss) / r.connections / 1024;
      const heap = (loaded.heapUsed - base.heapUsed) / r.connections / 1024;
      return scenario === "idle" ? { idleRss: rss, idleHeap: heap } : { scaleRss: rss, scaleHeap: heap, scaleConnections: r.connections };
    }
    case "handshakes":
      return { hsRate: r.opened / r.seconds, hsP99: r.p99, hsCpu: serverCpu / r.opened, hsClient: cpuShare(r.clientCpu, r.seconds) };
  }
}

/** Every run's figures: server → metric → one value per run. */
export type RunFigures = Record<string, Record<string, number[]>>;

/**
 * Medians with min–max, and ratios computed run by run to raw ws (`ratios`) and to the
 * hand-optimised ws server (`ceilingRatios`, absent from reports made before it existed).
 */
export interface Summary {
  readonly values: Record<string, Record<string, Spread>>;
  readonly ratios: Record<string, Record<string, Spread>>;
  readonly ceilingRatios?: Record<string, Record<string, Spread>>;
}

type Table = Record<string, Record<string, Spread>>;

/** Each server's figures as ratios to `baseline`'s figure of the same run. */
function ratiosTo(figures: RunFigures, baseline: string): Table {
  const out: Table = {};
  for (const [server, byMetric] of Object.entries(figures)) {
    const mine: Record<string, Spread> = (out[server] = {});
    for (const [key, runs] of Object.entries(byMetric)) {
      const base = figures[baseline]?.[key] ?? [];
      mine[key] = spread(runs.map((v, i) => v / (base[i] as number)));
    }
  }
  return out;
}

export function summarize(figures: RunFigures, baseline: string, ceiling: string): Summary {
  const values: Table = {};
  for (const [server, byMetric] of Object.entries(figures)) {
    values[server] = Object.fromEntries(Object.entries(byMetric).map(([key, runs]) => [key, spread(runs)]));
  }
  return { values, ratios: ratiosTo(figures, baseline), ceilingRatios: ratiosTo(figures, ceiling) };
}

/**
 * Whether tswebsockets meets a metric's target against raw ws (`against` "ws", with the absolute
 * floor) or against the ceiling; undefined when it has no such target.
 */
export function verdict(metric: Metric, summary: Summary, subject: string, against: "ws" | "ceiling" = "ws"): boolean | undefined {
  if (against === "ws" && metric.floor !== undefined) {
    return (summary.values[subject]?.[metric.key]?.median ?? Number.NaN) >= metric.floor;
  }
  const target = against === "ws" ? metric.target : metric.ceilingTarget;
  if (target === undefined) return undefined;
  const table = against === "ws" ? summary.ratios : summary.ceilingRatios;
  const ratio = table?.[subject]?.[metric.key]?.median ?? Number.NaN;
  return metric.better === "higher" ? ratio >= target : ratio <= target;
}
