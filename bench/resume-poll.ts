/**
 * What one node's poll for expired sessions costs with the Redis session store, idle (nothing
 * expired: the usual case), in the two layouts: the classic mode's one deadlines set on one Redis,
 * and the sharded mode's 64 bucket sets on one Redis and on a local 3-master Redis Cluster (every
 * node polls every `min(1 s, ttl / 4)`). Wall time per poll (client and Redis on this machine),
 * median and p90 of 200 polls after 20 warm-up ones, and the ratio to the classic poll.
 * Run: node --import tsx bench/resume-poll.ts
 */
import { Redis } from "ioredis";
import { oneRedisLayout, type SessionLayout, slotLayout } from "../src/adapters/redis/session-layout.js";
import { RedisSessions } from "../src/adapters/redis/session-store.js";
import { RedisCluster } from "../test/helpers/redis-cluster.js";
import { RedisServer } from "../test/helpers/redis-server.js";
import { Samples } from "./stats.js";

const POLLS = 200;

async function poll(connection: Redis | InstanceType<typeof Redis.Cluster>, layout: SessionLayout): Promise<{ p50: number; p90: number }> {
  // ttl and pollEvery far away: the store's own timers never run during the measurement.
  const store = new RedisSessions(connection, { ttl: 1e9, layout, pollEvery: 1e9 });
  try {
    for (let i = 0; i < 20; i++) await store.claimExpired();
    const times = new Samples();
    for (let i = 0; i < POLLS; i++) {
      const start = process.hrtime.bigint();
      await store.claimExpired();
      times.add(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const [p50, p90] = times.percentiles(50, 90) as [number, number];
    return { p50, p90 };
  } finally {
    store.close();
  }
}

const single = await RedisServer.launch();
const cluster = await RedisCluster.launch(3);
const one = new Redis(single.port, "127.0.0.1");
const many = new Redis.Cluster(cluster.nodes);
try {
  const classic = await poll(one, oneRedisLayout("bench"));
  const rows: [string, { p50: number; p90: number }][] = [
    ["classic layout, one Redis (1 set)", classic],
    ["slot layout, one Redis (64 sets)", await poll(one, slotLayout("bench"))],
    ["slot layout, 3-master cluster (64 sets)", await poll(many, slotLayout("bench"))],
  ];
  for (const [name, { p50, p90 }] of rows) {
    console.log(`${name.padEnd(42)} p50 ${p50.toFixed(3)} ms  p90 ${p90.toFixed(3)} ms  (${(p50 / classic.p50).toFixed(1)}x classic)`);
  }
} finally {
  one.disconnect();
  many.disconnect();
  await cluster.stop();
  await single.stop();
}
