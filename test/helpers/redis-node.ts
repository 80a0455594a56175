/**
 * One chat node in a process of its own, for tests that kill a node with SIGKILL.
 * Env: REDIS_PORT, PREFIX, NODE_TTL. Prints one JSON line `{ port, nodeId }` once it listens.
 */
import { Redis } from "ioredis";
import { createRedisAdapter } from "../../src/adapters/redis/index.js";
import { startNode } from "./cluster-chat.js";

const adapter = createRedisAdapter(new Redis(Number(process.env.REDIS_PORT), "127.0.0.1"), {
  prefix: process.env.PREFIX,
  nodeTtl: Number(process.env.NODE_TTL),
});
const { port } = await startNode(adapter);
process.stdout.write(`${JSON.stringify({ port, nodeId: adapter.nodeId })}\n`);
