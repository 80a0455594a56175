// `npm run demo:cluster`: the chat demo on two nodes sharing one Redis, http://localhost:8000 and
// http://localhost:8002. Log in as alice on one and as bob on the other (two browsers, or a private
// window: both ports share the session cookie), open the same room, and chat across the nodes.
//   REDIS_URL unset    starts a private redis-server (no persistence) and stops it on exit
//   REDIS_URL=redis://host:6379 npm run demo:cluster    uses that Redis instead
//   PORTS=9000,9002    other ports (0 picks free ones); HOST as for `npm start`
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RedisServer } from "../../test/helpers/redis-server.js";

const ports = (process.env.PORTS ?? "8000,8002").split(",").map(Number);
if (ports.length !== 2 || !ports.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535)) {
  console.error(`PORTS must be two ports separated by a comma, got ${JSON.stringify(process.env.PORTS)}`);
  process.exit(1);
}
// The same throwaway redis-server the tests use.
const own = process.env.REDIS_URL === undefined ? await RedisServer.launch() : undefined;
const redisUrl = process.env.REDIS_URL ?? own?.url ?? "";
if (own !== undefined) console.log(`started redis-server on ${redisUrl} (REDIS_URL was not set)`);

const nodeScript = fileURLToPath(new URL("node.ts", import.meta.url));
const nodes: ChildProcess[] = ports.map((port) =>
  spawn(process.execPath, ["--import", "tsx", nodeScript], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
    stdio: "inherit",
  }),
);

let stopping = false;
/** Stops both nodes (each closes its sockets gracefully), then the private Redis. */
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    nodes.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }),
  );
  await own?.stop();
}
// One node dying takes the demo down rather than leaving half of it running.
for (const child of nodes) child.once("exit", () => void stop());
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
