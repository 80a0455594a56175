/**
 * How long a fresh server takes to reach its steady handshake cost: each server is started, driven
 * with closing handshakes by the runner's generator (bench/wire.ts, 50 connections opening at a
 * time, from many loopback source addresses), and its CPU time per handshake printed for each
 * one-second window from the start. The server is pinned to CPU 0 with its threads (V8 compiles
 * optimised code and marks its heap on threads of its own: that work is counted too), this process
 * to CPU 1, when taskset exists.
 * It is why run.ts warms the handshakes scenario up for 5 s before measuring: V8 is still
 * optimising a server's handshake path for the first seconds, and more for a server that runs more
 * code per handshake, so a short warm-up measures the compiler as much as the handshake.
 * Run: node --import tsx bench/handshake-warmup.ts [--seconds=12] [--servers=ws,rpc,resume]
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { pin, pinnable } from "./machine.js";
import { buildPackage } from "./servers/built.js";
import { open, sourceAddress } from "./wire.js";

interface Kind {
  readonly file: string;
  readonly path: string;
  readonly subprotocols?: readonly string[];
  /** Resumable sessions on: a handshake counts once the welcome frame arrived. */
  readonly resume: boolean;
}

/** The servers run.ts calls ws, tswebsockets-rpc and tswebsockets-resume. */
const KINDS: Record<string, Kind> = {
  ws: { file: "servers/ws.ts", path: "/echo", resume: false },
  echo: { file: "servers/tswebsockets.ts", path: "/echo", resume: false },
  rpc: { file: "servers/tswebsockets.ts", path: "/rpc", subprotocols: ["tsws.v1"], resume: false },
  resume: { file: "servers/tswebsockets.ts", path: "/rpc", subprotocols: ["tsws.v1"], resume: true },
};

const { values: args } = parseArgs({ options: { seconds: { type: "string" }, servers: { type: "string" } } });
const seconds = Number(args.seconds ?? 12);
const names = (args.servers ?? "ws,rpc,resume").split(",");
for (const name of names) if (KINDS[name] === undefined) throw new Error(`no server "${name}" (${Object.keys(KINDS).join(", ")})`);

buildPackage(); // the servers run the built package (servers/built.ts)
pin(process.pid, 1);

/** CPU time of every thread of `pid` so far, in µs (/proc/<pid>/task/<tid>/schedstat, in ns). */
function threadsCpu(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1000;
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return total;
}

let opened = 0;
async function measure(name: string, kind: Kind): Promise<number[]> {
  const proc: ChildProcess = fork(fileURLToPath(new URL(kind.file, import.meta.url)), [], {
    env: { ...process.env, TSWS_BENCH_RESUME: kind.resume ? "1" : "0" },
    execArgv: ["--import", "tsx"],
  });
  const [ready] = (await once(proc, "message")) as [{ port: number }];
  const pid = proc.pid as number;
  pin(pid, 0);
  let running = true;
  let count = 0;
  const loop = async () => {
    while (running) {
      let welcomed = () => {};
      const welcome = kind.resume ? new Promise<void>((resolve) => (welcomed = resolve)) : undefined;
      const conn = open({
        port: ready.port,
        path: kind.path,
        protocol: "ws",
        subprotocols: kind.subprotocols,
        localAddress: sourceAddress(opened++),
        onMessage: () => welcomed(),
      });
      const closed = new Promise((resolve) => conn.tcp.once("close", resolve));
      try {
        await conn.ready;
        // Closed before its welcome: not a handshake (run.ts counts it as an error too).
        if (welcome !== undefined && !(await Promise.race([welcome.then(() => true), closed.then(() => false)]))) continue;
        count++;
        conn.close();
      } catch {
        conn.tcp.destroy();
      }
      await closed;
    }
  };
  const loops = Array.from({ length: 50 }, loop);
  const perWindow: number[] = [];
  for (let i = 0; i < seconds; i++) {
    const [cpu, opened] = [threadsCpu(pid), count];
    await new Promise((resolve) => setTimeout(resolve, 1000));
    perWindow.push((threadsCpu(pid) - cpu) / Math.max(1, count - opened));
  }
  running = false;
  await Promise.all(loops);
  proc.send({ type: "exit" });
  await once(proc, "exit");
  console.log(`${name.padEnd(7)} server CPU µs per handshake, second by second: ${perWindow.map((x) => x.toFixed(0)).join(" ")}`);
  return perWindow;
}

console.log(
  `handshakes from a fresh start, ${seconds} one-second windows; ${pinnable ? "server on CPU 0, generator on CPU 1" : "no taskset: not pinned"}`,
);
const figures = new Map<string, number[]>();
for (const name of names) figures.set(name, await measure(name, KINDS[name] as Kind));
const ws = figures.get("ws");
if (ws !== undefined) {
  // The first seconds against the rest: how far the warm-up window is from steady state.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const steadyFrom = Math.min(5, seconds - 1);
  for (const [name, xs] of figures) {
    if (name === "ws") continue;
    console.log(
      `${name}: as a rate of ws' CPU per handshake, seconds 1-4 (run.ts' old window) ${(mean(ws.slice(1, 5)) / mean(xs.slice(1, 5))).toFixed(2)}, ` +
        `seconds ${steadyFrom}-${seconds - 1} ${(mean(ws.slice(steadyFrom)) / mean(xs.slice(steadyFrom))).toFixed(2)}`,
    );
  }
}
process.exit(0);
