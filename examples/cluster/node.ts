// One node of the two-node chat demo (`npm run demo:cluster` starts two of them): the chat room app
// of examples/chatroom with its sessions in Redis (connect-redis), so a login made on one node is
// valid on the other, and its rooms shared over Redis (the tswebsockets Redis adapter), so people
// on different nodes chat together. Env: REDIS_URL (required), PORT (default 8000), HOST.
import { RedisStore } from "connect-redis";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { createRedisAdapter } from "../../src/adapters/redis/index.js";
import { startChat } from "../chatroom/app.js";

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined) {
  console.error("REDIS_URL is not set (e.g. redis://127.0.0.1:6379); `npm run demo:cluster` sets it for you");
  process.exit(1);
}
const port = process.env.PORT === undefined ? 8000 : Number(process.env.PORT);

// connect-redis speaks node-redis; the adapter speaks ioredis. Both reach the same Redis.
const sessionClient = createClient({ url: redisUrl });
sessionClient.on("error", (error: Error) => console.error(`session store: ${error.message}`));
await sessionClient.connect();
const adapterClient = new Redis(redisUrl);
const chat = await startChat({
  port,
  host: process.env.HOST ?? "localhost",
  sessionStore: new RedisStore({ client: sessionClient, prefix: "chat:session:" }),
  adapter: createRedisAdapter(adapterClient, { prefix: "chat" }),
});
console.log(`chat node on ${chat.url} (sessions and rooms shared through ${redisUrl})`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await chat.close();
  await sessionClient.close();
  adapterClient.disconnect();
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () =>
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    ),
  );
}
