/**
 * What outbound mixins cost a broadcast (issue 16), measured in one run: the same broadcast to
 * 1,000 receivers in four namespaces that differ only in their `onOutbound` hooks:
 *   none        no hook: today's path, one frame for everyone
 *   pass        a hook that returns undefined for every receiver (still one frame)
 *   two         a two-variant transform by role, through variant(): two frames per broadcast
 *   each        a transform that returns a new string per receiver: one frame per receiver
 * The server runs in this process and is timed by its own CPU per delivery; the receivers run in a
 * child process (on the other core when `taskset` is there). Modes alternate across rounds; the
 * least CPU a mode needed ("best") is the steadier figure on a shared machine.
 *
 *   npx tsx bench/outbound.ts             5 rounds per mode
 *   npx tsx bench/outbound.ts --rounds 9
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { BaseMixin, createServer, mixins, namespace, type Outbound, type Socket, variant } from "../src/index.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, clients: { type: "string" } } });
const RECEIVERS = 1_000;
const BROADCASTS = 300;
const MODES = ["none", "pass", "two", "each"] as const;
type Mode = (typeof MODES)[number];

const upper = variant((m: string) => m.toUpperCase());
const roleOf = (socket: Socket) => (socket.data.admin ??= socket.id.charCodeAt(0) % 2 === 0);

class Pass extends BaseMixin {
  static onOutbound() {
    return undefined;
  }
}
class TwoVariants extends BaseMixin {
  static onOutbound(socket: Socket, m: Outbound) {
    return roleOf(socket) && typeof m === "string" ? upper(m) : undefined;
  }
}
class PerReceiver extends BaseMixin {
  static onOutbound(socket: Socket, m: Outbound) {
    return typeof m === "string" ? `${m}:${socket.id.slice(0, 8)}` : undefined;
  }
}

function handler(mode: Mode) {
  const list = { none: [], pass: [Pass], two: [TwoVariants], each: [PerReceiver] }[mode];
  const cls = class extends mixins(...list) {
    static onConnect(socket: Socket) {
      socket.join(mode);
    }
  };
  namespace(`/${mode}`, cls);
  return cls;
}

if (values.clients !== undefined) await runClients(values.clients);
else await runServer(Number(values.rounds));

async function runServer(rounds: number): Promise<void> {
  const server = createServer({ handlers: MODES.map(handler), host: "127.0.0.1", port: 0, heartbeatInterval: 0, maxConnections: 100_000 });
  const { port } = await server.listen();
  const args = [process.execPath, "--import", "tsx", "bench/outbound.ts", "--clients", String(port)];
  const child = spawn("taskset", ["-c", "1", ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value);
  await next(); // "ready": every receiver is connected
  const payload = "x".repeat(64);
  const round = async (mode: Mode) => {
    child.stdin.write(`${mode}\n`);
    await next(); // the receivers are listening
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < BROADCASTS; i++) server.to(mode).send(payload);
    await next(); // every receiver got every broadcast
    const used = process.cpuUsage(cpu);
    return {
      ns: ((used.user + used.system) * 1000) / (BROADCASTS * RECEIVERS),
      rate: (BROADCASTS * RECEIVERS) / ((performance.now() - started) / 1000),
    };
  };
  const results = new Map<Mode, { ns: number[]; rate: number[] }>(MODES.map((m) => [m, { ns: [], rate: [] }]));
  for (const mode of MODES) await round(mode); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
      const { ns, rate } = await round(mode);
      results.get(mode)?.ns.push(ns);
      results.get(mode)?.rate.push(rate);
    }
  }
  child.stdin.end();
  await server.close();
  const best = (xs: number[]) => Math.min(...xs);
  const top = (xs: number[]) => Math.max(...xs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const base = results.get("none") as { ns: number[]; rate: number[] };
  console.log(`outbound hooks, broadcast of 64 B to ${RECEIVERS} receivers, ${BROADCASTS} broadcasts a round, ${rounds} rounds per mode`);
  console.log("mode | server ns/delivery best | median | deliveries/s best | CPU ratio (none/mode) best | deliveries/s ratio best");
  for (const [mode, r] of results) {
    console.log(
      [
        mode.padEnd(4),
        best(r.ns).toFixed(0).padStart(23),
        median(r.ns).toFixed(0).padStart(6),
        top(r.rate).toFixed(0).padStart(17),
        (best(base.ns) / best(r.ns)).toFixed(3).padStart(26),
        (top(r.rate) / top(base.rate)).toFixed(3).padStart(23),
      ].join(" | "),
    );
  }
}

/** The receivers: RECEIVERS sockets per mode; on "<mode>" counts until each got BROADCASTS messages. */
async function runClients(port: string): Promise<void> {
  const open = (path: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  const sockets = new Map<string, WebSocket[]>();
  for (const mode of MODES) sockets.set(mode, await Promise.all(Array.from({ length: RECEIVERS }, () => open(`/${mode}`))));
  console.log("ready");
  for await (const mode of createInterface({ input: process.stdin })) {
    let waiting = RECEIVERS;
    const done = new Promise<void>((resolve) => {
      for (const ws of sockets.get(mode) ?? []) {
        let got = 0;
        const onMessage = () => {
          if (++got < BROADCASTS) return;
          ws.off("message", onMessage);
          if (--waiting === 0) resolve();
        };
        ws.on("message", onMessage);
      }
    });
    console.log("listening");
    await done;
    console.log("done");
  }
  for (const list of sockets.values()) for (const ws of list) ws.terminate();
}
