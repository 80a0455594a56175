import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { type FanoutResult, fanout } from "./cross-node-fanout.js";
import { IMPLS, type Impl } from "./cross-node-nodes.js";
import { type WasteResult, waste } from "./cross-node-waste.js";
import { buildPackage } from "./servers/built.js";
import { spread } from "./stats.js";

/**
 * Cross-node benchmark: tswebsockets' Redis adapter (classic and sharded) beside Socket.IO's
 * (@socket.io/redis-adapter: `createAdapter` and `createShardedAdapter` in dynamic mode), in one
 * run, each repetition on a fresh Redis and fresh node processes. Scenarios: fan-out (paced, then
 * saturated at a window searched per run: bench/cross-node-fanout.ts) and waste
 * (bench/cross-node-waste.ts). Prints every repetition, medians (min–max) and ratios computed
 * repetition by repetition, the load average before and after, and with --json writes it all to a
 * file. CPU figures are CPU time per delivery, which load changes far less than rates.
 *
 *   npx tsx bench/cross-node.ts [--reps 3] [--clients 500] [--paced 20] [--max-window 1024] [--max-queue 1000]
 *     [--seconds 4] [--publishes 4000] [--impls tsws,sio] [--json bench/results/cross-node.json]
 */

const { values } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    clients: { type: "string", default: "500" },
    paced: { type: "string", default: "20" },
    "max-window": { type: "string", default: "1024" },
    "max-queue": { type: "string", default: "1000" },
    seconds: { type: "string", default: "4" },
    publishes: { type: "string", default: "4000" },
    impls: { type: "string", default: IMPLS.join(",") },
    json: { type: "string" },
  },
});
const reps = Number(values.reps);
const options = {
  perNode: Number(values.clients),
  warmupMs: 1000,
  pacedPerSecond: Number(values.paced),
  pacedMs: 3000,
  stepMs: 1000,
  maxWindow: Number(values["max-window"]),
  maxQueueMs: Number(values["max-queue"]),
  measureMs: Number(values.seconds) * 1000,
};
const publishes = Number(values.publishes);
const impls = values.impls.split(",") as Impl[];
for (const impl of impls) if (!IMPLS.includes(impl)) throw new Error(`--impls: unknown "${impl}" (one of ${IMPLS.join(", ")})`);

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toLocaleString("en-US") : "–");
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" / ");

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`;
// tswebsockets' nodes run the built package, as applications do (bench/servers/built.ts).
if (impls.some((impl) => impl.startsWith("tsws"))) buildPackage();
const loadBefore = load();
console.log(`cross-node benchmark: ${machine}`);
console.log(`load average (1/5/15 min) before: ${loadBefore}`);
console.log(
  `${reps} repetitions; fan-out: 2 nodes × ${options.perNode} clients in one room; paced ${options.pacedPerSecond} broadcasts/s ` +
    `(${fmt(options.pacedPerSecond * 2 * options.perNode)} deliveries/s) for ${options.pacedMs / 1000} s; window doubled from 8 ` +
    `while the rate rises ≥ 5 % (≤ ${options.maxWindow}, mean queueing < ${options.maxQueueMs} ms), then ${options.measureMs / 1000} s saturated; waste: 4 nodes, ${publishes} publishes`,
);
console.log(
  "CPU shares: % of one core (servers = both nodes + Redis; generator = this process: sender and all clients); machine = % of all cores, anyone's",
);

const fan: Record<string, FanoutResult[]> = {};
const was: Record<string, WasteResult[]> = {};
for (let rep = 0; rep < reps; rep++) {
  // Rotated per repetition, so no implementation always runs first (or last) on a changing machine.
  const order = impls.map((_, i) => impls[(i + rep) % impls.length] as Impl);
  for (const impl of order) {
    const f = await fanout(impl, options);
    const w = await waste(impl, publishes, 2000);
    (fan[impl] ??= []).push(f);
    (was[impl] ??= []).push(w);
    const s = f.saturated;
    const p = f.paced;
    console.log(
      `rep ${rep + 1} ${impl.padEnd(12)} saturated: ${fmt(s.perSecond)} deliveries/s at window ${f.window}${f.plateau ? "" : " (still rising when the search stopped)"}, ` +
        `${fmt(s.cpuPerDelivery)} µs CPU/delivery (redis ${fmt(s.redisPerDelivery)}), CPU servers ${fmt(s.serverShare)} % + generator ${fmt(s.generatorShare)} %${s.generatorShare >= 90 ? " (generator-bound: one process near a whole core)" : ""}, ` +
        `machine ${fmt(s.machineBusy)} % busy, queueing ${fmt(s.queueMs)} ms (mean); windows ${f.steps.map((x) => `${x.window}:${fmt(x.perSecond, 2)}`).join(" ")}`,
    );
    console.log(
      `    ${" ".repeat(12)} paced: ${fmt(p.perSecond)} deliveries/s, ${fmt(p.cpuPerDelivery)} µs CPU/delivery, local p50/p99 ${fmt(p.localP50)}/${fmt(p.localP99)} ms, ` +
        `cross p50/p99 ${fmt(p.crossP50)}/${fmt(p.crossP99)} ms, CPU servers ${fmt(p.serverShare)} % (idle ${fmt(f.idleServerShare)} %) + generator ${fmt(p.generatorShare)} % | waste: ` +
        `${fmt(w.arrivals)} arrivals/publish (useful ${fmt(w.useful)}, wasted ${fmt(w.wasted)}), member-less node ${fmt(w.idleNodeCpuPerPublish)} µs/publish, ` +
        `delivered ${fmt(w.delivered)}× | load ${load()}`,
    );
  }
}

const cell = (list: number[], digits = 3) => {
  const s = spread(list);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
};
const of = (impl: Impl) => fan[impl] ?? [];
console.log(
  "\nSaturated fan-out:\n| impl | deliveries/s | window | server CPU µs / delivery (A+B+Redis) | CPU % of a core: servers / generator | machine busy % |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const impl of impls) {
  const s = of(impl).map((r) => r.saturated);
  console.log(
    `| ${impl} | ${cell(s.map((r) => r.perSecond))} | ${cell(of(impl).map((r) => r.window))} | ${cell(s.map((r) => r.cpuPerDelivery))} | ` +
      `${cell(s.map((r) => r.serverShare))} / ${cell(s.map((r) => r.generatorShare))} | ${cell(s.map((r) => r.machineBusy))} |`,
  );
}
const windows = [...new Set(impls.flatMap((impl) => of(impl).flatMap((r) => r.steps.map((x) => x.window))))].sort((x, y) => x - y);
const stepsAt = (impl: Impl, w: number) => of(impl).flatMap((r) => r.steps.filter((x) => x.window === w));
console.log(
  "\nThe search, window by window: deliveries/s and server CPU µs / delivery (medians over the repetitions that tried the window; 1 s each, after it filled):",
);
console.log(`| impl | ${windows.join(" | ")} |\n| --- |${" --- |".repeat(windows.length)}`);
for (const impl of impls) {
  const at = (w: number) => {
    const steps = stepsAt(impl, w);
    if (steps.length === 0) return "–";
    return `${fmt(spread(steps.map((x) => x.perSecond)).median, 2)} / ${fmt(spread(steps.map((x) => x.cpuPerDelivery)).median, 2)}`;
  };
  console.log(`| ${impl} | ${windows.map(at).join(" | ")} |`);
}
console.log(
  `\nPaced at ${fmt(options.pacedPerSecond * 2 * options.perNode)} deliveries/s, and waste:\n| impl | server CPU µs / delivery | local p50 / p99 ms | cross-node p50 / p99 ms | arrivals / publish (nodes with members: 1) | wasted / publish | member-less node µs CPU / publish |`,
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const impl of impls) {
  const p = of(impl).map((r) => r.paced);
  const w = was[impl] ?? [];
  console.log(
    `| ${impl} | ${cell(p.map((r) => r.cpuPerDelivery))} | ${cell(p.map((r) => r.localP50))} / ${cell(p.map((r) => r.localP99))} | ` +
      `${cell(p.map((r) => r.crossP50))} / ${cell(p.map((r) => r.crossP99))} | ${cell(w.map((r) => r.arrivals))} | ${cell(w.map((r) => r.wasted))} | ` +
      `${cell(w.map((r) => r.idleNodeCpuPerPublish))} |`,
  );
}

console.log("\nRatios, repetition by repetition (target: saturated fan-out ≥ 2.5×, CPU per delivery ≤ 0.4×):");
const ratios: Record<string, Record<string, { median: number; min: number; max: number }>> = {};
for (const ours of impls.filter((i) => i.startsWith("tsws"))) {
  for (const theirs of impls.filter((i) => i.startsWith("sio"))) {
    const pair = (f: (r: FanoutResult) => number) => spread(of(ours).map((r, i) => f(r) / f(of(theirs)[i] as FanoutResult)));
    const rate = pair((r) => r.saturated.perSecond);
    const cpu = pair((r) => r.saturated.cpuPerDelivery);
    const pacedCpu = pair((r) => r.paced.cpuPerDelivery);
    const p99 = pair((r) => r.paced.crossP99);
    ratios[`${ours} / ${theirs}`] = { fanout: rate, cpuPerDelivery: cpu, pacedCpuPerDelivery: pacedCpu, pacedCrossP99: p99 };
    const r = (x: { median: number; min: number; max: number }) => `${fmt(x.median)}× (${fmt(x.min)}–${fmt(x.max)})`;
    console.log(
      `${ours} / ${theirs}: fan-out ${r(rate)} ${rate.median >= 2.5 ? "met" : "MISSED"}, CPU per delivery saturated ${r(cpu)} ` +
        `${cpu.median <= 0.4 ? "met" : "MISSED"}, paced ${r(pacedCpu)}, paced cross p99 ${r(p99)}`,
    );
  }
}
console.log(`\nAt equal windows (every window both tried in a repetition; fan-out ratio / CPU per delivery ratio, medians):`);
for (const ours of impls.filter((i) => i.startsWith("tsws"))) {
  for (const theirs of impls.filter((i) => i.startsWith("sio"))) {
    const cells = windows.flatMap((w) => {
      const pairs = of(ours).flatMap((r, i) => {
        const x = r.steps.find((t) => t.window === w);
        const y = of(theirs)[i]?.steps.find((t) => t.window === w);
        return x === undefined || y === undefined ? [] : [[x.perSecond / y.perSecond, x.cpuPerDelivery / y.cpuPerDelivery] as const];
      });
      if (pairs.length === 0) return [];
      return [`${w}: ${fmt(spread(pairs.map((p) => p[0])).median)}× / ${fmt(spread(pairs.map((p) => p[1])).median)}×`];
    });
    console.log(`${ours} / ${theirs}: ${cells.join(", ")}`);
  }
}
const loadAfter = load();
console.log(`\nload average (1/5/15 min) after: ${loadAfter}`);
if (values.json !== undefined) {
  const report = { date: new Date().toISOString(), machine, loadBefore, loadAfter, options, publishes, fanout: fan, waste: was, ratios };
  writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
