// tswebsockets/client with `{ resume: true }` across two nodes on a real Redis (history in Redis
// Streams, sessions in Redis hashes): its connection breaks while a request of the client's is
// running, messages are broadcast to its room from the other node while it is away, and it
// resumes there: same id, every missed message once and in order, the request answered from the
// first node's run; also when that run was still going on when the client resumed on the other
// node, or when its node shut down meanwhile (the session hash marks running requests).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { connect } from "../src/client/index.js";
import { LoadBalancer } from "./helpers/load-balancer.js";
import { freePort, RedisServer } from "./helpers/redis-server.js";
import { made, range, resumer, settled, startNode } from "./helpers/resume-client.js";
import { until } from "./helpers.js";

describe("tswebsockets/client resuming on another node (real Redis)", { timeout: 60_000 }, () => {
  let redis: RedisServer;
  const templates: Redis[] = [];
  before(async () => {
    redis = await RedisServer.launch();
  });
  after(async () => {
    for (const c of made.clients) c.close();
    await Promise.all(made.nodes.map((n) => n.server.close()));
    for (const t of templates) t.disconnect();
    await redis.stop();
  });

  const adapter = (sharded = false) => {
    const template = new Redis(redis.port, "127.0.0.1");
    templates.push(template);
    return createRedisAdapter(template, sharded ? { prefix: "cr", sharded: true } : { prefix: "cr" });
  };

  /** Two nodes and a resuming client on `a` whose WebSocket goes wherever `route.port` says (a load balancer); `route.links` are its WebSockets. */
  async function setup(room: string, sharded = false) {
    const a = await startNode({ ttl: 30_000 }, 0, adapter(sharded));
    const b = await startNode({ ttl: 30_000 }, 0, adapter(sharded));
    const route = new LoadBalancer(a.port);
    const c = resumer(a.url, { WebSocket: route.WebSocket });
    await settled(c);
    await c.request("join", { room });
    const observer = connect(b.url, { WebSocket }); // gives node b a socket, so b.say has a server view
    made.clients.push(observer);
    await until(() => observer.state === "open", "the observer");
    b.say(room, 0);
    await until(() => c.got.messages.length === 1, "the first message, from node b through Redis");
    return { a, b, c, route };
  }

  /** Resolves once the session's record in Redis holds a settled reply (the reply cache crosses nodes in it). */
  async function replyRecorded(sid: string): Promise<void> {
    const admin = new Redis(redis.port, "127.0.0.1");
    templates.push(admin);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const record = await admin.hget(`cr:sess:{${sid}}`, "r");
      if (record !== null && (JSON.parse(record) as { replies: unknown[] }).replies.length > 0) return;
      assert.ok(Date.now() < deadline, "the reply reached the session record");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("gets a gap for what history trimmed of a room it joined but had not heard from, resuming on the other node", async () => {
    const a = await startNode({ ttl: 30_000, history: { size: 3 } }, 0, adapter());
    const b = await startNode({ ttl: 30_000, history: { size: 3 } }, 0, adapter());
    const route = new LoadBalancer(a.port);
    const c = resumer(a.url, { WebSocket: route.WebSocket });
    await settled(c);
    await c.request("join", { room: "quiet-r" });
    const observer = connect(b.url, { WebSocket });
    made.clients.push(observer);
    await until(() => observer.state === "open", "the observer");
    // The session record holds the room's position from the join (primed over the network).
    const admin = new Redis(redis.port, "127.0.0.1");
    templates.push(admin);
    let record = "";
    const deadline = Date.now() + 10_000;
    while (!record.includes('"room:quiet-r"')) {
      assert.ok(Date.now() < deadline, `the join position recorded (record: ${record})`);
      await new Promise((r) => setTimeout(r, 10));
      record = (await admin.hget(`cr:sess:{${c.id}}`, "r")) ?? "";
    }
    route.port = b.port;
    route.breakLink();
    for (let i = 0; i < 6; i++) b.say("quiet-r", i); // history keeps the last 3
    await until(() => c.got.states.includes("reconnecting"), "the client to notice");
    await settled(c);
    b.say("quiet-r", 6);
    await until(() => c.got.messages.includes(6), "the live message");
    assert.equal(c.resumed, true);
    assert.deepEqual(
      c.got.gaps.map((g) => [g.reason, g.from, g.to]),
      [["trimmed", 1, 3]],
    );
    assert.deepEqual(c.got.messages, [3, 4, 5, 6]);
  });

  it("moves to the other node with the sharded adapter on one Redis: same id, missed messages once and in order", async () => {
    const { b, c, route } = await setup("moving-sharded", true);
    const id = c.id as string;
    route.port = b.port;
    route.breakLink(); // the network breaks
    for (let i = 1; i <= 5; i++) b.say("moving-sharded", i);
    await until(() => c.got.states.includes("reconnecting"), "the client to notice");
    await settled(c);
    b.say("moving-sharded", 6);
    await until(() => c.got.messages.length >= 7, "every message");
    await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, range(0, 6), "every message once, in order");
    assert.deepEqual(c.got.gaps, []);
    assert.equal(c.id, id, "the same socket id on node b");
    assert.equal(c.resumed, true);
  });

  it("moves to the other node after its connection broke: same id, missed messages once and in order, the request answered from the first run", async () => {
    const { a, b, c, route } = await setup("moving");
    const id = c.id as string;
    const answer = c.request("slow", { ms: 150 });
    await new Promise((r) => setTimeout(r, 50));
    route.port = await freePort(); // nobody listens there: attempts fail until the load balancer moves it
    route.breakLink(); // the network breaks
    for (let i = 1; i <= 5; i++) b.say("moving", i);
    await until(() => a.runs === 1, "the first run to settle");
    await replyRecorded(id);
    for (let i = 6; i <= 8; i++) b.say("moving", i);
    route.port = b.port;

    assert.equal(await answer, 1, "node a's run, answered from the session's reply cache");
    await settled(c);
    b.say("moving", 9);
    await until(() => c.got.messages.length >= 10, "every message");
    await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, range(0, 9), "every message once, in order");
    assert.deepEqual(c.got.gaps, []);
    assert.equal(c.id, id, "the same socket id on node b");
    assert.equal(c.resumed, true);
    assert.equal(b.runs, 0, "not run again on node b");
    assert.deepEqual(b.connects.at(-1), { id, resumed: true, rooms: ["moving"] });
  });

  // A request still running on the old node is not run again on the new one: the session hash
  // marks it running, and its reply reaches the new node through the hash (docs/resume.md, 7).
  it("does not run a request twice that was running when its node shut down", async () => {
    const { a, b, c, route } = await setup("deploy");
    const answer = c.request("slow", { ms: 200 });
    await new Promise((r) => setTimeout(r, 50));
    route.port = await freePort();
    await a.server.close();
    await until(() => a.runs === 1, "the first run to settle");
    await new Promise((r) => setTimeout(r, 200));
    route.port = b.port;
    await answer;
    assert.equal(a.runs + b.runs, 1, `ran on a ${a.runs}, on b ${b.runs} time(s)`);
  });

  it("does not run a request twice that was still running on the old node when the client resumed on another", async () => {
    const { a, b, c, route } = await setup("early");
    const answer = c.request("slow", { ms: 300 });
    await new Promise((r) => setTimeout(r, 50));
    route.port = b.port;
    route.breakLink();
    await answer;
    assert.equal(a.runs + b.runs, 1, `ran on a ${a.runs}, on b ${b.runs} time(s)`);
  });
});
