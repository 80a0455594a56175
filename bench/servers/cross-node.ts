import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server as SocketIoServer } from "socket.io";
import type { RedisAdapter } from "../../src/adapters/redis/index.js";
import type { Message, Socket } from "../../src/index.js";
import { loadBuilt, loadBuiltRedis } from "./built.js";
import { serveControl } from "./control.js";

/**
 * One node of the cross-node benchmark (bench/cross-node.ts), sharing a Redis with the others.
 * IMPL: tsws | tsws-sharded | sio | sio-sharded; REDIS_PORT: the Redis to share.
 * A client connects with `?room=<name>&join=1|0`: it joins the room (or not), and every message it
 * sends is broadcast to that room, across nodes, through the implementation's Redis adapter.
 * The runner reads, besides CPU time, `arrived`: messages Redis delivered to this node's subscriber
 * connection (tswebsockets: `adapter.stats.arrived`; Socket.IO: its subscriber's message events).
 */

const impl = process.env.IMPL ?? "tsws";
const redisPort = Number(process.env.REDIS_PORT);
const redis = new Redis(redisPort, "127.0.0.1");

function roomOf(url: string | undefined): { room: string; join: boolean } {
  const query = new URL(url ?? "/", "http://x").searchParams;
  return { room: query.get("room") ?? "room", join: query.get("join") !== "0" };
}

let arrived: () => number;
let close: () => Promise<void>;
let port: number;

if (impl === "tsws" || impl === "tsws-sharded") {
  // The built package, as an application runs it (see built.ts); the runner builds it first.
  const { BaseHandler, createServer, Namespace } = (await loadBuilt()).lib;
  const { createRedisAdapter } = await loadBuiltRedis();
  @Namespace("/room")
  class Relay extends BaseHandler {
    static onConnect(socket: Socket): void {
      const { room, join } = roomOf(socket.request.url);
      if (join) socket.join(room);
    }
    static onMessage(socket: Socket, message: Message): void {
      socket.server.to(roomOf(socket.request.url).room).send(message);
    }
  }
  const adapter: RedisAdapter = createRedisAdapter(redis, impl === "tsws-sharded" ? { sharded: true } : {});
  const server = createServer({ handlers: [Relay], host: "127.0.0.1", port: 0, adapter, maxConnections: 1_000_000 });
  ({ port } = await server.listen());
  arrived = () => adapter.stats.arrived;
  close = () => server.close();
} else {
  // Socket.IO as its docs show it: the client template, a duplicate to subscribe.
  const sub = redis.duplicate();
  let count = 0;
  const tally = () => {
    count++;
  };
  for (const event of ["messageBuffer", "pmessageBuffer", "smessageBuffer"]) sub.on(event, tally);
  const adapter = impl === "sio-sharded" ? createShardedAdapter(redis, sub, { subscriptionMode: "dynamic" }) : createAdapter(redis, sub);
  const http = createHttpServer();
  const io = new SocketIoServer(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false, adapter });
  io.on("connection", (socket) => {
    const { room, join } = roomOf(socket.handshake.url);
    if (join) socket.join(room);
    socket.on("b", (message: string) => io.to(room).emit("b", message));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = (http.address() as AddressInfo).port;
  arrived = () => count;
  close = async () => {
    io.close();
    http.closeAllConnections();
    sub.disconnect();
  };
}

serveControl(
  port,
  async () => {
    await close();
    redis.disconnect();
  },
  () => arrived(),
);
