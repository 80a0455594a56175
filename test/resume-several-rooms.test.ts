// An emit to several rooms at once (`to(a).to(b).emit`) in a resumable namespace: each room numbers
// its own copy, all copies share one message id (`PushMeta.id`), and a client in several of the
// rooms delivers the message once: live, after a resume that replays both rooms, and across nodes
// on a real Redis. Real TCP with tswebsockets/client, a load balancer keeping the client away
// while messages are sent; the in-memory test client delivers it once too.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { testClient } from "../src/testing/index.js";
import { LoadBalancer } from "./helpers/load-balancer.js";
import { freePort, RedisServer } from "./helpers/redis-server.js";
import { made, type Node, range, resumer, settled, startNode } from "./helpers/resume-client.js";
import { until } from "./helpers.js";

/** Long enough for a second copy of a message to arrive after the first, on loopback. */
const SECOND_COPY_MS = 150;

/**
 * A client in rooms r1 and r2 on node `a`, one in r1 only and one in r2 only on node `b` (the
 * same node in memory). Emits from `b` to both rooms, live, while the first client is away, and
 * after it resumed on `b`: every client gets each message once.
 */
async function severalRooms(a: Node, b: Node, tag: string): Promise<void> {
  const [r1, r2] = [`${tag}-1`, `${tag}-2`];
  const route = new LoadBalancer(a.port);
  const both = resumer(a.url, { WebSocket: route.WebSocket });
  await settled(both);
  await both.request("join", { room: r1 });
  await both.request("join", { room: r2 });
  const only1 = resumer(b.url);
  const only2 = resumer(b.url);
  await Promise.all([settled(only1), settled(only2)]);
  await only1.request("join", { room: r1 });
  await only2.request("join", { room: r2 });

  b.say([r1, r2], 1);
  await until(() => both.got.messages.length > 0 && only1.got.messages.length > 0 && only2.got.messages.length > 0, "the first emit");
  await sleep(SECOND_COPY_MS);
  assert.deepEqual([both.got.messages, only1.got.messages, only2.got.messages], [[1], [1], [1]], "live: once each");

  // Away: the link breaks and the next attempts go to a port nobody listens on.
  const sid = both.id;
  route.port = await freePort();
  route.breakLink();
  await until(() => a.server.getSocket(sid as string) === undefined, "the node to see the client gone");
  for (const i of range(2, 6)) {
    b.say([r1, r2], i);
    b.say(r2, 100 + i); // one room's own messages in between: r2's stream runs ahead of r1's
  }
  route.port = b.port;
  const missed = [...range(2, 6), ...range(102, 106)];
  await until(() => both.got.messages.length >= 1 + missed.length, "the resume's replay");
  await sleep(SECOND_COPY_MS);
  assert.equal(both.id, sid, "the session was resumed");
  assert.deepEqual(both.got.gaps, []);
  assert.deepEqual(
    both.got.messages,
    [1, 2, 102, 3, 103, 4, 104, 5, 105, 6, 106],
    "every message once, in each room's order: the replay merges the two rooms' streams at their shared messages",
  );

  b.say([r2, r1], 7);
  await until(() => [both, only1, only2].every((c) => c.got.messages.includes(7)), "a live emit after the resume, at every member");
  await sleep(SECOND_COPY_MS);
  assert.equal(both.got.messages.filter((i) => i === 7).length, 1, "live after the resume: once");
  assert.deepEqual(only1.got.messages, [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(only2.got.messages, [1, 2, 102, 3, 103, 4, 104, 5, 105, 6, 106, 7]);
}

describe("an emit to several rooms at once with resume on", { timeout: 60_000 }, () => {
  after(async () => {
    for (const c of made.clients.splice(0)) c.close();
    await Promise.all(made.nodes.splice(0).map((n) => n.server.close()));
  });

  it("one node (history in memory): once to each member, live and after a resume that replays both rooms", async () => {
    const node = await startNode({ ttl: 30_000 });
    await severalRooms(node, node, "mem");
  });

  it("the in-memory test client delivers it once too", async () => {
    const node = await startNode({ ttl: 30_000 });
    const c = await testClient(node.server, "/chat");
    await c.request("join", { room: "t1" });
    await c.request("join", { room: "t2" });
    node.say(["t1", "t2"], 9);
    assert.deepEqual(await c.next("message"), { i: 9 });
    await sleep(SECOND_COPY_MS);
    await assert.rejects(c.next("message", { timeoutMs: 50 }), /message/, "no second copy");
    await c.close();
  });

  describe("two nodes on a real Redis", () => {
    let redis: RedisServer;
    const templates: Redis[] = [];
    before(async () => {
      redis = await RedisServer.launch();
    });
    after(async () => {
      for (const c of made.clients.splice(0)) c.close();
      await Promise.all(made.nodes.splice(0).map((n) => n.server.close()));
      for (const t of templates) t.disconnect();
      await redis.stop();
    });
    const adapter = () => {
      const template = new Redis(redis.port, "127.0.0.1");
      templates.push(template);
      return createRedisAdapter(template, { prefix: "sr" });
    };

    it("emitted on one node, the client resuming from the other: once to each member", async () => {
      const a = await startNode({ ttl: 30_000 }, 0, adapter());
      const b = await startNode({ ttl: 30_000 }, 0, adapter());
      await severalRooms(a, b, "redis");
    });
  });
});
