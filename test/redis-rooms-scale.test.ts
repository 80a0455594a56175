import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { ShardedLayout } from "../src/adapters/redis/sharded-layout.js";
import { BaseHandler, createServer, Namespace, type Server, type Socket } from "../src/index.js";
import { eventually, recordingLogger } from "./helpers/cluster-chat.js";
import { RedisServer } from "./helpers/redis-server.js";
import { type CallWork, RedisWork } from "./helpers/redis-work.js";

/*
 * Issue 18: with 50,000 rooms on a node, no single Redis command or script of the adapter blocks
 * Redis. The hard check is a count, not a timing: MONITOR shows every call (a script with the
 * commands it ran), and the largest call at 50,000 rooms names no more keys and elements than
 * the largest at 1,000 (the work per call does not grow with the rooms). SLOWLOG (1 ms) is
 * printed beside it and judged when Redis' main thread ran undisturbed: it runs at real-time
 * priority where the test may set it (root on Linux), so that other processes cannot take its CPU
 * mid-command, and a run where the OS still preempted it is printed, not judged.
 */

/** Joins the socket to `?rooms=N` rooms at once (room-0 ... room-<N-1>). */
@Namespace("/many")
class ManyRooms extends BaseHandler {
  static onConnect(socket: Socket) {
    const rooms = Number(new URL(socket.request.url, "http://x").searchParams.get("rooms"));
    for (let i = 0; i < rooms; i++) socket.join(`room-${i}`);
    socket.send("joined");
  }
}

type Mode = "sharded" | "classic";

interface Run {
  rooms: number;
  calls: number;
  largest: CallWork;
  unbounded: string[];
  /** SLOWLOG entries of 1 ms or more: µs and the call. */
  slow: string[];
  /** Redis' mean µs per call of each command the adapter used (INFO commandstats). */
  means: string;
  /** Times the OS took the CPU from Redis' main thread during the run (Linux), else undefined. */
  preempted: number | undefined;
  seconds: number;
}

/**
 * Keys and elements one call may name, whatever the rooms: 32 elements cost Redis some 30 µs on
 * a set of 50,000 (about 1 µs each with cache misses), far below 1 ms on a loaded machine.
 */
const MOST_PER_CALL = 32;

/** Keys a whole read (SMEMBERS, ZRANGEBYSCORE) may read: their members are node ids, so their size is bounded by the node count. */
const NODE_SETS = /(:room:|:at:|:nodes$)/;

/**
 * Two nodes on one Redis; a socket on the first joins `rooms` rooms. Then everything the adapter
 * does with them: the joins written, Redis emptied (FLUSHALL, as after a restart) and written again
 * whole, members() asked from the other node, the first node closed with the socket still in its
 * rooms (every room left, the node's own removal cut short by its time bound at 50,000 rooms, the
 * rest removed by the other node's heartbeat). Each step's effect is checked in Redis.
 */
async function scenario(redis: RedisServer, mode: Mode, rooms: number): Promise<Run> {
  const started = Date.now();
  const preemptedBefore = await preemptions(redis.pid);
  const admin = new Redis(redis.port, "127.0.0.1");
  admin.on("error", () => {}); // a lost Redis fails the test through the commands below
  await admin.flushall();
  await admin.script("FLUSH");
  await admin.config("SET", "slowlog-log-slower-than", "1000");
  await admin.slowlog("RESET");
  await admin.config("RESETSTAT");
  const work = await RedisWork.start(admin, NODE_SETS);
  const prefix = `${mode}${rooms}`;
  const clients = [0, 1].map(() => new Redis(redis.port, "127.0.0.1"));
  // A heartbeat every second: Redis' FLUSHALL is noticed within one.
  const adapters = clients.map((c) => createRedisAdapter(c, { prefix, sharded: mode === "sharded", nodeTtl: 3000 }));
  const servers: Server[] = adapters.map((adapter) =>
    createServer({ handlers: [ManyRooms], host: "127.0.0.1", port: 0, adapter, logger: recordingLogger() }),
  );
  try {
    const ports = await Promise.all(servers.map(async (s) => (await s.listen()).port));
    const node = adapters[0]!.nodeId ?? "";
    const written = () => roomsInRedis(admin, mode, prefix, node);
    const ws = new WebSocket(`ws://127.0.0.1:${ports[0]}/many?rooms=${rooms}`);
    await once(ws, "message");
    await eventually(async () => (await written()) === rooms, `the ${rooms} rooms are written`, 60_000);
    // Redis lost everything (a restart without persistence): the next heartbeat says so and each node writes its state again.
    await admin.flushall();
    await eventually(async () => (await written()) === rooms, `the ${rooms} rooms are written again after FLUSHALL`, 60_000);
    assert.equal(await nodesOf(admin, mode, prefix, node, "room-7"), 1, "room-7 lists the node again");
    const id = (await servers[0]!.to("room-7").members())[0];
    assert.deepEqual(await servers[1]!.to("room-7").members(), [id], "members() from the other node");
    ws.on("error", () => {});
    await servers[0]!.close();
    // The second node holds no socket: once the first is gone, Redis holds only the nodes set.
    await eventually(async () => (await admin.dbsize()) === 1, "every key of the closed node is removed", 60_000);
    assert.equal(await written(), 0);
    assert.deepEqual(await servers[1]!.to("room-7").members(), [], "members() no longer lists the closed node's socket");
    await servers[1]!.close();
    const report = await work.stop();
    const slowlog = (await admin.slowlog("GET", "1000")) as [number, number, number, string[], string][];
    const mine = RedisWork.addressOf(admin);
    const slow = slowlog
      .filter(([, , , , client]) => client !== mine)
      .map(([, , micros, args]) => `${micros} µs ${args.slice(0, 3).join(" ").slice(0, 80)}`);
    const means = [...(await admin.info("commandstats")).matchAll(/cmdstat_(\w+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/g)]
      .filter(([, name]) => !["flushall", "scard", "slowlog", "config", "info", "monitor", "echo", "script"].includes(name ?? ""))
      .map(([, name, calls, mean]) => `${name} ${mean} µs × ${calls}`)
      .join(", ");
    const preemptedAfter = await preemptions(redis.pid);
    const preempted = preemptedBefore === undefined || preemptedAfter === undefined ? undefined : preemptedAfter - preemptedBefore;
    return { rooms, ...report, slow, means, preempted, seconds: (Date.now() - started) / 1000 };
  } finally {
    work.close();
    await Promise.all(servers.map((s) => s.close().catch(() => {})));
    for (const c of clients) c.disconnect();
    admin.disconnect();
  }
}

/**
 * Involuntary context switches of a process' main thread so far (Linux /proc), or undefined:
 * each is a moment the OS ran something else while Redis had work, which SLOWLOG counts as time
 * spent in the command that was running.
 */
async function preemptions(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/task/${pid}/status`, "utf8");
    const found = /nonvoluntary_ctxt_switches:\s*(\d+)/.exec(status);
    return found ? Number(found[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** How many of `node`'s rooms Redis holds. */
async function roomsInRedis(admin: Redis, mode: Mode, prefix: string, node: string): Promise<number> {
  if (mode === "classic") return admin.scard(`${prefix}:node:${node}:rooms`);
  const layout = new ShardedLayout(prefix, 64);
  const counts = await Promise.all(Array.from({ length: 64 }, (_, p) => admin.scard(layout.rooms(p, node))));
  return counts.reduce((a, b) => a + b, 0);
}

/** 1 if Redis lists `node` as holding members of `room` (where members() and routing look), else 0. */
async function nodesOf(admin: Redis, mode: Mode, prefix: string, node: string, room: string): Promise<number> {
  if (mode === "classic") return admin.sismember(`${prefix}:node:${node}:rooms`, room);
  return admin.sismember(new ShardedLayout(prefix, 64).room(room), node);
}

/**
 * Puts Redis' main thread under the real-time FIFO policy (chrt; root or CAP_SYS_NICE), so that
 * the test runs and helpers beside it cannot take its CPU in the middle of a command: SLOWLOG then
 * times the commands, not the machine's load. The kernel still keeps 5 % of each second for other
 * tasks (sched_rt_runtime_us), and Redis sleeps in epoll between commands. False where not allowed.
 */
function toRealtime(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    execFileSync("chrt", ["--fifo", "--pid", "10", String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const describeRun = (run: Run) =>
  `${run.rooms} rooms: ${run.calls} calls in ${run.seconds.toFixed(1)} s, the largest names ${run.largest.named} keys/elements in ${run.largest.commands} commands (${run.largest.sample})`;

for (const mode of ["sharded", "classic"] as const) {
  describe(`the ${mode} Redis adapter with 50,000 rooms on a node`, () => {
    let redis: RedisServer;
    let realtime = false;
    before(async () => {
      redis = await RedisServer.launch();
      realtime = toRealtime(redis.pid);
    });
    after(() => redis.stop());

    it("does no more work per Redis call than with 1,000 rooms (MONITOR), and no call blocks Redis for 1 ms (SLOWLOG)", {
      timeout: 180_000,
    }, async () => {
      const small = await scenario(redis, mode, 1000);
      const large = await scenario(redis, mode, 50_000);
      console.log(`# ${mode}, ${describeRun(small)}`);
      console.log(`# ${mode}, ${describeRun(large)}`);
      assert.deepEqual([...small.unbounded, ...large.unbounded], [], "every command is one whose work the count knows");
      assert.ok(large.largest.named <= MOST_PER_CALL, `a call named ${large.largest.named} keys/elements: ${large.largest.sample}`);
      assert.ok(
        large.largest.named <= small.largest.named,
        `the largest call at 50,000 rooms (${large.largest.named}: ${large.largest.sample}) names more than at 1,000 (${small.largest.named})`,
      );
      // SLOWLOG times are wall-clock: when the OS takes the CPU from Redis mid-command (a loaded
      // machine, other test runs beside this one), that command is logged slow whatever it does,
      // and even unpreempted at real-time priority a one-element SADD was once logged at 22 ms (a
      // page fault or the hypervisor, at load 8). The count above holds regardless. A run with no
      // slow entry settles it (disturbance only lengthens times). Slow entries count only from runs
      // where Redis ran undisturbed (no preemption of its main thread, or where that cannot be
      // read, load below the core count): a call slow by its own work is slow in every such run, a
      // hiccup is not, so the test fails when two undisturbed runs both log slow calls.
      const judged: string[][] = [];
      for (let attempt = 1, run = large; ; attempt++) {
        const [load = 0] = loadavg();
        const preempted = run.preempted === undefined ? "unknown" : String(run.preempted);
        console.log(
          `# ${mode}, SLOWLOG ≥ 1 ms at 50,000 rooms (run ${attempt}): ${run.slow.length} (${run.slow.slice(0, 5).join("; ")}); Redis ${realtime ? "at real-time priority, " : ""}preempted ${preempted} times; load average ${load.toFixed(1)} on ${cpus().length} cores`,
        );
        console.log(`# ${mode}, mean per call at 50,000 rooms: ${run.means}`);
        if (run.slow.length === 0) return;
        const undisturbed = run.preempted === undefined ? load < cpus().length : run.preempted === 0;
        if (undisturbed) judged.push(run.slow);
        if (judged.length === 2 || attempt === 3) break;
        run = await scenario(redis, mode, 50_000);
      }
      if (judged.length < 2) console.log("# SLOWLOG not settled: fewer than two runs where Redis ran undisturbed");
      else assert.fail(`in two undisturbed runs, adapter calls kept Redis busy for 1 ms or more: ${judged.flat().join("; ")}`);
    });
  });
}
