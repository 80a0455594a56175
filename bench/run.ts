import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chart } from "./chart.js";
import { type Job, type Params as LoadParams, type LoadResult, SCALE_SCENARIOS, SCENARIOS, type ScenarioName } from "./load.js";
import { cpuBusy, othersShare, pinnable } from "./machine.js";
import { cpuKey, derive, type Marks, METRICS, type Metric, type RunFigures, type Summary, summarize } from "./metrics.js";
import { beforeTable, cpuTable, rivalLines, SATURATED, table } from "./report.js";
import { buildPackage, prepareCheckout } from "./servers/built.js";
import type { ServerStats } from "./servers/control.js";
import type { Protocol } from "./wire.js";

/**
 * The benchmark runner: for each run, scenario and server, starts the server in one child process
 * (pinned to CPU 0) and the load generator in another (CPU 1), collects the figures, and writes
 * the median of the runs with min–max and ratios to raw ws and to the hand-optimised ws server
 * (the ceiling) as a table, JSON and an SVG chart, with both processes' CPU beside each scenario.
 *
 *   npm run bench                       full run: 3 runs, about 8 minutes on 2 idle cores
 *   npm run bench -- --scale            the full run plus idle connections at the descriptor limit
 *   npm run bench -- --quick            tiny counts and durations, 1 run (CI checks it still works)
 *   npm run bench -- --only echo --servers tswebsockets,ws --runs 1
 *   npm run bench -- --only handshakes --servers tswebsockets,tswebsockets-rpc,tswebsockets-resume,ws
 *                                       "tswebsockets-rpc", "tswebsockets-resume" (only when named):
 *                                       handshakes to the contract namespace, without and with
 *                                       resumable sessions
 *                                       "tswebsockets-resume-src" (only when named): the same from src/
 *                                       through tsx, for an A/B of the built package against src/
 *   npm run bench -- --warmup 1000      every scenario's warm-up in ms instead of its own
 *   npm run bench -- --busy-retries 0   never replay a job that other processes disturbed (full: 2)
 *   npm run bench -- --profile          writes server CPU profiles to bench/results/profiles/
 *   npm run bench -- --before ../old    adds "tswebsockets-before": the same server file in another
 *                                       checkout (a git worktree of an older commit), played in
 *                                       turn with the others, so before and after share one run
 *   npm run bench -- --from saved.json  renders a saved report's table, JSON and chart again
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

interface ServerSpec {
  readonly name: string;
  readonly file: string;
  readonly protocol: Protocol;
  /**
   * What a handshake opens: "rpc" a socket of the contract namespace (tsws.v1 on /rpc, usable at
   * the 101), "resume" one with a resumable session (the same, usable once the welcome frame
   * arrived); by default a socket of the raw /echo namespace.
   */
  readonly handshake?: "rpc" | "resume";
}

const SERVERS: readonly ServerSpec[] = [
  { name: "tswebsockets", file: "bench/servers/tswebsockets.ts", protocol: "ws" },
  { name: "ws", file: "bench/servers/ws.ts", protocol: "ws" },
  { name: "ws-ceiling", file: "bench/servers/ws-ceiling.ts", protocol: "ws" },
  { name: "socket.io", file: "bench/servers/socketio.ts", protocol: "sio" },
];
const BASELINE = "ws";
const CEILING = "ws-ceiling";

/**
 * The descriptor limit every child raises its soft limit to (see child()): the hard limit, which
 * only a process with CAP_SYS_RESOURCE could raise further. A server holds one descriptor per
 * connection plus a few dozen of its own (stdio, IPC, epoll, the listening socket, libuv's).
 */
const DESCRIPTOR_LIMIT = Number(spawnSync("/bin/sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).stdout.trim()) || 1024;
const OWN_DESCRIPTORS = 64;

type Params = Partial<Record<ScenarioName, Partial<LoadParams>>>;

const FULL: Params = {
  echo: { connections: 100, inFlight: 16, size: 64, warmup: 2000, duration: 10_000 },
  rpc: { connections: 100, inFlight: 16, size: 64, warmup: 2000, duration: 10_000 },
  broadcastTick: { connections: 1000, interval: 10, window: 0, size: 64, warmup: 1000, duration: 4000 },
  broadcastSaturate: { connections: 1000, interval: 0, window: 8, size: 64, warmup: 1000, duration: 4000 },
  idle: { connections: 10_000, settle: 1000 },
  // 5 s: V8 is still optimising a fresh server's handshake path for its first seconds, more so the
  // more code a handshake runs (bench/handshake-warmup.ts prints it second by second): with 1 s
  // the resumable server measured 0.74x ws (src/, 15 runs), with 5 s 0.87x-0.99x (docs/resume-measured.md).
  handshakes: { openers: 50, warmup: 5000, duration: 4000 },
  // 20,000 or as many as the server's descriptor limit allows; two generators, as each holds one
  // descriptor per connection too. Only memory is read here, so sharing CPU 1 costs nothing.
  idleScale: { connections: Math.min(20_000, DESCRIPTOR_LIMIT - OWN_DESCRIPTORS), settle: 2000, generators: 2 },
};

const QUICK: Params = {
  echo: { connections: 10, inFlight: 4, size: 64, warmup: 200, duration: 400 },
  rpc: { connections: 10, inFlight: 4, size: 64, warmup: 200, duration: 400 },
  broadcastTick: { connections: 50, interval: 10, window: 0, size: 64, warmup: 100, duration: 300 },
  broadcastSaturate: { connections: 50, interval: 0, window: 4, size: 64, warmup: 100, duration: 300 },
  idle: { connections: 200, settle: 100 },
  handshakes: { openers: 5, warmup: 100, duration: 300 },
};

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    scale: { type: "boolean", default: false },
    "busy-retries": { type: "string" },
    runs: { type: "string" },
    only: { type: "string" },
    servers: { type: "string" },
    profile: { type: "boolean", default: false },
    out: { type: "string", default: join(root, "bench/results") },
    from: { type: "string" },
    before: { type: "string" },
    warmup: { type: "string" },
  },
});

const params = args.quick ? QUICK : FULL;
const runs = Number(args.runs ?? (args.quick ? 1 : 3));
const defaults: readonly ScenarioName[] = args.scale && !args.quick ? [...SCENARIOS, ...SCALE_SCENARIOS] : SCENARIOS;
const scenarios = (args.only?.split(",") ?? defaults) as ScenarioName[];
for (const s of scenarios) if (params[s] === undefined) throw new Error(`no scenario "${s}" in ${args.quick ? "quick" : "full"} mode`);
const BEFORE: readonly ServerSpec[] =
  args.before === undefined
    ? []
    : [{ name: "tswebsockets-before", file: resolve(args.before, "bench/servers/tswebsockets.ts"), protocol: "ws" }];
/**
 * Run only when `--servers` names them, for the handshakes scenario: "tswebsockets-resume" opens
 * resumable sessions, "tswebsockets-rpc" the same sockets of the contract namespace without them.
 */
const ON_REQUEST: readonly ServerSpec[] = [
  { name: "tswebsockets-resume", file: "bench/servers/tswebsockets-resume.ts", protocol: "ws", handshake: "resume" },
  { name: "tswebsockets-rpc", file: "bench/servers/tswebsockets.ts", protocol: "ws", handshake: "rpc" },
  { name: "tswebsockets-resume-src", file: "bench/servers/tswebsockets-resume-src.ts", protocol: "ws", handshake: "resume" },
];
const known = [...SERVERS, ...BEFORE];
const servers = args.servers === undefined ? known : [...known, ...ON_REQUEST].filter((s) => args.servers?.split(",").includes(s.name));
/** Above this share of a pinned CPU taken by other processes, a job is played again (full mode). */
const BUSY = 20;
const busyRetries = Number(args["busy-retries"] ?? (args.quick ? 0 : 2));
const busier = (got: Record<string, number>, scenario: ScenarioName) =>
  Math.max(got[cpuKey(scenario, "others0")] ?? 0, got[cpuKey(scenario, "others1")] ?? 0);
const pinned = pinnable;

/**
 * Starts a TypeScript file in a child node process with IPC, on one CPU when taskset exists. A
 * shell raises the descriptor limit to the hard limit first (10,000 idle sockets need more than
 * the usual 1,024), then execs, so the child keeps its pid and the IPC channel.
 */
function child(file: string, cpu: string, nodeArgs: string[] = []): ChildProcess {
  const command = [...(pinned ? ["taskset", "-c", cpu] : []), process.execPath, ...nodeArgs, "--import", "tsx", resolve(root, file)];
  const stdio: ["ignore", "inherit", "inherit", "ipc"] = ["ignore", "inherit", "inherit", "ipc"];
  return spawn("/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...command], { cwd: root, stdio });
}

function nextMessage<T>(proc: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type: string } & T) => {
      if (msg.type !== type) return;
      proc.off("message", onMessage);
      proc.off("exit", onExit);
      resolve(msg);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) while waiting for "${type}"`));
    proc.on("message", onMessage);
    proc.once("exit", onExit);
  });
}

// A child killed by a signal (the too-long guard's SIGKILL) keeps exitCode null: check both, or
// waiting for an "exit" that already fired leaves the runner with nothing to do (exit code 13).
const exited = (proc: ChildProcess) =>
  new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once("exit", () => resolve())));

/**
 * Several generators' results as one: counts and CPU time add up, the window is the longest.
 * Percentiles cannot be merged exactly; the larger is kept (only idle jobs, which have none, split).
 */
function merge(results: readonly LoadResult[]): LoadResult {
  const out: Record<string, number> = {};
  for (const result of results) {
    for (const [key, value] of Object.entries(result)) {
      const larger = key === "seconds" || key === "p50" || key === "p99";
      out[key] = out[key] === undefined ? value : larger ? Math.max(out[key], value) : out[key] + value;
    }
  }
  return out;
}

/** A scenario's load parameters, with `--warmup` (ms) in place of its own warm-up when given. */
function paramsOf(scenario: ScenarioName): Partial<LoadParams> {
  const own = params[scenario] as Partial<LoadParams>;
  return args.warmup === undefined || own.warmup === undefined ? own : { ...own, warmup: Number(args.warmup) };
}

/** One scenario against one server in fresh processes; resolves to the scenario's figures. */
async function runJob(server: ServerSpec, scenario: ScenarioName): Promise<Record<string, number>> {
  const jobParams = paramsOf(scenario);
  // One directory per job: the main thread and tsx's loader thread each write a profile there.
  const profile = args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(args.out, "profiles", `${server.name}-${scenario}`)}`] : [];
  const srv = child(server.file, "0", ["--expose-gc", ...profile]);
  const loads = Array.from({ length: jobParams.generators ?? 1 }, () => child("bench/load.ts", "1"));
  const limit = setTimeout(
    () => {
      console.error(`${server.name} ${scenario}: took too long, stopping it`);
      srv.kill("SIGKILL");
      for (const load of loads) load.kill("SIGKILL");
    },
    30_000 + 3 * Object.values(jobParams).reduce((a, b) => a + b, 0),
  );
  try {
    const { port } = await nextMessage<{ port: number }>(srv, "ready");
    const marks: Record<string, ServerStats> = {};
    const busy: Record<string, number[]> = {};
    const waiting: Record<string, number> = {};
    let id = 0;
    // A mark is a barrier: the server's stats are read once every generator has reached it.
    const onMark = (msg: { type: string; name?: string }) => {
      if (msg.type !== "mark") return;
      const name = msg.name as string;
      waiting[name] = (waiting[name] ?? 0) + 1;
      if (waiting[name] < loads.length) return;
      const gc = name === "baseline" || name === "loaded";
      busy[name] = cpuBusy();
      const reply = nextMessage<{ stats: ServerStats }>(srv, "stats");
      srv.send({ type: "stats", id: ++id, gc });
      reply.then(
        ({ stats }) => {
          marks[name] = stats;
          for (const load of loads) load.send({ type: "marked" });
        },
        () => {},
      );
    };
    const results = loads.map((load, index) => {
      load.on("message", onMark);
      const result = nextMessage<{ result: LoadResult }>(load, "result");
      const part = { index, of: loads.length };
      load.send({
        type: "run",
        scenario,
        protocol: server.protocol,
        handshake: server.handshake,
        port,
        params: jobParams,
        part,
      } satisfies Job);
      return result.then((r) => r.result);
    });
    const raw = merge(await Promise.all(results));
    // Failed handshakes and stalled broadcast pumps are not figures, but a reader must see them.
    if (raw.errors) console.warn(`${server.name} ${scenario}: ${raw.errors} handshakes failed`);
    if (raw.stalls) console.warn(`${server.name} ${scenario}: the broadcast pump stalled ${raw.stalls} times (lost deliveries)`);
    const got = derive(scenario, raw, marks as Marks);
    // What other processes took on each pinned CPU during the window (see machine.ts).
    const [from, to] = scenario === "idle" || scenario === "idleScale" ? ["baseline", "loaded"] : ["start", "end"];
    const serverCpu = (marks[to]?.cpuMicros ?? Number.NaN) - (marks[from]?.cpuMicros ?? Number.NaN);
    const seconds = raw.seconds ?? Number.NaN;
    got[cpuKey(scenario, "others0")] = othersShare(busy[from] ?? [], busy[to] ?? [], 0, serverCpu, seconds);
    got[cpuKey(scenario, "others1")] = othersShare(busy[from] ?? [], busy[to] ?? [], 1, raw.clientCpu ?? Number.NaN, seconds);
    return got;
  } finally {
    clearTimeout(limit);
    if (srv.connected) srv.send({ type: "exit" });
    else srv.kill();
    await Promise.all([exited(srv), ...loads.map(exited)]);
  }
}

/** What latest.json holds. */
interface Report extends Summary {
  readonly date: string;
  readonly mode: string;
  readonly runs: number;
  readonly seconds: number;
  readonly machine: { cpus: number; cpuModel: string; node: string; pinned: boolean };
  /** os.loadavg() (1, 5, 15 min) before and after: the machine is shared, ratios are what count. */
  readonly loadAverage?: { readonly before: number[]; readonly after: number[] };
  /** The descriptor limit of every child process (the hard limit it raised its soft limit to). */
  readonly descriptorLimit?: number;
  readonly servers: string[];
  readonly baseline: string;
  readonly ceiling?: string;
  readonly params: Partial<Params>;
  readonly metrics: readonly Metric[];
  readonly runsByServer: RunFigures;
}

/** Plays every run, scenario and server, and summarizes. */
async function measure(): Promise<Report> {
  const figures: RunFigures = {};
  const started = Date.now();
  const before = loadavg();
  console.log(
    `tswebsockets benchmark: ${args.quick ? "quick" : "full"} mode, ${runs} run(s), ${pinned ? "servers on CPU 0, load on CPU 1" : "no taskset: not pinned"}`,
  );
  console.log(`descriptor limit of each child: ${DESCRIPTOR_LIMIT}; load average before: ${before.map((l) => l.toFixed(2)).join(", ")}`);
  // tswebsockets' servers run the built package, as applications do (bench/servers/built.ts).
  if (servers.some((s) => s.name.startsWith("tswebsockets"))) buildPackage();
  if (args.before !== undefined && prepareCheckout(resolve(args.before)) === "src") {
    console.warn(
      `NOTE: ${args.before} predates bench/servers/built.ts: tswebsockets-before runs src/ through tsx, this checkout the built package (not like for like)`,
    );
  }
  for (let run = 0; run < runs; run++) {
    for (const scenario of scenarios) {
      // Rotate the order each run so that no server always goes first (or last) on a warm machine.
      const order = servers.map((_, i) => servers[(i + run) % servers.length] as ServerSpec);
      for (const server of order) {
        let got: Record<string, number>;
        try {
          got = await runJob(server, scenario);
          // A job during which other processes took much of a pinned CPU measured them, not the server.
          for (let retry = 1; retry <= busyRetries && busier(got, scenario) > BUSY; retry++) {
            console.log(
              `run ${run + 1}/${runs} ${scenario} ${server.name}: other processes took ${busier(got, scenario).toFixed(0)} % of a pinned CPU; again in 5 s (${retry}/${busyRetries})`,
            );
            await new Promise((resolve) => setTimeout(resolve, 5000));
            got = await runJob(server, scenario);
          }
        } catch (error) {
          // One failed job must not throw away the others: its figures stay empty, the exit code says so.
          console.error(`run ${run + 1}/${runs} ${scenario} ${server.name} failed:`, error);
          process.exitCode = 1;
          continue;
        }
        const mine = (figures[server.name] ??= {});
        for (const [key, value] of Object.entries(got)) (mine[key] ??= Array(runs).fill(Number.NaN))[run] = value;
        const brief = Object.entries(got)
          .filter(([k]) => !k.startsWith("cpu."))
          .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
          .join(", ");
        const cpu = (side: "server" | "load" | "others0" | "others1") => (got[cpuKey(scenario, side)] ?? Number.NaN).toFixed(0);
        const gens = params[scenario]?.generators ?? 1;
        const loadCpu = Number(cpu("load"));
        const flag = loadCpu / gens > SATURATED ? " — GENERATOR SATURATED: this figure may be the generator's limit" : "";
        console.log(
          `run ${run + 1}/${runs} ${scenario} ${server.name}: ${brief}; CPU % of a core: server ${cpu("server")}, generator ${cpu("load")}${gens > 1 ? ` (${gens} processes)` : ""}, other processes ${cpu("others0")} on CPU 0 and ${cpu("others1")} on CPU 1${flag}`,
        );
      }
    }
  }
  return {
    date: new Date().toISOString(),
    mode: args.quick ? "quick" : "full",
    runs,
    seconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", node: process.version, pinned },
    loadAverage: { before, after: loadavg() },
    descriptorLimit: DESCRIPTOR_LIMIT,
    servers: servers.map((s) => s.name),
    baseline: BASELINE,
    ceiling: CEILING,
    params: Object.fromEntries(scenarios.map((s) => [s, paramsOf(s)])),
    metrics: METRICS.filter((m) => scenarios.includes(m.scenario)),
    ...summarize(figures, BASELINE, CEILING),
    runsByServer: figures,
  };
}

// `--from file.json` only renders a saved report again (after a change to the table or chart).
const report: Report = args.from === undefined ? await measure() : JSON.parse(readFileSync(args.from, "utf8"));
console.log(`\n${table(report.metrics, report, report.servers, report.baseline, report.ceiling)}`);
const rivals = rivalLines(report.metrics, report.runsByServer, report.servers[0] as string, "socket.io");
if (rivals !== "") console.log(`\n${rivals}`);
const beforeName = "tswebsockets-before";
if (report.servers.includes(beforeName)) {
  console.log(`\nBefore and after in this run (${beforeName} is the checkout given to --before):\n`);
  console.log(beforeTable(report.metrics, report, report.runsByServer, report.servers[0] as string, beforeName));
}
console.log(`\nCPU over each measuring window, % of one core (median of runs); server on CPU 0, generator on CPU 1:\n`);
console.log(cpuTable(Object.keys(report.params) as ScenarioName[], report, report.servers, report.params));
if (report.loadAverage !== undefined) {
  const show = (l: number[]) => l.map((v) => v.toFixed(2)).join(", ");
  console.log(`\nload average (1, 5, 15 min) before: ${show(report.loadAverage.before)}; after: ${show(report.loadAverage.after)}`);
}
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(
  join(args.out, "latest.svg"),
  chart(report.metrics, report, report.servers, report.baseline, report.ceiling, report.date, report.mode),
);
console.log(`\nwrote ${join(args.out, "latest.json")} and latest.svg (the measurements took ${report.seconds} s)`);
