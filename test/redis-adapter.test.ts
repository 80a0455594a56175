import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createRedisAdapter, type RedisAdapter } from "../src/adapters/redis/index.js";
import { AdapterError, type Server } from "../src/index.js";
import { ChatClient, eventually, recordingLogger, startNode } from "./helpers/cluster-chat.js";
import { freePort, RedisServer } from "./helpers/redis-server.js";

const slow = { timeout: 60_000 };

describe("the Redis adapter", () => {
  let redis: RedisServer;
  const nodes: { server: Server; port: number; adapter: RedisAdapter; logger: ReturnType<typeof recordingLogger> }[] = [];
  const connections: Redis[] = [];
  const clients: ChatClient[] = [];
  const inspector = () => {
    const r = new Redis(redis.port, "127.0.0.1");
    connections.push(r);
    return r;
  };

  before(async () => {
    redis = await RedisServer.launch();
    for (let i = 0; i < 3; i++) {
      const logger = recordingLogger();
      const adapter = createRedisAdapter(inspector(), { prefix: "it", nodeTtl: 1500 });
      nodes.push({ ...(await startNode(adapter, logger)), adapter, logger });
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.server.close()));
    for (const r of connections) r.disconnect();
    await redis.stop();
  });
  const join = async (node: number, room: string, query = "") => {
    const client = await ChatClient.connect(nodes[node]!.port, room, query);
    clients.push(client);
    return client;
  };

  it("carries 500 messages from one client to every member on three nodes, each once and in order", slow, async () => {
    const members = await Promise.all([0, 1, 2, 0, 1, 2].map((n) => join(n, "five-hundred")));
    const sender = members[0]!;
    const sent = Array.from({ length: 500 }, (_, i) => `message ${i}`);
    for (const text of sent) sender.command({ to: ["five-hundred"], text });
    sender.command({ to: ["five-hundred"], text: "end" });
    for (const member of members) assert.deepEqual(await member.until("end"), sent);
    assert.ok(nodes[0]!.adapter.stats.published >= 501, "the sender's node published every message");
    assert.ok(nodes[1]!.adapter.stats.received >= 501, "another node received every message");
  });

  it("keeps binary messages binary across nodes", slow, async () => {
    const b = await join(1, "bytes");
    const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
    const got = new Promise<[Buffer, boolean]>((resolve) =>
      b.ws.on("message", (data: Buffer, isBinary) => {
        if (isBinary) resolve([data, isBinary]);
      }),
    );
    nodes[0]!.server.sendTo(b.id, bytes);
    const [data, isBinary] = await got;
    assert.equal(isBinary, true);
    assert.deepEqual(data, bytes);
  });

  it("keeps no key of a node after it closes (and ignores the client's keyPrefix)", slow, async () => {
    const logger = recordingLogger();
    const prefixed = new Redis(redis.port, "127.0.0.1", { keyPrefix: "app:" });
    connections.push(prefixed);
    const adapter = createRedisAdapter(prefixed, { prefix: "it", nodeTtl: 1500 });
    const node = await startNode(adapter, logger);
    const client = await ChatClient.connect(node.port, "short-lived");
    const id = adapter.nodeId!;
    assert.ok((await inspector().keys(`it:node:${id}:*`)).length > 0, "the node recorded its room");
    const listed = await ChatClient.connect(nodes[0]!.port, "short-lived");
    clients.push(listed);
    await eventually(async () => (await listed.members("short-lived")).includes(client.id), "the other nodes list its socket");
    client.close();
    await node.server.close();
    assert.deepEqual(await inspector().keys(`it:node:${id}:*`), []);
    assert.equal(await inspector().zscore("it:nodes", id), null);
  });

  it(
    "goes on delivering locally while Redis is down, drops and counts cross-node messages, and resumes when it is back",
    slow,
    async () => {
      const [local1, local2, remote] = await Promise.all([join(0, "outage"), join(0, "outage"), join(1, "outage")]);
      const sender = local1!;
      const node0 = nodes[0]!;
      sender.command({ to: ["outage"], text: "before" });
      assert.deepEqual(await remote!.until("before"), []);

      await redis.kill();
      await eventually(() => nodes.every((n) => !n.adapter.stats.connected), "every node sees Redis gone");
      const droppedBefore = node0.adapter.stats.dropped;
      for (let i = 0; i < 20; i++) sender.command({ to: ["outage"], text: `during ${i}` });
      sender.command({ to: ["outage"], text: "local end" });
      const during = Array.from({ length: 20 }, (_, i) => `during ${i}`);
      assert.deepEqual(await local2!.until("local end"), ["before", ...during], "local delivery went on");
      assert.equal(node0.adapter.stats.dropped - droppedBefore, 21, "each cross-node message was dropped and counted");
      assert.ok(
        node0.logger.lines.some((l) => l.startsWith("Redis adapter") && l.includes("dropped until Redis is back")),
        "the outage was logged",
      );
      assert.deepEqual(await local1!.members("outage"), [local1!.id, local2!.id].sort(), "members() answers for its own node");
      const late = await join(1, "outage"); // joins while Redis is away

      await redis.start();
      // Cross-node delivery resumes by itself: probe until the remote member hears again.
      let probe = 0;
      await eventually(async () => {
        sender.command({ to: ["outage"], text: `probe ${probe++}` });
        await new Promise((resolve) => setTimeout(resolve, 200));
        return remote!.received.some((m) => m.startsWith("probe"));
      }, "cross-node delivery resumes");
      sender.command({ to: ["outage"], text: "after" });
      const heard = await remote!.until("after");
      assert.ok(
        heard.every((m) => m.startsWith("probe")),
        "nothing sent during the outage arrived late",
      );
      assert.equal(new Set(heard).size, heard.length, "nothing was duplicated");
      assert.ok(node0.logger.lines.some((l) => l.includes("connected again")));
      // Redis restarted empty: each node told it its memberships again, those made meanwhile included.
      const all = [local1!.id, local2!.id, remote!.id, late.id].sort();
      await eventually(async () => JSON.stringify(await remote!.members("outage")) === JSON.stringify(all), "memberships are restored");
    },
  );

  it("closes a session's sockets on another node with a reason too long for a close frame, cut once", slow, async () => {
    const remote = await join(1, "long-reason", "session=long-reason");
    nodes[0]!.server.closeSession("long-reason", "é".repeat(100));
    assert.equal(await remote.closed(), 4401);
    await eventually(() => nodes[0]!.adapter.stats.published > 0, "the close was published");
  });

  it("logs, and never throws into ioredis, when carrying out a cluster message fails", slow, async () => {
    const logger = recordingLogger();
    const failing = createRedisAdapter(inspector(), { prefix: "it-throw", nodeTtl: 1500 });
    const sender = createRedisAdapter(inspector(), { prefix: "it-throw", nodeTtl: 1500 });
    const node = (nodeId: string, receive: () => void) => ({
      nodeId,
      logger,
      receive,
      localMembers: () => [],
    });
    let calls = 0;
    await failing.start(
      node("failing", () => {
        calls++;
        throw new RangeError("a bug on this node");
      }),
    );
    await sender.start(node("sender", () => {}));
    // sendTo and closes reach only the node holding their target: the failing node holds socket "s1".
    failing.locate?.("s1", { session: undefined, user: undefined });
    await eventually(async () => (await inspector().sismember("it-throw:at:i:s1", "failing")) === 1, "s1 is located");
    try {
      sender.publish({ type: "sendTo", id: "s1", data: "one" });
      sender.publish({ type: "sendTo", id: "s1", data: "two" });
      await eventually(() => calls === 2, "both messages reached the failing node");
      assert.equal(logger.lines.filter((l) => l.includes("carrying out a cluster message failed: a bug on this node")).length, 2);
    } finally {
      await Promise.all([failing.stop(), sender.stop()]);
    }
  });

  it("logs no lost connection on a graceful close(), and leaves no listener on the client passed in", slow, async () => {
    const logger = recordingLogger();
    const client = new Redis(redis.port, "127.0.0.1");
    connections.push(client);
    const node = await startNode(createRedisAdapter(client, { prefix: "it", nodeTtl: 1500 }), logger);
    assert.equal(client.listenerCount("error"), 1, "the adapter listens to the client's faults while it runs");
    await node.server.close();
    await new Promise((resolve) => setTimeout(resolve, 200)); // let ioredis report the closes it will report
    assert.deepEqual(
      logger.lines.filter((l) => l.startsWith("Redis adapter")),
      [],
    );
    assert.equal(client.listenerCount("error"), 0);
  });

  it("writes its memberships again when Redis forgets them while connected", slow, async () => {
    const [a, b] = await Promise.all([join(0, "flushed"), join(1, "flushed")]);
    const both = [a!.id, b!.id].sort();
    await eventually(async () => JSON.stringify(await b!.members("flushed")) === JSON.stringify(both), "both are listed");
    await inspector().flushall();
    await eventually(async () => JSON.stringify(await b!.members("flushed")) === JSON.stringify(both), "both are listed again");
  });

  it("drops a killed node's sockets from member lists and leaves no key of it in Redis", slow, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("helpers/redis-node.ts", import.meta.url))], {
      env: { ...process.env, REDIS_PORT: String(redis.port), PREFIX: "it", NODE_TTL: "1500" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    const { port, nodeId } = JSON.parse(line.toString()) as { port: number; nodeId: string };
    const doomed = await Promise.all([ChatClient.connect(port, "kill"), ChatClient.connect(port, "kill")]);
    const survivor = await join(2, "kill");
    const everyone = [survivor.id, ...doomed.map((c) => c.id)].sort();
    await eventually(async () => JSON.stringify(await survivor.members("kill")) === JSON.stringify(everyone), "all three are listed");

    child.kill("SIGKILL");
    await once(child, "exit");
    await eventually(
      async () => JSON.stringify(await survivor.members("kill")) === JSON.stringify([survivor.id]),
      "the dead node's sockets are gone",
    );
    const r = inspector();
    await eventually(async () => (await r.keys(`*${nodeId}*`)).length === 0, "the dead node's keys are gone");
    await eventually(async () => (await r.zscore("it:nodes", nodeId)) === null, "the dead node left the node list");
  });
});

describe("the Redis adapter when Redis is unreachable at start", () => {
  it("makes listen() reject with TSWS_REDIS_UNREACHABLE naming the address, and logs the connection error", {
    timeout: 30_000,
  }, async () => {
    const port = await freePort(); // nothing listens there
    const client = new Redis(port, "127.0.0.1", { lazyConnect: true });
    const logger = recordingLogger();
    const adapter = createRedisAdapter(client, { startTimeout: 500 });
    await assert.rejects(startNode(adapter, logger), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, "TSWS_REDIS_UNREACHABLE");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.ok(
      logger.lines.some((l) => l.includes("ECONNREFUSED")),
      "the connection error was logged",
    );
    assert.equal(adapter.stats.connected, false);
  });
});

describe("createRedisAdapter", () => {
  it("names a wrong option in a TypeError", () => {
    const client = new Redis({ lazyConnect: true });
    assert.throws(() => createRedisAdapter(client, { nodeTtl: 5 }), /option "nodeTtl" must be a number of milliseconds, 300 or more/);
    assert.throws(() => createRedisAdapter(client, { prefix: "" }), /option "prefix" must be a non-empty string/);
    assert.throws(() => createRedisAdapter({} as Redis), /must be an ioredis Redis instance/);
  });
});

describe("the package root", () => {
  it("loads without ioredis, which stays an optional peer dependency", { timeout: 30_000 }, async () => {
    // A child process whose module resolution fails for ioredis, importing the root entry.
    const hook = `export async function resolve(s, c, next) { if (s === "ioredis") throw new Error("ioredis was loaded"); return next(s, c); }`;
    const script = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${hook}`)}); await import(${JSON.stringify(fileURLToPath(new URL("../src/index.ts", import.meta.url)))});`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 0, stderr);
  });
});
