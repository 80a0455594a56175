/**
 * Resumable sessions, measured on loopback in one run (issue 15's three figures):
 *  1. resume with 100 missed messages: from the reconnect until the `resumed` frame, with the 100
 *     replayed pushes received (p50, p99 over the iterations);
 *  2. a broadcast to a room with history vs a plain broadcast (the same server without `resume`):
 *     messages per second delivered to every member;
 *  3. handshakes with resume on (tsws.v1 + welcome frame) vs the same server with resume off vs a
 *     bare `ws` server: handshakes per second and CPU per handshake, clients and server in this
 *     process ("handshakes"), then the server alone in a child process ("server"). The server part
 *     also runs the chat's connect and close written by hand on `ws` (a second baseline: the same
 *     job without the library) and the chat on the built package (it runs `npm run build` first,
 *     unless `--kinds` leaves out every built-* server).
 * Run: node --import tsx bench/resume.ts [--quick] [--only=latency,broadcast,handshakes,server] [--before DIR]
 *   [--rounds=N] [--close=clean] [--kinds=ws,built-resume,...] [--warmup=N]
 * The server part: each server warmed with `--warmup` (default 6,000) handshakes, then `--rounds`
 * (default 9) rounds of 1,000 handshakes per server in a rotating order; servers on CPU 0 and the
 * clients on CPU 1 when taskset exists; `--close=clean`
 * ends each connection with a closing handshake (close frame both ways, then the TCP close) instead
 * of dropping it at once (`terminate()`, a TCP FIN without a close frame); `--kinds` runs only those
 * servers (always with `ws`, the baseline of every ratio).
 * `--before DIR` (the server part): also runs DIR's bench/servers/resume-handshake.ts (another
 * checkout, e.g. `git archive main`, with a node_modules) with resume on and off, interleaved with
 * this checkout's, so a change is measured against the same load.
 * Server and clients share this process (and the machine's cores): the ratios are the point.
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { WebSocket, WebSocketServer } from "ws";
import { createServer, type EventSocket, type Server } from "../src/index.js";
import { ResumeChat, type resumeChat } from "../test/helpers/resume-chat.js";
import { ResumePeer } from "../test/helpers/resume-peer.js";
import { pin } from "./machine.js";
import { buildPackage } from "./servers/built.js";
import { chatOptions } from "./servers/chat-options.js";

const quick = process.argv.includes("--quick");
const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
/** `--only latency,handshakes` runs those parts; all three by default. */
const only = option("only");
const parts = new Set(only === undefined ? ["latency", "broadcast", "handshakes", "server"] : only.split(","));
const beforeAt = process.argv.indexOf("--before");
const beforeDir = beforeAt > 0 ? process.argv[beforeAt + 1] : undefined;
const serverRounds = Number(option("rounds") ?? 9);
const cleanClose = option("close") === "clean";
const onlyKinds = option("kinds")?.split(",");
/** Handshakes per server before the server part's rounds (`--warmup`, default 6,000: a few seconds of each). */
const warmupCount = Number(option("warmup") ?? 6000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(resume: boolean): Promise<{ server: Server; base: string }> {
  const server = createServer({ handlers: [ResumeChat], ...chatOptions(resume) });
  const { port } = await server.listen();
  return { server, base: `ws://127.0.0.1:${port}` };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** One resume, timed on the client: phases in ms, and this process's CPU time over the same window. */
interface ResumeRun {
  readonly total: number;
  /** reconnect → the 101 answer (TCP connect, upgrade, token taken, socket made, onConnect). */
  readonly open: number;
  /** 101 → the first replayed frame (the client's `pos` frame, the history read, the writes). */
  readonly first: number;
  /** first replayed frame → `resumed` (the other 99 frames and the resumed frame). */
  readonly rest: number;
  /** CPU time of this process (server and clients) during the run, user + system. */
  readonly cpu: number;
}

/**
 * 1. Resume with 100 missed messages. Server and clients share this process: a run whose wall
 * time is far above its CPU time waited for a core (the machine is shared), not for the library.
 */
async function resumeLatency(iterations: number): Promise<ResumeRun[]> {
  const { server, base } = await serve(true);
  const reader = new ResumePeer(`${base}/chat/lobby`);
  const writer = new ResumePeer(`${base}/chat/lobby`);
  await reader.connect();
  await writer.connect();
  const runs: ResumeRun[] = [];
  for (let i = 0; i < iterations; i++) {
    reader.drop();
    while (server.getSocket(reader.sid as string) !== undefined) await sleep(1);
    for (let k = 0; k < 100; k++) writer.send([0, "say", { text: `missed ${i}.${k}` }]);
    writer.send([1, i + 1, "ping", {}]);
    await writer.next((f) => f[0] === 2 && f[1] === i + 1); // the 100 are appended (one ordered queue)
    // The peers record every frame; what earlier runs recorded is let go, so the heap this process
    // carries (and its collector's work) does not grow with the run count.
    for (const peer of [reader, writer]) {
      peer.frames.length = 0;
      peer.pushes.length = 0;
      peer.controls.length = 0;
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let opened = t0;
    let first = t0;
    const resumed = reader.connect();
    reader.ws.once("open", () => (opened = performance.now()));
    reader.ws.once("message", () => (first = performance.now()));
    await resumed;
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    if (reader.pushes.length !== 100) throw new Error(`replayed ${reader.pushes.length}, not 100`);
    runs.push({ total: t1 - t0, open: opened - t0, first: first - opened, rest: t1 - first, cpu: (cpu.user + cpu.system) / 1000 });
  }
  reader.close();
  writer.close();
  await server.close();
  return runs.sort((a, b) => a.total - b.total);
}

/** 2. Messages per second delivered to every member of one room. */
async function broadcastRate(resume: boolean, members: number, messages: number): Promise<number> {
  const { server, base } = await serve(resume);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const target = members * messages;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < members; i++) {
    const ws = new WebSocket(`${base}/chat/bench`, ["tsws.v1"]);
    ws.on("message", (data: Buffer) => {
      if (data[1] === 0x39) return; // control frames (welcome)
      if (++received === target) done();
    });
    sockets.push(ws);
  }
  await Promise.all(sockets.map((ws) => once(ws, "open")));
  await sleep(100);
  const one = server.sockets().next().value as EventSocket<typeof resumeChat>;
  const room = one.server.to("bench");
  const t0 = performance.now();
  // In batches per turn, as a busy server would emit them.
  for (let sent = 0; sent < messages; ) {
    for (let k = 0; k < 50 && sent < messages; k++, sent++) room.emit("message", { text: `hello ${sent} ${"x".repeat(60)}` });
    await new Promise((r) => setImmediate(r));
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  for (const ws of sockets) ws.terminate();
  await server.close();
  return messages / seconds;
}

/**
 * 3. Handshakes per second, `concurrency` at a time, and this process's CPU time per handshake
 * (clients and server): on a shared machine the CPU time is the steadier of the two.
 */
async function handshakeRate(kind: "resume" | "plain" | "ws", count: number, concurrency: number): Promise<{ rate: number; cpu: number }> {
  let url: string;
  let stop: () => Promise<void>;
  if (kind === "ws") {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/chat/h`;
    stop = () => new Promise((r) => wss.close(() => r()));
  } else {
    const { server, base } = await serve(kind === "resume");
    url = `${base}/chat/h`;
    stop = () => server.close();
  }
  const one = async () => {
    const ws = new WebSocket(url, kind === "ws" ? undefined : ["tsws.v1"]);
    if (kind === "resume")
      await once(ws, "message"); // the welcome frame: the session exists
    else await once(ws, "open");
    ws.terminate();
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        await one();
      }
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await stop();
  return { rate, cpu: (cpu.user + cpu.system) / count };
}

/** A server of bench/servers/resume-handshake.ts in a child process, asked for its CPU time. */
class ServerChild {
  readonly kind: string;
  readonly port: number;
  readonly #proc: ChildProcess;
  #id = 0;

  private constructor(kind: string, proc: ChildProcess, port: number) {
    this.kind = kind;
    this.#proc = proc;
    this.port = port;
  }

  /** `kind` of this checkout's server, or of the one in `dir` (`--before`). */
  static async start(kind: string, dir?: string): Promise<ServerChild> {
    const script =
      dir === undefined
        ? fileURLToPath(new URL("./servers/resume-handshake.ts", import.meta.url))
        : `${dir}/bench/servers/resume-handshake.ts`;
    const proc = fork(script, [kind], { execArgv: ["--import", "tsx"], ...(dir === undefined ? {} : { cwd: dir }) });
    const [ready] = (await once(proc, "message")) as [{ type: string; port: number }];
    pin(proc.pid as number, 0); // the clients are on CPU 1
    return new ServerChild(kind, proc, ready.port);
  }

  /** The child's user + system CPU time so far, in µs. */
  async cpu(): Promise<number> {
    const id = ++this.#id;
    this.#proc.send({ type: "stats", id, gc: false });
    for (;;) {
      const [msg] = (await once(this.#proc, "message")) as [{ type: string; id: number; stats: { cpuMicros: number } }];
      if (msg.type === "stats" && msg.id === id) return msg.stats.cpuMicros;
    }
  }

  stop(): void {
    this.#proc.send({ type: "exit" });
  }
}

/** `count` handshakes to a child server, `concurrency` at a time: per second, and the server's CPU µs per handshake. */
async function handshakesTo(server: ServerChild, count: number, concurrency: number): Promise<{ rate: number; cpu: number }> {
  const url = `ws://127.0.0.1:${server.port}/chat/h`;
  const before = await server.cpu();
  const t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        const ws = new WebSocket(url, server.kind.startsWith("ws") ? undefined : ["tsws.v1"]);
        await once(ws, server.kind.endsWith("resume") || server.kind === "ws-session" ? "message" : "open");
        if (cleanClose) {
          ws.close();
          await once(ws, "close");
        } else ws.terminate();
      }
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  await sleep(50); // the server's share of the last closes
  return { rate, cpu: ((await server.cpu()) - before) / count };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

if (parts.has("latency")) {
  const runs = await resumeLatency(quick ? 20 : 1000);
  const totals = runs.map((r) => r.total);
  const ms = (x: number) => x.toFixed(2);
  console.log(
    `resume with 100 missed messages (${runs.length} runs): p50 ${ms(percentile(totals, 50))} ms, p99 ${ms(percentile(totals, 99))} ms, max ${ms(totals.at(-1) as number)} ms`,
  );
  // Where the slowest runs spent their time: a stall in a phase the library does not run (before the
  // 101), or a wall time far above the process's CPU time, is the process waiting for a core.
  const starved = runs.filter((r) => r.total > 10 && r.total > 3 * r.cpu);
  console.log(
    `  runs over 10 ms: ${runs.filter((r) => r.total > 10).length}, of which waited for a core (wall > 3x CPU): ${starved.length}; p99 of CPU time per run ${ms(
      percentile(
        [...runs.map((r) => r.cpu)].sort((a, b) => a - b),
        99,
      ),
    )} ms`,
  );
  console.log(`  slowest runs, ms (total = open + first frame + rest; CPU of this process):`);
  for (const r of runs.slice(-5).reverse()) {
    console.log(`    ${ms(r.total)} = ${ms(r.open)} + ${ms(r.first)} + ${ms(r.rest)}; CPU ${ms(r.cpu)}`);
  }
}

if (parts.has("broadcast")) {
  const [members, messages] = quick ? [50, 500] : [100, 3000];
  const history: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    plain.push(await broadcastRate(false, members, messages));
    history.push(await broadcastRate(true, members, messages));
  }
  const h = median(history);
  const p = median(plain);
  console.log(
    `broadcast to ${members} members: history room ${h.toFixed(0)} msg/s, plain ${p.toFixed(0)} msg/s, ratio ${(h / p).toFixed(2)} (median of ${history.length})`,
  );
}

if (parts.has("handshakes")) {
  const [count, rounds] = quick ? [300, 1] : [1000, 9];
  const kinds = ["ws", "plain", "resume"] as const;
  const rate = { resume: [] as number[], plain: [] as number[], ws: [] as number[] };
  const cpu = { resume: [] as number[], plain: [] as number[], ws: [] as number[] };
  await handshakeRate("resume", 300, 20); // warm-up: the first server of a process pays for the JIT
  await handshakeRate("ws", 300, 20);
  for (let round = 0; round < rounds; round++) {
    // Interleaved, in a rotating order, so a change in the machine's load touches all three alike.
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(round + k) % kinds.length] as (typeof kinds)[number];
      const r = await handshakeRate(kind, count, 20);
      rate[kind].push(r.rate);
      cpu[kind].push(r.cpu);
    }
  }
  const m = (xs: number[]) => median(xs);
  // Ratios per round (the three kinds of one round ran back to back), then their median.
  const per = (a: number[], b: number[]) => m(a.map((x, i) => x / (b[i] as number))).toFixed(2);
  console.log(
    `handshakes (median of ${rounds} rounds of ${count}): resume on ${m(rate.resume).toFixed(0)}/s, resume off ${m(rate.plain).toFixed(0)}/s, raw ws ${m(rate.ws).toFixed(0)}/s; ` +
      `resume on / raw ws ${per(rate.resume, rate.ws)}, resume on / off ${per(rate.resume, rate.plain)}, off / raw ws ${per(rate.plain, rate.ws)}`,
  );
  console.log(
    `  CPU per handshake (clients + server): resume on ${m(cpu.resume).toFixed(0)} µs, resume off ${m(cpu.plain).toFixed(0)} µs, raw ws ${m(cpu.ws).toFixed(0)} µs; ` +
      `as a rate, resume on / raw ws ${per(cpu.ws, cpu.resume)}, resume on / off ${per(cpu.plain, cpu.resume)}`,
  );
}
if (parts.has("server")) {
  const [count, rounds] = quick ? [300, 1] : [1000, serverRounds];
  // "before-*": the same servers from the `--before` checkout, in the same rotation.
  const kinds = [
    "ws",
    "ws-chat",
    "ws-session",
    "plain",
    "resume",
    "built-plain",
    "built-resume",
    "built-rpc",
    "built-rpc-resume",
    ...(beforeDir === undefined ? [] : ["before-plain", "before-resume"]),
  ].filter((kind) => kind === "ws" || onlyKinds === undefined || onlyKinds.includes(kind));
  if (kinds.some((kind) => kind.startsWith("built-"))) {
    buildPackage(); // the built package (what an application runs), from this checkout's src/
  }
  const children = new Map<string, ServerChild>();
  for (const kind of kinds) {
    const before = kind.startsWith("before-");
    children.set(kind, await ServerChild.start(before ? kind.slice("before-".length) : kind, before ? beforeDir : undefined));
  }
  const rate: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  pin(process.pid, 1);
  // Warm-up: V8 optimises a fresh server's handshake path over its first seconds (see
  // bench/handshake-warmup.ts); the rounds then rotate, so the machine's drift touches all alike.
  for (const kind of kinds) await handshakesTo(children.get(kind) as ServerChild, quick ? 300 : warmupCount, 20);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(round + k) % kinds.length] as string;
      const r = await handshakesTo(children.get(kind) as ServerChild, count, 20);
      rate[kind]?.push(r.rate);
      cpu[kind]?.push(r.cpu);
    }
  }
  for (const child of children.values()) child.stop();
  console.log(`server part: ${cleanClose ? "closing handshakes" : "connections dropped (terminate)"}, kinds ${kinds.join(", ")}`);
  const m = (xs: number[] | undefined) => median(xs ?? []);
  const per = (a: number[] | undefined, b: number[] | undefined) => m((a ?? []).map((x, i) => x / (b?.[i] as number))).toFixed(2);
  // Every server against bare ws: CPU per handshake and, as a rate, the per-round median of ws / kind.
  console.log(`  ${kinds.map((k) => `${k} ${m(cpu[k]).toFixed(0)} µs (${per(cpu.ws, cpu[k])})`).join(", ")}`);
  // The summaries compare every kind: with `--kinds`, the line above is the part's whole answer.
  if (onlyKinds === undefined) {
    console.log(
      `handshakes, server in its own process (median of ${rounds} rounds of ${count}): server CPU per handshake resume on ${m(cpu.resume).toFixed(0)} µs, resume off ${m(cpu.plain).toFixed(0)} µs, raw ws ${m(cpu.ws).toFixed(0)} µs; ` +
        `as a rate, resume on / raw ws ${per(cpu.ws, cpu.resume)}, resume on / off ${per(cpu.plain, cpu.resume)}, off / raw ws ${per(cpu.ws, cpu.plain)}`,
    );
    console.log(
      `  the built package (dist/, no tsx): resume on ${m(cpu["built-resume"]).toFixed(0)} µs, resume off ${m(cpu["built-plain"]).toFixed(0)} µs; ` +
        `as a rate, resume on / raw ws ${per(cpu.ws, cpu["built-resume"])}, resume on / off ${per(cpu["built-plain"], cpu["built-resume"])}, off / raw ws ${per(cpu.ws, cpu["built-plain"])}`,
    );
    console.log(
      `  the chat's connect and close by hand on ws: ${m(cpu["ws-chat"]).toFixed(0)} µs; as a rate, resume on / ws chat ${per(cpu["ws-chat"], cpu.resume)} (built ${per(cpu["ws-chat"], cpu["built-resume"])}), ` +
        `off / ws chat ${per(cpu["ws-chat"], cpu.plain)} (built ${per(cpu["ws-chat"], cpu["built-plain"])})`,
    );
    console.log(
      `  that chat made resumable by hand on ws (a secret and a first frame each, kept 60 s): ${m(cpu["ws-session"]).toFixed(0)} µs; ` +
        `as a rate, resume on / ws session ${per(cpu["ws-session"], cpu.resume)} (built ${per(cpu["ws-session"], cpu["built-resume"])}); ws session / raw ws ${per(cpu.ws, cpu["ws-session"])}`,
    );
    if (beforeDir !== undefined) {
      console.log(
        `  before (${beforeDir}): resume on ${m(cpu["before-resume"]).toFixed(0)} µs, resume off ${m(cpu["before-plain"]).toFixed(0)} µs; ` +
          `as a rate, resume on / raw ws ${per(cpu.ws, cpu["before-resume"])}, off / raw ws ${per(cpu.ws, cpu["before-plain"])}; ` +
          `after / before: resume on ${per(cpu["before-resume"], cpu.resume)}, off ${per(cpu["before-plain"], cpu.plain)} (as rates)`,
      );
    }
    console.log(
      `  handshakes/s: resume on ${m(rate.resume).toFixed(0)}, resume off ${m(rate.plain).toFixed(0)}, raw ws ${m(rate.ws).toFixed(0)}; resume on / raw ws ${per(rate.resume, rate.ws)} (the clients, in this process, bound these)`,
    );
  }
}
process.exit(0);
