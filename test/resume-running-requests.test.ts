// Requests running while a session moves between nodes (real Redis): the session hash marks each
// running request, a node that takes the session waits for the reply the old node writes there
// (not fenced by the generation), and a graceful shutdown lets running handlers settle first.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { RedisSessions } from "../src/adapters/redis/session-store.js";
import { connect } from "../src/client/index.js";
import { remoteReply } from "../src/resume/remote-reply.js";
import type { SessionRecord } from "../src/resume/session-store.js";
import { LoadBalancer } from "./helpers/load-balancer.js";
import { freePort, RedisServer } from "./helpers/redis-server.js";
import { made, resumer, settled, startNode } from "./helpers/resume-client.js";
import { until } from "./helpers.js";

describe("requests running while their session moves (real Redis)", { timeout: 60_000 }, () => {
  let server: RedisServer;
  const connections: Redis[] = [];
  const stores: RedisSessions[] = [];
  const redis = () => {
    const r = new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 3 });
    connections.push(r);
    return r;
  };
  const sessions = (prefix: string) => {
    const s = new RedisSessions(redis(), { ttl: 60_000, prefix, pollEvery: 1_000 });
    stores.push(s);
    return s;
  };
  before(async () => {
    server = await RedisServer.launch();
  });
  after(async () => {
    for (const c of made.clients) c.close();
    await Promise.all(made.nodes.map((n) => n.server.close()));
    for (const s of stores) s.close();
    for (const r of connections) r.disconnect();
    await server.stop();
  });

  const record = (sid: string): SessionRecord => ({
    sid,
    owner: "",
    path: "/chat",
    rooms: [],
    data: "{}",
    positions: {},
    generation: 0,
    replies: [],
  });

  describe("the store's running marks", () => {
    it("lists a running request at take; the old holder's reply, refused for the record, replaces the mark", async () => {
      const store = sessions("m1");
      const token = await store.open(record("s1"));
      await store.markRunning("s1", [7, 8]);
      const taken = await store.take(token, "");
      assert.ok(taken.ok);
      assert.deepEqual([...(taken.record.running ?? [])].sort(), [7, 8]);
      assert.equal(await store.replyOf("s1", 7), "", "still running");
      // The old node (generation 0) settles request 7: its record is fenced, its reply is not.
      assert.equal(await store.update({ ...record("s1"), replies: [[7, "[2,7,1]"]] }, [[7, "[2,7,1]"]]), false);
      assert.equal(await store.replyOf("s1", 7), "[2,7,1]");
      assert.equal(await remoteReply(store, "s1", 7, { waitMs: 1_000 }), "[2,7,1]");
      // The new holder keeps the reply in its record: the mark goes with that write.
      assert.equal(await store.update({ ...taken.record, replies: [[7, "[2,7,1]"]] }, [[7, "[2,7,1]"]]), true);
      assert.equal(await store.replyOf("s1", 7), null);
      const again = await store.take(taken.token, "");
      assert.ok(again.ok);
      assert.deepEqual(again.record.running, [8]);
      assert.deepEqual(again.record.replies, [[7, "[2,7,1]"]]);
    });

    it("hands a reply settled after the last record to the next taker with the record's replies", async () => {
      const store = sessions("m2");
      const token = await store.open(record("s2"));
      await store.markRunning("s2", [3]);
      const first = await store.take(token, "");
      assert.ok(first.ok);
      await store.update({ ...record("s2"), replies: [[3, "[2,3,null]"]] }, [[3, "[2,3,null]"]]); // fenced: into the mark
      const second = await store.take(first.token, "");
      assert.ok(second.ok);
      assert.deepEqual(second.record.replies, [[3, "[2,3,null]"]]);
      assert.deepEqual(second.record.running, []);
    });

    it("answers TIMEOUT when the run's reply never comes, and when the session is gone; marks no missing session", async () => {
      const store = sessions("m3");
      await store.open(record("s3"));
      await store.markRunning("s3", [1]);
      const started = Date.now();
      const frame = JSON.parse(await remoteReply(store, "s3", 1, { waitMs: 200, pollMs: 20 })) as unknown[];
      assert.deepEqual(frame.slice(0, 3), [3, 1, "TIMEOUT"]);
      assert.ok(Date.now() - started >= 200, "waited its bound");
      await store.end("s3");
      const gone = JSON.parse(await remoteReply(store, "s3", 1, { waitMs: 5_000 })) as unknown[];
      assert.deepEqual(gone.slice(0, 3), [3, 1, "TIMEOUT"]);
      await store.markRunning("s3", [2]);
      assert.equal(await redis().exists("m3:sess:{s3}"), 0, "a mark does not bring an ended session back");
    });
  });

  describe("across two nodes", () => {
    const adapter = (prefix: string) => createRedisAdapter(redis(), { prefix });

    async function setup(prefix: string) {
      const a = await startNode({ ttl: 30_000 }, 0, adapter(prefix));
      const b = await startNode({ ttl: 30_000 }, 0, adapter(prefix));
      const route = new LoadBalancer(a.port);
      const c = resumer(a.url, { WebSocket: route.WebSocket, requestTimeoutMs: 20_000 });
      await settled(c);
      return { a, b, c, route };
    }

    it("lets a running handler settle before a graceful shutdown closes the store; the retry on the other node gets its reply", async () => {
      const { a, b, c, route } = await setup("n1");
      const answer = c.request("slow", { ms: 800 });
      await until(() => a.server.getSocket(c.id as string) !== undefined, "the socket on a");
      await sleep(50);
      route.port = await freePort(); // the client cannot reach any node while a shuts down
      const closing = a.server.close();
      let runsAtClose = -1;
      void closing.then(() => (runsAtClose = a.runs));
      await closing;
      assert.equal(runsAtClose, 1, "close() resolved only after the handler settled");
      route.port = b.port;
      assert.equal(await answer, 1, "a's run, answered on b");
      assert.equal(b.runs, 0, "not run again on b");
      assert.equal(c.resumed, true);
    });

    it("answers a retry on the new node from the old node's run when the client moved while it ran (shutdown)", async () => {
      const { a, b, c, route } = await setup("n2");
      const observer = connect(b.url, { WebSocket });
      made.clients.push(observer);
      const answer = c.request("slow", { ms: 1_500 });
      await sleep(100);
      route.port = b.port; // the load balancer sends the client to b at once
      const closing = a.server.close();
      route.breakLink();
      await until(() => b.connects.some((k) => k.resumed), "the resume on b", 10_000);
      assert.equal(a.runs, 0, "still running on a when the client resumed on b");
      assert.equal(await answer, 1, "a's run, through the session hash");
      await closing;
      assert.equal(b.runs, 0, "not run again on b");
      // Later requests run on b.
      assert.equal(await c.request("slow", { ms: 1 }), 1, "b's own first run");
    });
  });
});
