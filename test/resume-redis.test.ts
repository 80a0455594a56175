import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { slotLayout } from "../src/adapters/redis/session-layout.js";
import { RedisSessions } from "../src/adapters/redis/session-store.js";
import { parseStreamPublish, RedisHistory } from "../src/adapters/redis/streams-log.js";
import { planStream } from "../src/resume/gap-plan.js";
import { MemoryHistory } from "../src/resume/memory-history.js";
import type { SessionRecord } from "../src/resume/session-store.js";
import { RedisServer } from "./helpers/redis-server.js";

const slow = { timeout: 30_000 };

describe("resume over Redis", () => {
  let server: RedisServer;
  const connections: Redis[] = [];
  const stores: RedisSessions[] = [];
  const connect = () => {
    const r = new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 3 });
    connections.push(r);
    return r;
  };
  // Any node may claim an expired session and run *its* listeners: each test uses its own prefix
  // so stores of earlier tests (still polling) do not claim this test's sessions.
  const sessions = (ttl: number, prefix: string) => {
    const s = new RedisSessions(connect(), { ttl, prefix, pollEvery: 50 });
    stores.push(s);
    return s;
  };
  let redis: Redis;

  before(async () => {
    server = await RedisServer.launch();
    redis = connect();
  });
  after(async () => {
    for (const s of stores) s.close();
    for (const r of connections) r.disconnect();
    await server.stop();
  });

  describe("RedisHistory", () => {
    it("numbers, trims and reads exactly as the memory history does, except() lists included", slow, async () => {
      const log = new RedisHistory(redis, { size: 5, ttl: 60_000, prefix: "same" });
      const mem = new MemoryHistory({ size: 5, ttl: 60_000 });
      const start = await log.position("room:a");
      const memStart = mem.position("room:a");
      assert.equal(start.seq, 0);
      for (let i = 1; i <= 12; i++) {
        // Every third message was sent with except(): replays and fills must skip those sockets.
        const except = i % 3 === 0 ? ["s-1", `s-${i}`] : undefined;
        const p = await log.append("room:a", `"m",${i}`, except);
        assert.deepEqual(p, { seq: i, epoch: start.epoch });
        mem.append("room:a", `"m",${i}`, except);
      }
      const held = await log.read("room:a", { seq: 7, epoch: start.epoch }, 100);
      assert.deepEqual(
        held.entries.map((e) => [e.seq, e.except]),
        [
          [8, undefined],
          [9, ["s-1", "s-9"]],
          [10, undefined],
          [11, undefined],
          [12, ["s-1", "s-12"]],
        ],
      );
      for (const [after, limit] of [
        [0, 100],
        [3, 100],
        [9, 100],
        [12, 100],
        [0, 2],
      ] as const) {
        const w = await log.read("room:a", { seq: after, epoch: start.epoch }, limit);
        const m = mem.read("room:a", { seq: after, epoch: memStart.epoch }, limit);
        assert.deepEqual({ ...w, epoch: "" }, { ...m, epoch: "" }, `after ${after}, limit ${limit}`);
      }
    });

    it("keeps numbers unique and gapless under concurrent appends from two connections", slow, async () => {
      const log1 = new RedisHistory(connect(), { size: 1000, ttl: 60_000, prefix: "conc" });
      const log2 = new RedisHistory(connect(), { size: 1000, ttl: 60_000, prefix: "conc" });
      const all = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? log1 : log2).append("room:c", `${i}`)));
      assert.deepEqual(
        all.map((p) => p.seq).sort((a, b) => a - b),
        Array.from({ length: 400 }, (_, i) => i + 1),
      );
      assert.equal(new Set(all.map((p) => p.epoch)).size, 1);
    });

    it("publishes in the same step, with the number history gave the message", slow, async () => {
      const sub = connect();
      const got: ReturnType<typeof parseStreamPublish>[] = [];
      sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => got.push(parseStreamPublish(message)));
      await sub.subscribe("t:ops");
      const log = new RedisHistory(redis, { size: 10, ttl: 60_000, prefix: "pub" });
      const p1 = await log.publish("room:p", '"m",1', "t:ops", Buffer.from([0, 1, 2, 255]));
      const p2 = await log.publish("room:p", '"m",2', "t:ops", "op-two");
      while (got.length < 2) await sleep(5);
      assert.deepEqual(got[0], { seq: p1.seq, epoch: p1.epoch, payload: Buffer.from([0, 1, 2, 255]) });
      assert.deepEqual(got[1], { seq: p2.seq, epoch: p2.epoch, payload: Buffer.from("op-two") });
      const w = await log.read("room:p", { seq: 0, epoch: p1.epoch }, 10);
      assert.deepEqual(
        w.entries.map((e) => e.seq),
        [p1.seq, p2.seq],
      );
    });

    it("expires entries by age and keeps numbering when an idle stream's log vanished with its age", slow, async () => {
      const log = new RedisHistory(redis, { size: 10, ttl: 300, prefix: "age" });
      const p1 = await log.append("room:x", "a");
      await log.append("room:x", "b");
      await sleep(450);
      assert.equal(await redis.exists("age:hist:{room:x}:log"), 0, "the log key expired with its entries");
      const w = await log.read("room:x", p1, 10);
      assert.equal(w.epoch, p1.epoch, "no reset for an expiry");
      assert.equal(w.expiredThrough, 2);
      assert.equal(planStream("room:x", p1, w, 100).gap?.reason, "expired");
      assert.deepEqual(await log.append("room:x", "c"), { seq: 3, epoch: p1.epoch });
    });

    it("starts a new epoch when the store was emptied or the log vanished early, so readers get reset", slow, async () => {
      const log = new RedisHistory(redis, { size: 10, ttl: 60_000, prefix: "reset" });
      const p = await log.append("room:r", "a");
      await redis.del("reset:hist:{room:r}:log"); // an eviction of the log alone
      const w1 = await log.read("room:r", p, 10);
      assert.notEqual(w1.epoch, p.epoch);
      assert.equal(planStream("room:r", p, w1, 100).gap?.reason, "reset");
      const q = await log.append("room:r", "b");
      assert.deepEqual(q, { seq: 1, epoch: w1.epoch });
      await redis.flushall();
      const w2 = await log.read("room:r", q, 10);
      assert.notEqual(w2.epoch, q.epoch);
      assert.equal(planStream("room:r", q, w2, 100).gap?.reason, "reset");
    });

    it("starts a new epoch after Redis restarts empty", slow, async () => {
      const own = connect();
      const log = new RedisHistory(own, { size: 10, ttl: 60_000, prefix: "restart" });
      const p = await log.append("room:k", "a");
      await server.kill();
      await server.start();
      let w: Awaited<ReturnType<typeof log.read>> | undefined;
      for (let i = 0; i < 100 && w === undefined; i++) w = await log.read("room:k", p, 10).catch(() => sleep(50).then(() => undefined));
      assert.ok(w);
      assert.notEqual(w.epoch, p.epoch);
      assert.equal(planStream("room:k", p, w, 100).gap?.reason, "reset");
    });
  });

  describe("RedisSessions", () => {
    const record = (sid: string): SessionRecord => ({
      sid,
      owner: "user:1",
      path: "/chat",
      rooms: ["a"],
      data: '{"x":1}',
      positions: { "room:a": { seq: 4, epoch: "e" } },
      generation: 0,
      replies: [[1, "[2,1]"]],
    });

    it("gives a session back once per token, to its owner only, with a rotated token", slow, async () => {
      const store = sessions(60_000, "s1");
      const token = await store.open(record("r1"));
      await store.detach("r1", 0);
      assert.deepEqual(await store.take(token, "user:2"), { ok: false, reason: "owner" });
      const taken = await store.take(token, "user:1");
      assert.ok(taken.ok);
      assert.deepEqual(taken.record, { ...record("r1"), generation: 1 });
      await store.retire("r1", 1); // the client holds the new token
      assert.deepEqual(await store.take(token, "user:1"), { ok: false, reason: "unknown" });
      assert.deepEqual(await store.take("r1.AAAAAAAAAAAAAAAAAAAAAA", "user:1"), { ok: false, reason: "unknown" });
      assert.equal(await store.update({ ...record("r1"), rooms: ["stale"] }), false, "an older generation cannot write");
      assert.equal(await store.update({ ...taken.record, rooms: ["b"] }), true);
      const again = await store.take(taken.token, "user:1");
      assert.ok(again.ok);
      assert.deepEqual(again.record.rooms, ["b"]);
      assert.equal(await store.end("r1", 1), false, "an older generation's end leaves the session alone");
      assert.equal(await store.end("r1", 2), true);
      assert.equal(await store.end("r1", 2), false, "ended already");
      assert.equal((await store.take(again.token, "user:1")).ok, false);
    });

    it("keeps the token that took a session good until the client holds the next (retire, or a take with it): an abandoned take's session goes back to it", async () => {
      const store = sessions(60_000, "s1");
      const token = await store.open(record("g1"));
      await store.detach("g1", 0);
      const taken = await store.take(token, "user:1");
      assert.ok(taken.ok);
      const lost = await store.take(token, "user:1");
      assert.ok(lost.ok, "a take whose answer was lost (nobody used it): the same token takes it again");
      await store.detach("g1", 2); // the take's upgrade was abandoned
      const again = await store.take(token, "user:1");
      assert.ok(again.ok, "the token that took it takes it again");
      assert.equal(again.record.generation, 3);
      assert.equal((await store.take(taken.token, "user:1")).ok, false, "a token no client got, replaced since");
      assert.deepEqual(await store.take(token, "user:2"), { ok: false, reason: "owner" }, "another owner, with the previous token");
      await store.retire("g1", 1);
      const third = await store.take(token, "user:1");
      assert.ok(third.ok, "a retire of an older generation changes nothing");
      await store.retire("g1", 4);
      assert.equal((await store.take(token, "user:1")).ok, false, "retired: the client confirmed the next");
      const fourth = await store.take(third.token, "user:1");
      assert.ok(fourth.ok);
      assert.ok((await store.take(fourth.token, "user:1")).ok);
      assert.equal((await store.take(third.token, "user:1")).ok, false, "a take with the next token retired it");
      // A take by a node from before the previous token (it rotates d and advances g, and knows
      // nothing of p): the previous token no longer counts.
      const fifth = await store.take(fourth.token, "user:1");
      assert.ok(fifth.ok);
      await redis.hset("s1:sess:{g1}", "d", "0".repeat(64));
      await redis.hincrby("s1:sess:{g1}", "g", 1);
      assert.equal((await store.take(fourth.token, "user:1")).ok, false, "not after another generation's take");
    });

    it("expires a detached session once across two nodes polling the same Redis", slow, async () => {
      const a = sessions(300, "s2");
      const b = sessions(300, "s2");
      const expired: string[] = [];
      a.onExpire((r) => expired.push(`a:${r.sid}`));
      b.onExpire((r) => expired.push(`b:${r.sid}`));
      await a.open(record("x1"));
      await a.open(record("x2"));
      await a.detach("x1", 0);
      await a.detach("x2", 0);
      await sleep(200);
      assert.equal(expired.length, 0);
      const until = Date.now() + 5_000;
      while (expired.length < 2 && Date.now() < until) await sleep(20);
      await sleep(200);
      assert.deepEqual(expired.map((e) => e.slice(2)).sort(), ["x1", "x2"], "each once");
    });

    it("tells the previous holder of a take on its channel, and its lease renewal when that notice was lost", slow, async () => {
      const heard: string[] = [];
      const sub = connect();
      await sub.subscribe("s4:direct:A");
      sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => heard.push(message.subarray(5).toString()));
      const on = (me: string) => ({ me: () => me, prefix: "s4:direct:", suffix: "", command: "PUBLISH" as const });
      const made = (me: string) => {
        const s = new RedisSessions(connect(), { ttl: 600, prefix: "s4", pollEvery: 50, channels: on(me) });
        stores.push(s);
        return s;
      };
      const a = made("A");
      const b = made("B");
      const moved: string[] = [];
      a.onMoved((sid, generation) => moved.push(`${sid}@${generation}`));
      // Held by A, taken by B: A hears it on its channel (its adapter passes it to a.moved()).
      const token = await a.open(record("m1"));
      assert.equal(await redis.hget("s4:sess:{m1}", "n"), "A");
      const taken = await b.take(token, "user:1");
      assert.ok(taken.ok);
      assert.equal(await redis.hget("s4:sess:{m1}", "n"), "B");
      const deadline = Date.now() + 5_000;
      while (heard.length === 0 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(heard, ["1:m1"], "generation 1 of m1 is elsewhere");
      a.moved("m1", 1); // what A's adapter does with the notice: A renews m1 no more
      // A detach clears the holder; a take by the same node tells nobody.
      await b.detach("m1", 1);
      assert.equal(await redis.hget("s4:sess:{m1}", "n"), "");
      // Held by A again, taken by B while A's notice goes nowhere (nobody hears s4:direct:A now):
      // A's next lease renewal (every ttl / 3) finds the newer generation.
      await sub.unsubscribe("s4:direct:A");
      const back = await a.take(taken.token, "user:1");
      assert.ok(back.ok);
      assert.equal(back.record.generation, 2);
      assert.equal((await b.take(back.token, "user:1")).ok, true);
      while (moved.length < 2 && Date.now() < deadline + 5_000) await sleep(10);
      assert.deepEqual(moved, ["m1@1", "m1@3"], "the renewal told A");
      await sleep(500);
      assert.deepEqual(moved, ["m1@1", "m1@3"], "once");
    });

    it(
      "in slots (the sharded mode's layout): expires each session once across buckets and stores, renews by bucket, tells a previous holder after the take",
      slow,
      async () => {
        const layout = slotLayout("s5");
        const sent: string[] = [];
        const made = (me: string) => {
          const channels = {
            me: () => me,
            prefix: "",
            suffix: "",
            command: "SPUBLISH" as const,
            send: (node: string, notice: Buffer) => sent.push(`${me}->${node}:${notice.subarray(5)}`),
          };
          const s = new RedisSessions(connect(), { ttl: 1_000, layout, pollEvery: 50, channels });
          stores.push(s);
          return s;
        };
        const [a, b] = [made("A"), made("B")];
        const expired: string[] = [];
        a.onExpire((r) => expired.push(r.sid));
        b.onExpire((r) => expired.push(r.sid));
        const sids = Array.from({ length: 24 }, (_, i) => `k${i}`);
        const tokens = await Promise.all(sids.map((sid) => a.open(record(sid))));
        assert.ok(new Set(sids.map((sid) => layout.bucketOf(sid))).size >= 8, "the sessions fall in several buckets");
        assert.equal(await redis.hget(layout.hash("k0"), "n"), "A");
        assert.equal(await redis.zscore("s5:sess:deadlines", "k0"), null, "no deadline outside the buckets");
        assert.ok(Number(await redis.zscore(layout.deadlines(layout.bucketOf("k0")), "k0")) > 0, "its deadline in its bucket's set");
        // b takes k0 from a: the script only names the holder, the store publishes through `send`.
        const taken = await b.take(tokens[0] as string, "user:1");
        assert.ok(taken.ok);
        assert.deepEqual(sent, ["B->A:1:k0"]);
        await sleep(1_500); // a renews the leases of the 23 it holds (every ttl / 3), bucket by bucket; b renews k0
        assert.deepEqual(expired, [], "attached sessions do not expire");
        for (const sid of sids.slice(1)) await a.detach(sid, 0);
        await b.detach("k0", 1);
        const until = Date.now() + 5_000;
        while (expired.length < sids.length && Date.now() < until) await sleep(20);
        await sleep(300);
        assert.deepEqual([...expired].sort(), [...sids].sort(), "each once");
        assert.equal(await redis.exists(...sids.map((sid) => layout.hash(sid))), 0);
      },
    );

    it("expires an attached session after its node died (renewals stopped), on another node", slow, async () => {
      const dying = new RedisSessions(connect(), { ttl: 300, prefix: "s3", pollEvery: 50 });
      const survivor = sessions(300, "s3");
      const expired: SessionRecord[] = [];
      survivor.onExpire((r) => expired.push(r));
      await dying.open(record("d1"));
      await sleep(600);
      assert.equal(expired.length, 0, "renewed while its node lives");
      dying.close(); // as if killed: nothing renews the lease any more
      const until = Date.now() + 5_000;
      while (expired.length === 0 && Date.now() < until) await sleep(20);
      assert.deepEqual(
        expired.map((r) => [r.sid, r.rooms]),
        [["d1", ["a"]]],
      );
    });
  });
});
