import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { createRedisAdapter, type RedisAdapter, type RedisAdapterOptions } from "../src/adapters/redis/index.js";
import { AdapterError, type Server } from "../src/index.js";
import { ChatClient, eventually, recordingLogger, startNode } from "./helpers/cluster-chat.js";
import { freePort, RedisServer } from "./helpers/redis-server.js";

/*
 * Redis failing in the ways issue 11 (items 4-6) and issue 12 (item 10) describe: restarted empty,
 * frozen with SIGSTOP (connections open, nothing answered), unreachable at start.
 */

const slow = { timeout: 90_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client in a room that counts what it receives and keeps nothing else (a 10 MiB test must not measure its own copies). */
class CountingClient {
  readonly ws: WebSocket;
  count = 0;
  /** The numbered messages received, by number (only the numbers, never the payloads). */
  readonly numbers: number[] = [];
  readonly markers: string[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      const head = data.toString("latin1", 0, Math.min(data.length, 24));
      if (head.startsWith("id:")) return;
      const bar = head.indexOf("|");
      if (bar > 0) {
        this.count++;
        this.numbers.push(Number(head.slice(0, bar)));
      } else this.markers.push(data.toString());
    });
  }

  static async connect(port: number, room: string): Promise<CountingClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/room/${room}`);
    const client = new CountingClient(ws);
    await once(ws, "message"); // the id: the socket has joined the room
    return client;
  }
}

/** Two nodes A and B sharing one Redis under their own prefix. */
async function twoNodes(redis: RedisServer, prefix: string, options: RedisAdapterOptions = {}) {
  const made: { server: Server; port: number; adapter: RedisAdapter; client: Redis }[] = [];
  for (let i = 0; i < 2; i++) {
    const client = new Redis(redis.port, "127.0.0.1");
    const adapter = createRedisAdapter(client, { prefix, nodeTtl: 3000, ...options });
    made.push({ ...(await startNode(adapter, recordingLogger())), adapter, client });
  }
  return {
    a: made[0]!,
    b: made[1]!,
    async close() {
      await Promise.all(made.map((n) => n.server.close()));
      for (const n of made) n.client.disconnect();
    },
  };
}

describe("the Redis adapter when Redis misbehaves", () => {
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.launch();
  });
  after(async () => {
    redis.thaw();
    await redis.stop();
  });

  it(
    "after a restart, counts every broadcast that did not reach the other node, and reports connected only once subscribed",
    slow,
    async () => {
      const { a, b, close } = await twoNodes(redis, "restart");
      let inspector: Redis | undefined;
      try {
        const onB = await CountingClient.connect(b.port, "restart");
        await CountingClient.connect(a.port, "restart");
        await redis.kill();
        await eventually(() => !a.adapter.stats.connected && !b.adapter.stats.connected, "both nodes see Redis gone");

        inspector = new Redis(redis.port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => 50 });
        const droppedBefore = a.adapter.stats.dropped;
        await redis.start();
        await inspector.connect();
        // Broadcast every 5 ms from A through the reconnection, until B has heard for a while.
        let sent = 0;
        let heardAt = 0;
        let subscribedWhenConnected: number | undefined;
        while (heardAt === 0 || Date.now() - heardAt < 1000) {
          a.server.to("restart").send(`${sent++}|x`);
          if (heardAt === 0 && onB.count > 0) heardAt = Date.now();
          if (subscribedWhenConnected === undefined && a.adapter.stats.connected && b.adapter.stats.connected) {
            const [, subscribers] = (await inspector.pubsub("NUMSUB", "restart:ops")) as [string, number];
            subscribedWhenConnected = subscribers;
          }
          await sleep(5);
        }
        await eventually(() => a.adapter.stats.inFlight === 0, "A's publishes are all answered");
        await sleep(200);
        const dropped = a.adapter.stats.dropped - droppedBefore;
        assert.equal(onB.count + dropped, sent, `B received ${onB.count} of ${sent}; A counted ${dropped} dropped`);
        assert.deepEqual(
          onB.numbers,
          [...onB.numbers].sort((x, y) => x - y),
          "in order",
        );
        assert.equal(new Set(onB.numbers).size, onB.numbers.length, "none twice");
        assert.equal(subscribedWhenConnected, 2, "both report connected only once both are subscribed");
      } finally {
        inspector?.disconnect();
        await close();
      }
    },
  );

  it("bounds what a frozen Redis holds in memory, drops and counts past it, and never delivers stale broadcasts", slow, async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const heap = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    // 1 MiB in flight at most (default 4 MiB), stale after 2 s (default 5 s): a shorter test, the same bounds.
    const maxInFlightBytes = 2 ** 20;
    const maxOpAge = 2000;
    const { a, b, close } = await twoNodes(redis, "frozen", { maxInFlightBytes, maxOpAge });
    try {
      const onA = await CountingClient.connect(a.port, "frozen");
      const onB = await CountingClient.connect(b.port, "frozen");
      a.server.to("frozen").send("warm-up");
      await eventually(() => onB.markers.includes("warm-up") && a.adapter.stats.inFlight === 0, "B hears A");
      const before = heap();
      const statsBefore = a.adapter.stats;
      const staleBefore = b.adapter.stats.stale;

      redis.freeze();
      const payload = "x".repeat(4096);
      for (let i = 0; i < 2560; i++) {
        a.server.to("frozen").send(`${i}|${payload}`);
        if (i % 64 === 63) await sleep(1); // let local delivery and ioredis' writes go on, as a live server would
      }
      await eventually(() => onA.count === 2560, "A's own member got all 2,560");
      const frozenAt = Date.now();
      const growth = heap() - before;
      const during = a.adapter.stats;
      // Stay frozen past maxOpAge: whatever Redis held is stale by the time it runs again.
      await sleep(Math.max(0, frozenAt + maxOpAge + 1000 - Date.now()));
      redis.thaw();
      await eventually(() => a.adapter.stats.inFlight === 0, "Redis answered everything it held", 30_000);
      const after = a.adapter.stats; // before the probes below, which are published afresh
      let probe = 0;
      await eventually(async () => {
        a.server.to("frozen").send(`after ${probe++}`);
        await sleep(100);
        return onB.markers.some((m) => m.startsWith("after"));
      }, "cross-node delivery resumes");

      const reachedRedis = during.inFlight;
      console.log(
        `frozen Redis: growth after GC ${(growth / 2 ** 20).toFixed(2)} MiB; in flight ${during.inFlight} ops / ${(during.inFlightBytes / 2 ** 20).toFixed(2)} MiB; overflowed ${during.overflowed}; late ${after.late - statsBefore.late}; stale at B ${b.adapter.stats.stale - staleBefore}`,
      );
      assert.equal(onB.count, 0, "B received none of the broadcasts sent while Redis was frozen");
      assert.ok(growth < 3 * maxInFlightBytes, `memory grew ${(growth / 2 ** 20).toFixed(1)} MiB while 10 MiB were broadcast`);
      assert.ok(during.inFlightBytes <= maxInFlightBytes, "in-flight bytes stay within maxInFlightBytes");
      assert.ok(reachedRedis > 0, "some broadcasts were sent before the bound was reached");
      assert.equal(
        during.overflowed - statsBefore.overflowed,
        2560 - reachedRedis,
        "every broadcast past the bound was dropped and counted",
      );
      assert.equal(after.published - statsBefore.published, 0, "none counted as published");
      assert.equal(after.dropped - statsBefore.dropped, 2560, "every one counted as dropped: past the bound, or answered too late");
      assert.equal(after.late - statsBefore.late, reachedRedis, "the ones Redis answered late are counted as late");
      assert.equal(b.adapter.stats.stale - staleBefore, reachedRedis, "B discarded the stale ones and counted them");
    } finally {
      redis.thaw();
      await close();
    }
  });

  it("answers members() within membersTimeout with this node's members while Redis is frozen", slow, async () => {
    const { a, b, close } = await twoNodes(redis, "frozen-members");
    const clients: ChatClient[] = [];
    try {
      clients.push(
        ...(await Promise.all([ChatClient.connect(a.port, "fm"), ChatClient.connect(a.port, "fm"), ChatClient.connect(b.port, "fm")])),
      );
      const [a1, a2, b1] = clients as [ChatClient, ChatClient, ChatClient];
      const all = [a1.id, a2.id, b1.id].sort();
      await eventually(async () => JSON.stringify(await a1.members("fm")) === JSON.stringify(all), "all three are listed");
      redis.freeze();
      const latencies: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const answer = await Promise.race([a1.members("fm"), sleep(10_000).then(() => "no answer within 10 s")]);
        latencies.push(Date.now() - started);
        assert.deepEqual(answer, [a1.id, a2.id].sort(), "this node's members only");
      }
      console.log(`members() while Redis is frozen answered in ${latencies.join(", ")} ms (membersTimeout 1000)`);
      // The first call waits out membersTimeout (default 1000 ms); later ones need not wait again.
      assert.ok(Math.max(...latencies) < 1000 + 2000, `latencies ${latencies.join(", ")} ms`);
      assert.ok(a.adapter.stats.membersLocalOnly >= 1, "the timeout is counted");
    } finally {
      redis.thaw();
      for (const c of clients) c.close();
      await close();
    }
  });
});

describe("the Redis adapter when nothing listens at Redis' address", () => {
  it("makes listen() reject at once with TSWS_REDIS_UNREACHABLE and the connection error", { timeout: 30_000 }, async () => {
    const port = await freePort(); // nothing listens there
    const client = new Redis(port, "127.0.0.1", { lazyConnect: true });
    const adapter = createRedisAdapter(client); // the default startTimeout: 10 s
    const started = Date.now();
    await assert.rejects(startNode(adapter, recordingLogger()), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, "TSWS_REDIS_UNREACHABLE");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took < 3000, `rejected after ${took} ms, not after startTimeout`);
  });
});
