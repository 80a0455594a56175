import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { IMPLS, type Impl } from "./cross-node-nodes.js";
import { type SaturateResult, saturate, type WasteResult, waste } from "./cross-node-scenarios.js";
import { spread } from "./stats.js";

/**
 * Cross-node benchmark: tswebsockets' Redis adapter (classic and sharded) beside Socket.IO's
 * (@socket.io/redis-adapter: `createAdapter` and `createShardedAdapter` in dynamic mode), in one
 * run, each repetition on a fresh Redis and fresh node processes. Scenarios:
 * bench/cross-node-scenarios.ts. Prints every repetition, medians (min–max) and ratios computed
 * repetition by repetition, and the load average before and after (the machine may be shared:
 * CPU figures are CPU time per delivery, which load changes far less than rates).
 *
 *   npx tsx bench/cross-node.ts [--reps 3] [--clients 500] [--seconds 4] [--publishes 4000] [--impls tsws,sio]
 */

const { values } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    clients: { type: "string", default: "500" },
    seconds: { type: "string", default: "4" },
    publishes: { type: "string", default: "4000" },
    impls: { type: "string", default: IMPLS.join(",") },
  },
});
const reps = Number(values.reps);
const perNode = Number(values.clients);
const measureMs = Number(values.seconds) * 1000;
const publishes = Number(values.publishes);
const impls = values.impls.split(",") as Impl[];
for (const impl of impls) if (!IMPLS.includes(impl)) throw new Error(`--impls: unknown "${impl}" (one of ${IMPLS.join(", ")})`);

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toLocaleString("en-US") : "–");
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" / ");

console.log(`cross-node benchmark: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`);
console.log(`load average (1/5/15 min) before: ${load()}`);
console.log(
  `${reps} repetitions; saturate: 2 nodes × ${perNode} clients, 8 outstanding, ${measureMs / 1000} s; waste: 4 nodes, ${publishes} publishes`,
);

const sat: Record<string, SaturateResult[]> = {};
const was: Record<string, WasteResult[]> = {};
for (let rep = 0; rep < reps; rep++) {
  // Rotated per repetition, so no implementation always runs first (or last) on a changing machine.
  const order = impls.map((_, i) => impls[(i + rep) % impls.length] as Impl);
  for (const impl of order) {
    const s = await saturate(impl, perNode, 1000, measureMs);
    const w = await waste(impl, publishes, 2000);
    (sat[impl] ??= []).push(s);
    (was[impl] ??= []).push(w);
    console.log(
      `rep ${rep + 1} ${impl.padEnd(12)} ${fmt(s.perSecond)} deliveries/s, ${fmt(s.cpuPerDelivery)} µs CPU/delivery ` +
        `(redis ${fmt(s.redisPerDelivery)}), cross p50/p99 ${fmt(s.crossP50)}/${fmt(s.crossP99)} ms, local p99 ${fmt(s.localP99)} ms, ` +
        `CPU ${fmt(s.cpuShare)} % | waste: ${fmt(w.arrivals)} arrivals/publish (useful ${fmt(w.useful)}, wasted ${fmt(w.wasted)}), ` +
        `member-less node ${fmt(w.idleNodeCpuPerPublish)} µs/publish, delivered ${fmt(w.delivered)}× | load ${load()}`,
    );
  }
}

const cell = (list: number[]) => {
  const s = spread(list);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
};
console.log(
  "\n| impl | deliveries/s | server CPU µs / delivery (A+B+Redis) | cross-node p50 / p99 ms | local p99 ms | arrivals / publish (nodes with members: 1) | wasted / publish | member-less node µs CPU / publish |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const impl of impls) {
  const s = sat[impl] ?? [];
  const w = was[impl] ?? [];
  console.log(
    `| ${impl} | ${cell(s.map((r) => r.perSecond))} | ${cell(s.map((r) => r.cpuPerDelivery))} | ${cell(s.map((r) => r.crossP50))} / ${cell(
      s.map((r) => r.crossP99),
    )} | ${cell(s.map((r) => r.localP99))} | ${cell(w.map((r) => r.arrivals))} | ${cell(w.map((r) => r.wasted))} | ${cell(
      w.map((r) => r.idleNodeCpuPerPublish),
    )} |`,
  );
}

console.log("\nRatios, repetition by repetition (target: fan-out ≥ 2.5×, CPU per delivery ≤ 0.4×):");
for (const ours of impls.filter((i) => i.startsWith("tsws"))) {
  for (const theirs of impls.filter((i) => i.startsWith("sio"))) {
    const pair = (f: (r: SaturateResult) => number) =>
      (sat[ours] ?? []).map((r, i) => f(r) / f((sat[theirs] ?? [])[i] ?? ({} as SaturateResult)));
    const rate = spread(pair((r) => r.perSecond));
    const cpu = spread(pair((r) => r.cpuPerDelivery));
    const p99 = spread(pair((r) => r.crossP99));
    console.log(
      `${ours} / ${theirs}: fan-out ${fmt(rate.median)}× (${fmt(rate.min)}–${fmt(rate.max)}) ${rate.median >= 2.5 ? "met" : "MISSED"}, ` +
        `CPU per delivery ${fmt(cpu.median)}× (${fmt(cpu.min)}–${fmt(cpu.max)}) ${cpu.median <= 0.4 ? "met" : "MISSED"}, ` +
        `cross p99 ${fmt(p99.median)}× (${fmt(p99.min)}–${fmt(p99.max)})`,
    );
  }
}
console.log(`\nload average (1/5/15 min) after: ${load()}`);
