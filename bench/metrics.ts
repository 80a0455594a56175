import type { LoadResult, ResultKey, ScenarioName } from "./load.js";
import type { ServerStats } from "./servers/control.js";
import { type Spread, spread } from "./stats.js";

/** One figure the report shows, how to read it, and the target tswebsockets has against raw ws. */
export interface Metric {
  readonly key: string;
  readonly scenario: ScenarioName;
  readonly label: string;
  readonly unit: string;
  readonly better: "higher" | "lower";
  /** The ratio to raw ws tswebsockets must reach (≥ for higher-is-better, ≤ for lower). */
  readonly target?: number;
  /** An absolute floor for tswebsockets' own figure (the share of broadcasts delivered). */
  readonly floor?: number;
}

export const METRICS: readonly Metric[] = [
  { key: "echoRate", scenario: "echo", label: "echo throughput", unit: "msg/s", better: "higher", target: 1.0 },
  { key: "echoP50", scenario: "echo", label: "echo round trip p50", unit: "ms", better: "lower" },
  { key: "echoP99", scenario: "echo", label: "echo round trip p99", unit: "ms", better: "lower", target: 1.0 },
  { key: "echoCpu", scenario: "echo", label: "echo server CPU per message", unit: "µs", better: "lower" },
  { key: "echoClient", scenario: "echo", label: "echo client CPU", unit: "% core", better: "lower" },
  { key: "tickDelivered", scenario: "broadcastTick", label: "broadcast/10 ms delivered", unit: "%", better: "higher", floor: 100 },
  { key: "tickP99", scenario: "broadcastTick", label: "broadcast/10 ms latency p99", unit: "ms", better: "lower", target: 1.0 },
  { key: "tickCpu", scenario: "broadcastTick", label: "broadcast/10 ms server CPU", unit: "% core", better: "lower", target: 1.0 },
  { key: "tickClient", scenario: "broadcastTick", label: "broadcast/10 ms client CPU", unit: "% core", better: "lower" },
  { key: "satRate", scenario: "broadcastSaturate", label: "broadcast saturated deliveries", unit: "/s", better: "higher", target: 1.2 },
  { key: "satCpu", scenario: "broadcastSaturate", label: "broadcast server CPU per delivery", unit: "µs", better: "lower" },
  { key: "satClient", scenario: "broadcastSaturate", label: "broadcast saturated client CPU", unit: "% core", better: "lower" },
  { key: "idleRss", scenario: "idle", label: "idle RSS per connection", unit: "KiB", better: "lower", target: 1.2 },
  { key: "idleHeap", scenario: "idle", label: "idle heap per connection", unit: "KiB", better: "lower", target: 1.5 },
  { key: "hsRate", scenario: "handshakes", label: "handshakes", unit: "/s", better: "higher", target: 0.9 },
  { key: "hsP99", scenario: "handshakes", label: "handshake open latency p99", unit: "ms", better: "lower" },
  { key: "hsCpu", scenario: "handshakes", label: "handshake server CPU per connection", unit: "µs", better: "lower" },
  { key: "hsClient", scenario: "handshakes", label: "handshake client CPU", unit: "% core", better: "lower" },
];

/** The server's stats at the marks of one job, by mark name. */
export type Marks = Readonly<Record<string, ServerStats>>;

const cpuShare = (micros: number, seconds: number) => (100 * micros) / (seconds * 1e6);

/** Turns one job's raw counts and the server's stats into the figures of its scenario. */
export function derive(scenario: ScenarioName, raw: LoadResult, marks: Marks): Record<string, number> {
  const r = raw as Record<ResultKey, number>;
  const serverCpu = (marks.end?.cpuMicros ?? Number.NaN) - (marks.start?.cpuMicros ?? Number.NaN);
  switch (scenario) {
    case "echo":
      return {
        echoRate: r.messages / r.seconds,
        echoP50: r.p50,
        echoP99: r.p99,
        echoCpu: serverCpu / r.messages,
        echoClient: cpuShare(r.clientCpu, r.seconds),
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
    case "idle": {
      const base = marks.baseline as ServerStats;
      const loaded = marks.loaded as ServerStats;
      return {
        idleRss: (loaded.rss - base.rss) / r.connections / 1024,
        idleHeap: (loaded.heapUsed - base.heapUsed) / r.connections / 1024,
      };
    }
    case "handshakes":
      return { hsRate: r.opened / r.seconds, hsP99: r.p99, hsCpu: serverCpu / r.opened, hsClient: cpuShare(r.clientCpu, r.seconds) };
  }
}

/** Every run's figures: server → metric → one value per run. */
export type RunFigures = Record<string, Record<string, number[]>>;

/** Medians with min–max, and ratios to the baseline server computed run by run. */
export interface Summary {
  readonly values: Record<string, Record<string, Spread>>;
  readonly ratios: Record<string, Record<string, Spread>>;
}

export function summarize(figures: RunFigures, baseline: string): Summary {
  const values: Summary["values"] = {};
  const ratios: Summary["ratios"] = {};
  for (const [server, byMetric] of Object.entries(figures)) {
    values[server] = {};
    ratios[server] = {};
    for (const [key, runs] of Object.entries(byMetric)) {
      (values[server] as Record<string, Spread>)[key] = spread(runs);
      const base = figures[baseline]?.[key] ?? [];
      (ratios[server] as Record<string, Spread>)[key] = spread(runs.map((v, i) => v / (base[i] as number)));
    }
  }
  return { values, ratios };
}

/** Whether tswebsockets meets a metric's target in a summary; undefined when it has none. */
export function verdict(metric: Metric, summary: Summary, subject: string): boolean | undefined {
  if (metric.floor !== undefined) return (summary.values[subject]?.[metric.key]?.median ?? Number.NaN) >= metric.floor;
  if (metric.target === undefined) return undefined;
  const ratio = summary.ratios[subject]?.[metric.key]?.median ?? Number.NaN;
  return metric.better === "higher" ? ratio >= metric.target : ratio <= metric.target;
}
