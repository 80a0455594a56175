/**
 * What marking running requests in the Redis session hash costs a resumable session's
 * request/reply throughput: one node on the Redis adapter with `resume` on, one resuming client
 * keeping `--window` requests in flight, replies per second and this process's CPU per reply,
 * with the marks (as shipped) and without (`markRunning` taken off the store for the run),
 * alternating, `--runs` each. Server, client and Redis share this 2-core machine: the ratio is the
 * point. Resume off never reaches this code (the event layer has no reply cache then).
 * `--slow`: the handler awaits a timer (`slow`, 0 ms), so every request is still running at the
 * end of its turn and is marked (one script per turn and session); by default a synchronous
 * handler (`join`), whose replies ride on the record write and are never marked.
 * Run: node --import tsx bench/resume-rpc.ts [--runs=3] [--requests=20000] [--window=100] [--slow]
 */
import { Redis } from "ioredis";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { RedisSessions } from "../src/adapters/redis/session-store.js";
import { RedisServer } from "../test/helpers/redis-server.js";
import { resumer, settled, startNode } from "../test/helpers/resume-client.js";

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const runs = arg("runs", 3);
const requests = arg("requests", 20_000);
const window = arg("window", 100);
const slow = process.argv.includes("--slow");
type Bench = ReturnType<typeof resumer>;
const ask = (client: Bench) => (slow ? client.request("slow", { ms: 0 }) : client.request("join", { room: "r" }));

interface Figures {
  readonly rate: number;
  readonly cpuPerReply: number;
}

async function once(redisPort: number, marks: boolean, prefix: string): Promise<Figures> {
  const proto = RedisSessions.prototype as { markRunning?: unknown };
  const markRunning = proto.markRunning;
  if (!marks) proto.markRunning = undefined; // the runtime then makes caches without marks
  const template = new Redis(redisPort, "127.0.0.1");
  const node = await startNode({ ttl: 60_000 }, 0, createRedisAdapter(template, { prefix }));
  proto.markRunning = markRunning;
  const client = resumer(node.url);
  await settled(client);
  for (let i = 0; i < 500; i++) await ask(client); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  const worker = async () => {
    while (sent < requests) {
      sent++;
      await ask(client);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  client.close();
  await node.server.close();
  template.disconnect();
  return { rate: requests / seconds, cpuPerReply: (cpu.user + cpu.system) / requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const redis = await RedisServer.launch();
try {
  const withMarks: Figures[] = [];
  const without: Figures[] = [];
  for (let i = 0; i < runs; i++) {
    without.push(await once(redis.port, false, `off${i}`));
    withMarks.push(await once(redis.port, true, `on${i}`));
    console.log(
      `run ${i + 1}/${runs}: without marks ${without[i]!.rate.toFixed(0)}/s ${without[i]!.cpuPerReply.toFixed(1)} µs; ` +
        `with marks ${withMarks[i]!.rate.toFixed(0)}/s ${withMarks[i]!.cpuPerReply.toFixed(1)} µs`,
    );
  }
  const rOff = median(without.map((f) => f.rate));
  const rOn = median(withMarks.map((f) => f.rate));
  const cOff = median(without.map((f) => f.cpuPerReply));
  const cOn = median(withMarks.map((f) => f.cpuPerReply));
  const handler = slow ? "an async handler (a 0 ms timer: every request marked)" : "a synchronous handler (no request marked)";
  console.log(`\nresume on, Redis sessions, ${handler}, ${requests} requests, ${window} in flight, median of ${runs}:`);
  console.log("| | replies/s | CPU per reply (µs, server+client) |");
  console.log("| --- | --- | --- |");
  console.log(`| without running marks | ${rOff.toFixed(0)} | ${cOff.toFixed(1)} |`);
  console.log(`| with running marks | ${rOn.toFixed(0)} | ${cOn.toFixed(1)} |`);
  console.log(`| ratio with / without | ${(rOn / rOff).toFixed(2)}× | ${(cOn / cOff).toFixed(2)}× |`);
} finally {
  await redis.stop();
}
