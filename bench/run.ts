import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chart } from "./chart.js";
import { type Job, type Params as LoadParams, type LoadResult, SCENARIOS, type ScenarioName } from "./load.js";
import { derive, type Marks, METRICS, type Metric, type RunFigures, type Summary, summarize } from "./metrics.js";
import { table } from "./report.js";
import type { ServerStats } from "./servers/control.js";
import type { Protocol } from "./wire.js";

/**
 * The benchmark runner: for each run, scenario and server, starts the server in one child process
 * (pinned to CPU 0) and the load generator in another (CPU 1), collects the figures, and writes
 * the median of the runs with min–max and ratios to raw ws as a table, JSON and an SVG chart.
 *
 *   npm run bench                       full run: 3 runs, about 6 minutes on 2 idle cores
 *   npm run bench -- --quick            tiny counts and durations, 1 run (CI checks it still works)
 *   npm run bench -- --only echo --servers tswebsockets,ws --runs 1
 *   npm run bench -- --profile          writes server CPU profiles to bench/results/profiles/
 *   npm run bench -- --from saved.json  renders a saved report's table, JSON and chart again
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

interface ServerSpec {
  readonly name: string;
  readonly file: string;
  readonly protocol: Protocol;
}

const SERVERS: readonly ServerSpec[] = [
  { name: "tswebsockets", file: "bench/servers/tswebsockets.ts", protocol: "ws" },
  { name: "ws", file: "bench/servers/ws.ts", protocol: "ws" },
  { name: "socket.io", file: "bench/servers/socketio.ts", protocol: "sio" },
];
const BASELINE = "ws";

type Params = Record<ScenarioName, Partial<LoadParams>>;

const FULL: Params = {
  echo: { connections: 100, inFlight: 16, size: 64, warmup: 2000, duration: 10_000 },
  broadcastTick: { connections: 1000, interval: 10, window: 0, size: 64, warmup: 1000, duration: 4000 },
  broadcastSaturate: { connections: 1000, interval: 0, window: 8, size: 64, warmup: 1000, duration: 4000 },
  idle: { connections: 10_000, settle: 1000 },
  handshakes: { openers: 50, warmup: 1000, duration: 4000 },
};

const QUICK: Params = {
  echo: { connections: 10, inFlight: 4, size: 64, warmup: 200, duration: 400 },
  broadcastTick: { connections: 50, interval: 10, window: 0, size: 64, warmup: 100, duration: 300 },
  broadcastSaturate: { connections: 50, interval: 0, window: 4, size: 64, warmup: 100, duration: 300 },
  idle: { connections: 200, settle: 100 },
  handshakes: { openers: 5, warmup: 100, duration: 300 },
};

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    only: { type: "string" },
    servers: { type: "string" },
    profile: { type: "boolean", default: false },
    out: { type: "string", default: join(root, "bench/results") },
    from: { type: "string" },
  },
});

const params = args.quick ? QUICK : FULL;
const runs = Number(args.runs ?? (args.quick ? 1 : 3));
const scenarios = (args.only?.split(",") ?? SCENARIOS) as ScenarioName[];
const servers = args.servers === undefined ? SERVERS : SERVERS.filter((s) => args.servers?.split(",").includes(s.name));
const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/**
 * Starts a TypeScript file in a child node process with IPC, on one CPU when taskset exists. A
 * shell raises the descriptor limit to the hard limit first (10,000 idle sockets need more than
 * the usual 1,024), then execs, so the child keeps its pid and the IPC channel.
 */
function child(file: string, cpu: string, nodeArgs: string[] = []): ChildProcess {
  const command = [...(pinned ? ["taskset", "-c", cpu] : []), process.execPath, ...nodeArgs, "--import", "tsx", join(root, file)];
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

const exited = (proc: ChildProcess) =>
  new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once("exit", () => resolve())));

/** One scenario against one server in fresh processes; resolves to the scenario's figures. */
async function runJob(server: ServerSpec, scenario: ScenarioName): Promise<Record<string, number>> {
  // One directory per job: the main thread and tsx's loader thread each write a profile there.
  const profile = args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(args.out, "profiles", `${server.name}-${scenario}`)}`] : [];
  const srv = child(server.file, "0", ["--expose-gc", ...profile]);
  const load = child("bench/load.ts", "1");
  const limit = setTimeout(
    () => {
      console.error(`${server.name} ${scenario}: took too long, stopping it`);
      srv.kill("SIGKILL");
      load.kill("SIGKILL");
    },
    30_000 + 3 * Object.values(params[scenario]).reduce((a, b) => a + b, 0),
  );
  try {
    const { port } = await nextMessage<{ port: number }>(srv, "ready");
    const marks: Record<string, ServerStats> = {};
    let id = 0;
    load.on("message", (msg: { type: string; name?: string }) => {
      if (msg.type !== "mark") return;
      const gc = msg.name === "baseline" || msg.name === "loaded";
      const reply = nextMessage<{ stats: ServerStats }>(srv, "stats");
      srv.send({ type: "stats", id: ++id, gc });
      reply.then(
        ({ stats }) => {
          marks[msg.name as string] = stats;
          load.send({ type: "marked" });
        },
        () => {},
      );
    });
    const result = nextMessage<{ result: LoadResult }>(load, "result");
    load.send({ type: "run", scenario, protocol: server.protocol, port, params: params[scenario] } satisfies Job);
    const { result: raw } = await result;
    // Failed handshakes and stalled broadcast pumps are not figures, but a reader must see them.
    if (raw.errors) console.warn(`${server.name} ${scenario}: ${raw.errors} handshakes failed`);
    if (raw.stalls) console.warn(`${server.name} ${scenario}: the broadcast pump stalled ${raw.stalls} times (lost deliveries)`);
    return derive(scenario, raw, marks as Marks);
  } finally {
    clearTimeout(limit);
    if (srv.connected) srv.send({ type: "exit" });
    else srv.kill();
    await Promise.all([exited(srv), exited(load)]);
  }
}

/** What latest.json holds. */
interface Report extends Summary {
  readonly date: string;
  readonly mode: string;
  readonly runs: number;
  readonly seconds: number;
  readonly machine: { cpus: number; cpuModel: string; node: string; pinned: boolean };
  readonly servers: string[];
  readonly baseline: string;
  readonly params: Partial<Params>;
  readonly metrics: readonly Metric[];
  readonly runsByServer: RunFigures;
}

/** Plays every run, scenario and server, and summarizes. */
async function measure(): Promise<Report> {
  const figures: RunFigures = {};
  const started = Date.now();
  console.log(
    `tswebsockets benchmark: ${args.quick ? "quick" : "full"} mode, ${runs} run(s), ${pinned ? "servers on CPU 0, load on CPU 1" : "no taskset: not pinned"}`,
  );
  for (let run = 0; run < runs; run++) {
    for (const scenario of scenarios) {
      // Rotate the order each run so that no server always goes first (or last) on a warm machine.
      const order = servers.map((_, i) => servers[(i + run) % servers.length] as ServerSpec);
      for (const server of order) {
        let got: Record<string, number>;
        try {
          got = await runJob(server, scenario);
        } catch (error) {
          // One failed job must not throw away the others: its figures stay empty, the exit code says so.
          console.error(`run ${run + 1}/${runs} ${scenario} ${server.name} failed:`, error);
          process.exitCode = 1;
          continue;
        }
        const mine = (figures[server.name] ??= {});
        for (const [key, value] of Object.entries(got)) (mine[key] ??= Array(runs).fill(Number.NaN))[run] = value;
        const brief = Object.entries(got)
          .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
          .join(", ");
        console.log(`run ${run + 1}/${runs} ${scenario} ${server.name}: ${brief}`);
      }
    }
  }
  return {
    date: new Date().toISOString(),
    mode: args.quick ? "quick" : "full",
    runs,
    seconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", node: process.version, pinned },
    servers: servers.map((s) => s.name),
    baseline: BASELINE,
    params: Object.fromEntries(scenarios.map((s) => [s, params[s]])),
    metrics: METRICS.filter((m) => scenarios.includes(m.scenario)),
    ...summarize(figures, BASELINE),
    runsByServer: figures,
  };
}

// `--from file.json` only renders a saved report again (after a change to the table or chart).
const report: Report = args.from === undefined ? await measure() : JSON.parse(readFileSync(args.from, "utf8"));
console.log(`\n${table(report.metrics, report, report.servers, report.baseline)}`);
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(args.out, "latest.svg"), chart(report.metrics, report, report.servers, report.baseline, report.date, report.mode));
console.log(`\nwrote ${join(args.out, "latest.json")} and latest.svg (the measurements took ${report.seconds} s)`);
