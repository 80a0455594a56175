/**
 * One node of the resumable chat (resume-chat.ts) in a process of its own, on the Redis adapter,
 * for tests that kill a node with SIGKILL. Env: REDIS_PORT, PREFIX. Prints `{ port, nodeId }` once it listens.
 */
import { Redis } from "ioredis";
import { createRedisAdapter } from "../../src/adapters/redis/index.js";
import { startResumeNode } from "./resume-chat.js";

const adapter = createRedisAdapter(new Redis(Number(process.env.REDIS_PORT), "127.0.0.1"), { prefix: process.env.PREFIX });
const { port } = await startResumeNode(adapter);
process.stdout.write(`${JSON.stringify({ port, nodeId: adapter.nodeId })}\n`);
