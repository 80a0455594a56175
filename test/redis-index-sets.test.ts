import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { CHUNK, linkAll, Pacer, sweepIndex } from "../src/adapters/redis/index-sets.js";
import { RedisServer } from "./helpers/redis-server.js";

/*
 * How both Redis adapter modes write and remove memberships (index-sets.ts), on a real Redis:
 * commands keep the order asked under the window, a name removed while a bulk write waits is not
 * written back, and a sweep removes everything a page at a time.
 */

describe("the membership writes of the Redis adapter", () => {
  let server: RedisServer;
  let redis: Redis;
  before(async () => {
    server = await RedisServer.launch();
    redis = new Redis(server.port, "127.0.0.1");
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it("issues commands in the order asked, with never more than its window unanswered", async () => {
    const pacer = new Pacer(3);
    let pending = 0;
    let most = 0;
    const push = (value: string) => async () => {
      most = Math.max(most, ++pending);
      try {
        return await redis.rpush("order", value);
      } finally {
        pending--;
      }
    };
    const sent: string[] = [];
    // Two writers interleaved, one awaiting some answers as a sweep awaits its SSCAN pages.
    const writer = async (name: string) => {
      for (let i = 0; i < 200; i++) {
        sent.push(`${name}${i}`);
        if (i % 50 === 0) await pacer.run(push(`${name}${i}`));
        else pacer.send(push(`${name}${i}`));
      }
    };
    await Promise.all([writer("a"), writer("b")]);
    await pacer.drain();
    assert.deepEqual(await redis.lrange("order", 0, -1), sent);
    assert.equal(most, 3);
  });

  it("drain() rejects with the first failure, after every command was answered", async () => {
    await redis.set("not-a-set", "x");
    const pacer = new Pacer(2);
    pacer.send(() => redis.sadd("not-a-set", "a"));
    pacer.send(() => redis.sadd("fine", "a"));
    await assert.rejects(pacer.drain(), /WRONGTYPE/);
    assert.equal(await redis.sismember("fine", "a"), 1);
  });

  it("does not write back a name removed while its write waited for its turn", async () => {
    const held = new Set(Array.from({ length: 100 }, (_, i) => `room-${i}`));
    const pacer = new Pacer(2);
    linkAll(
      pacer,
      redis,
      "index",
      (name) => `set:${name}`,
      "n1",
      [...held],
      (name) => held.has(name),
    );
    // Left at once, as a leave does during a restore: its SREMs go out now, ahead of the queued SADDs.
    for (let i = 50; i < 100; i++) {
      held.delete(`room-${i}`);
      await Promise.all([redis.srem(`set:room-${i}`, "n1"), redis.srem("index", `room-${i}`)]);
    }
    await pacer.drain();
    assert.deepEqual((await redis.smembers("index")).sort(), [...held].sort());
    for (let i = 0; i < 100; i++) assert.equal(await redis.sismember(`set:room-${i}`, "n1"), i < 50 ? 1 : 0, `room-${i}`);
  });

  it(`removes every entry of a node a page at a time, leaving the other nodes' (${CHUNK} per command)`, async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `entry-${i}`);
    const pacer = new Pacer();
    linkAll(
      pacer,
      redis,
      "idx:n1",
      (name) => `at:${name}`,
      "n1",
      names,
      () => true,
    );
    for (const name of names.slice(0, 10)) pacer.send(() => redis.sadd(`at:${name}`, "n2"));
    await pacer.drain();
    assert.equal(await redis.scard("idx:n1"), 1000);
    await sweepIndex(new Pacer(), redis, "idx:n1", (name) => `at:${name}`, "n1");
    assert.equal(await redis.exists("idx:n1"), 0);
    for (const name of names) assert.deepEqual(await redis.smembers(`at:${name}`), names.indexOf(name) < 10 ? ["n2"] : [], name);
  });
});
