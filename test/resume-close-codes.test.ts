// Which closes keep a resumable session: a client that closes on purpose (1000, as the bundled
// client's close() sends, or an application code 3000-4999) ends it at once, with onExpire then;
// a close frame without a code (what the client sends a link it gives up on), 1001 (going away)
// and a lost connection keep it for `ttl`. Real TCP, sessions in memory and in a real Redis.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { z } from "zod";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { connect } from "../src/client/index.js";
import { defineContract, request } from "../src/contract/index.js";
import { type Adapter, createServer, type EventSocket, type ExpiredSession, events, handle, Namespace, type Server } from "../src/index.js";
import { RedisServer } from "./helpers/redis-server.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { start, until } from "./helpers.js";

const contract = defineContract({ client: { join: request(z.object({ room: z.string() }), z.null()) } });

/** Far longer than any wait here: an onExpire seen within the test ran at the close, not at the window's end. */
const TTL = 60_000;

/** A resumable server whose `onExpire` calls land in `expired`. */
async function serve(adapter?: Adapter): Promise<{ server: Server; url: string; expired: ExpiredSession[] }> {
  const expired: ExpiredSession[] = [];
  @Namespace("/c")
  class Closing extends events(contract) {
    static onConnect(socket: EventSocket<typeof contract>) {
      if (!socket.resumed) socket.data = { name: "kim" };
    }
    static onExpire(session: ExpiredSession) {
      expired.push(session);
    }
    static events = handle(contract, {
      join(socket, { room }) {
        socket.join(room);
        return null;
      },
    });
  }
  const server = createServer({ handlers: [Closing], host: "127.0.0.1", port: 0, heartbeatInterval: 0, resume: { ttl: TTL }, adapter });
  return { server, url: `${await start(server)}/c`, expired };
}

/** A peer in room "r", its connection then closed with `code` (undefined: a close frame without a code). */
async function joinedThenClosed(server: Server, url: string, code: number | undefined): Promise<ResumePeer> {
  const peer = new ResumePeer(url);
  await peer.connect();
  peer.send([1, 1, "join", { room: "r" }]);
  await peer.next((f) => f[0] === 2 && f[1] === 1);
  const closed = new Promise((r) => peer.ws.once("close", r));
  peer.ws.close(code);
  await closed;
  await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the close");
  return peer;
}

function suite(name: string, adapter: () => Adapter | undefined) {
  describe(name, () => {
    let server: Server;
    let url: string;
    let expired: ExpiredSession[];
    before(async () => ({ server, url, expired } = await serve(adapter())));
    after(() => server.close());

    for (const code of [1000, 4000]) {
      it(`a close with ${code} ends the session at once: onExpire runs now, with its rooms and data; its token resumes nothing`, async () => {
        const peer = await joinedThenClosed(server, url, code);
        await until(() => expired.some((s) => s.id === peer.sid), "onExpire", 5000);
        const session = expired.find((s) => s.id === peer.sid);
        assert.deepEqual([session?.rooms, session?.data], [["r"], { name: "kim" }]);
        const sid = peer.sid;
        await peer.connect();
        assert.notEqual(peer.sid, sid, "a fresh session");
        assert.deepEqual(peer.gaps, [{ reason: "expired" }]);
        await sleep(100);
        assert.equal(expired.filter((s) => s.id === sid).length, 1, "onExpire once");
        peer.close();
      });
    }

    for (const code of [undefined, 1001]) {
      it(`a close ${code === undefined ? "frame without a code" : `with ${code}`} keeps the session: no onExpire, and it resumes`, async () => {
        const peer = await joinedThenClosed(server, url, code);
        const sid = peer.sid;
        await sleep(300);
        assert.equal(
          expired.some((s) => s.id === sid),
          false,
          "no onExpire",
        );
        await peer.connect();
        assert.equal(peer.sid, sid, "resumed");
        assert.deepEqual(peer.gaps, []);
        peer.close();
      });
    }

    for (const code of [1012, 1013, 1000, 4000]) {
      const keeps = code === 1012 || code === 1013;
      it(`socket.close(${code}) by the app ${keeps ? "keeps the session (come back): no onExpire, and it resumes with its rooms" : "ends the session: its token resumes nothing"}`, async () => {
        const peer = new ResumePeer(url);
        await peer.connect();
        peer.send([1, 1, "join", { room: `s${code}` }]);
        await peer.next((f) => f[0] === 2 && f[1] === 1);
        const sid = peer.sid as string;
        const closed = new Promise<number>((r) => peer.ws.once("close", (c: number) => r(c)));
        server.getSocket(sid)?.close(code, "rebalancing");
        assert.equal(await closed, code);
        await until(() => server.getSocket(sid) === undefined, "the server to see the close");
        await sleep(100);
        await peer.connect();
        if (keeps) {
          assert.equal(peer.sid, sid, "resumed");
          assert.deepEqual(peer.gaps, []);
          assert.ok(server.getSocket(sid)?.rooms.has(`s${code}`), "in its room again");
          assert.equal(
            expired.some((s) => s.id === sid),
            false,
            "no onExpire",
          );
        } else {
          assert.notEqual(peer.sid, sid, "a fresh session");
          assert.deepEqual(peer.gaps, [{ reason: "expired" }]);
        }
        peer.close();
      });
    }
  });
}

suite("closes by the client, sessions in memory", () => undefined);

describe("closes by the client, sessions in Redis", () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  before(async () => {
    redis = await RedisServer.launch();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis.stop();
  });
  suite("with createRedisAdapter", () => {
    const template = new Redis(redis.port, "127.0.0.1");
    clients.push(template);
    return createRedisAdapter(template, { prefix: "cc" });
  });
});

describe("the bundled client's close()", () => {
  it("ends its session at once (onExpire now)", async () => {
    const { server, url, expired } = await serve();
    try {
      const client = connect<typeof contract>(url, { WebSocket, resume: true });
      await until(() => client.state === "open" && client.id !== undefined, "the client open");
      await client.request("join", { room: "r" });
      const id = client.id;
      client.close();
      await until(() => expired.some((s) => s.id === id), "onExpire after close()", 5000);
    } finally {
      await server.close();
    }
  });
});
