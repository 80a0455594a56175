/**
 * One node of test/helpers/resume-cluster-app.ts in a process of its own, on the sharded Redis
 * adapter over a Redis Cluster, for a test that kills it with SIGKILL. Env: CLUSTER_PORTS (comma
 * separated), PREFIX, TTL (ms). Prints `{ port }` once it listens.
 */
import { Redis } from "ioredis";
import { createRedisAdapter } from "../../src/adapters/redis/index.js";
import { startClusterChat } from "./resume-cluster-app.js";

const nodes = (process.env.CLUSTER_PORTS ?? "").split(",").map((port) => ({ host: "127.0.0.1", port: Number(port) }));
const adapter = createRedisAdapter(new Redis.Cluster(nodes), { prefix: process.env.PREFIX, sharded: true });
const node = await startClusterChat(adapter, Number(process.env.TTL));
process.stdout.write(`${JSON.stringify({ port: new URL(node.url("")).port })}\n`);
