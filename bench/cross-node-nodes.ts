import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RedisServer } from "../test/helpers/redis-server.js";
import type { ServerStats } from "./servers/control.js";
import { type Conn, type OnMessage, open, type Protocol } from "./wire.js";

/**
 * The processes of the cross-node benchmark: server nodes sharing one Redis (each a child process
 * with IPC, bench/servers/cross-node.ts), and the readings taken from them. CPU figures are CPU
 * time (process.cpuUsage() in each node, Redis' own INFO cpu), not shares of wall time, so a
 * loaded machine stretches a run without changing what each delivery costs by much.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The implementations compared: ours in both modes, Socket.IO's Redis adapter in both modes. */
export const IMPLS = ["tsws", "tsws-sharded", "sio", "sio-sharded"] as const;
export type Impl = (typeof IMPLS)[number];

export const protocolOf = (impl: Impl): Protocol => (impl.startsWith("sio") ? "sio" : "ws");

/** One server node. */
export class Node {
  readonly proc: ChildProcess;
  port = 0;
  #id = 0;

  private constructor(proc: ChildProcess) {
    this.proc = proc;
  }

  static async start(impl: Impl, redisPort: number): Promise<Node> {
    const env = { ...process.env, IMPL: impl, REDIS_PORT: String(redisPort) };
    const proc = spawn(process.execPath, ["--import", "tsx", join(root, "bench/servers/cross-node.ts")], {
      cwd: root,
      env,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const node = new Node(proc);
    node.port = (await node.#next<{ port: number }>("ready")).port;
    return node;
  }

  async stats(): Promise<ServerStats> {
    const reply = this.#next<{ stats: ServerStats }>("stats");
    this.proc.send({ type: "stats", id: ++this.#id, gc: false });
    return (await reply).stats;
  }

  /** Asks the node to close, and kills it if it has not exited within 3 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((done) => this.proc.once("exit", () => done()));
    this.proc.send({ type: "exit" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  #next<T>(type: string): Promise<T> {
    return new Promise((done, fail) => {
      const onMessage = (msg: { type: string } & T) => {
        if (msg.type !== type) return;
        this.proc.off("message", onMessage);
        this.proc.off("exit", onExit);
        done(msg);
      };
      const onExit = (code: number | null) => fail(new Error(`a node exited (${code}) while waiting for "${type}"`));
      this.proc.on("message", onMessage);
      this.proc.once("exit", onExit);
    });
  }
}

/** Redis' own CPU time so far (user + system), in microseconds, from INFO cpu. */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field("used_cpu_sys") + field("used_cpu_user")) * 1e6;
}

/** Opens `count` clients to a node's relay endpoint for `room`, members of it when `join`. */
export async function clients(node: Node, impl: Impl, room: string, join: boolean, count: number, onMessage: OnMessage): Promise<Conn[]> {
  const protocol = protocolOf(impl);
  const query = `room=${room}&join=${join ? 1 : 0}`;
  const path = protocol === "ws" ? `/room?${query}` : `/socket.io/?EIO=4&transport=websocket&${query}`;
  const conns: Conn[] = [];
  // In batches: a thousand handshakes at once would queue in the accept backlog of a loaded machine.
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () => open({ port: node.port, path, protocol, onMessage }));
    await Promise.all(batch.map((c) => c.ready));
    conns.push(...batch);
  }
  return conns;
}

/** Everything's CPU time at one moment: each node's and Redis', microseconds. */
export interface CpuReading {
  readonly nodes: number[];
  readonly arrived: number[];
  readonly redis: number;
  readonly at: number;
}

export async function readCpu(nodes: Node[], redis: Redis): Promise<CpuReading> {
  const [stats, r] = await Promise.all([Promise.all(nodes.map((n) => n.stats())), redisCpu(redis)]);
  return { nodes: stats.map((s) => s.cpuMicros), arrived: stats.map((s) => s.arrived ?? 0), redis: r, at: performance.now() };
}

/**
 * The whole machine's CPU time so far, from /proc/stat (Linux; NaN elsewhere), in clock ticks: busy
 * (everything but idle and iowait) and total. Over a phase, Δbusy / Δtotal is the share of all cores
 * that something used, this benchmark or anything else on a shared machine.
 */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0] ?? "";
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.split(/\s+/).slice(1).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: total - idle - iowait, total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

/** Runs `body` on a fresh private Redis and `count` fresh nodes of `impl`, and stops them all after. */
export async function withNodes<T>(impl: Impl, count: number, body: (nodes: Node[], redis: Redis) => Promise<T>): Promise<T> {
  const server = await RedisServer.launch();
  const redis = new Redis(server.port, "127.0.0.1");
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await Node.start(impl, server.port));
    return await body(nodes, redis);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    redis.disconnect();
    await server.stop();
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
