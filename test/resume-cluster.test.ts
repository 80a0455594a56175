// Resumable sessions on a real local 3-master Redis Cluster, with the sharded Redis adapter (the
// stores keep a session's keys in its bucket's slot, src/adapters/redis/session-layout.ts): a
// client resumes on another node and gets every room and direct message it missed, in order,
// once (raw protocol peers, and the bundled client with a request running at the break); direct
// messages to a session held by another node reach it live, and a take elsewhere closes the
// half-open socket left on the old node; `onExpire` runs exactly once when the holder
// is killed (SIGKILL, a child process) or closed, without a resume; and no command of the run was
// refused for spanning hash slots (INFO errorstats on every master).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type Cluster, Redis } from "ioredis";
import { WebSocket } from "ws";
import { createRedisAdapter, type RedisAdapter } from "../src/adapters/redis/index.js";
import { slotLayout } from "../src/adapters/redis/session-layout.js";
import { connect } from "../src/client/index.js";
import { inboxStream, roomStream } from "../src/resume/history-log.js";
import { eventually } from "./helpers/cluster-chat.js";
import { dm, dms } from "./helpers/cross-nodes.js";
import { LoadBalancer } from "./helpers/load-balancer.js";
import { RedisCluster } from "./helpers/redis-cluster.js";
import { freePort } from "./helpers/redis-server.js";
import { range as from, made, settled as open, resumer, startNode as startChat } from "./helpers/resume-client.js";
import { type ClusterChatNode, startClusterChat } from "./helpers/resume-cluster-app.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { until } from "./helpers.js";

const nOf = (data: unknown) => (data as { n: number }).n;
const range = (count: number) => Array.from({ length: count }, (_, k) => k + 1);

describe("resumable sessions on a 3-master Redis Cluster (sharded Redis adapter)", { timeout: 120_000 }, () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  const clients: Cluster[] = [];
  const adapters: RedisAdapter[] = [];
  const nodes = new Set<ClusterChatNode>();
  const everyNode: ClusterChatNode[] = [];
  const peers: ResumePeer[] = [];
  const children: ChildProcess[] = [];
  before(async () => {
    cluster = await RedisCluster.launch(3);
    admin = new Redis.Cluster(cluster.nodes);
  });
  after(async () => {
    for (const p of peers) p.ws?.terminate();
    for (const c of made.clients) c.close();
    await Promise.all(made.nodes.map((n) => n.server.close()));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all([...nodes].map((n) => n.server.close()));
    for (const client of clients) client.disconnect();
    admin.disconnect();
    await cluster.stop();
  });

  function adapterOn(prefix: string): RedisAdapter {
    const client = new Redis.Cluster(cluster.nodes);
    clients.push(client);
    const adapter = createRedisAdapter(client, { prefix, sharded: true });
    adapters.push(adapter);
    return adapter;
  }

  async function startNode(prefix: string, ttl: number): Promise<ClusterChatNode> {
    const node = await startClusterChat(adapterOn(prefix), ttl);
    nodes.add(node);
    everyNode.push(node);
    return node;
  }

  /** A node of the app in a child process (resume-cluster-node.ts), for SIGKILL. */
  async function spawnNode(prefix: string, ttl: number): Promise<{ child: ChildProcess; url: (room: string) => string }> {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("helpers/resume-cluster-node.ts", import.meta.url))], {
      env: { ...process.env, CLUSTER_PORTS: cluster.ports.join(","), PREFIX: prefix, TTL: String(ttl) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const exited = once(child, "exit").then(([code]) => Promise.reject(new Error(`the node process exited with ${code}`)));
    const [line] = (await Promise.race([once(child.stdout!, "data"), exited])) as [Buffer];
    const { port } = JSON.parse(line.toString()) as { port: string };
    return { child, url: (room) => `ws://127.0.0.1:${port}/x/${room}` };
  }

  function peer(url: string): ResumePeer {
    const p = new ResumePeer(url);
    peers.push(p);
    return p;
  }

  /** Every adapter's writes answered, then a margin: joins and routing entries have taken effect. */
  async function settled(): Promise<void> {
    await until(() => adapters.every((a) => a.stats.inFlight === 0), "the adapters' writes");
    await sleep(300);
  }

  it("a client resumes on another node and gets every room and direct message it missed, in order, exactly once", async () => {
    const prefix = "rc1";
    const layout = slotLayout(prefix);
    const all = [await startNode(prefix, 30_000), await startNode(prefix, 30_000), await startNode(prefix, 30_000)];
    const [a, b, c] = all as [ClusterChatNode, ClusterChatNode, ClusterChatNode];
    const rooms = ["r0", "r1", "r2", "r3"];
    // 12 sessions, 4 on each node, every room with members on every node.
    const ps = Array.from({ length: 12 }, (_, i) => peer(all[i % 3]!.url(rooms[i % 4]!)));
    await Promise.all(ps.map((p) => p.connect()));
    const sids = ps.map((p) => p.sid as string);
    await until(() => sids.every((sid, i) => all[i % 3]!.sockets.has(sid)) && all.every((n) => n.view !== undefined), "every socket");
    await settled();
    const spread = new Set(await Promise.all(sids.map((sid) => cluster.masterOf(layout.hash(sid)))));
    assert.ok(spread.size >= 2, `the sessions' keys are on ${spread.size} master(s): the test spans slots and shards`);

    const roomSent = new Map<string, number>(rooms.map((r) => [r, 0]));
    const dmSent = new Map<string, number[]>(sids.map((sid) => [sid, []]));
    let n = 0;
    /** One message to every room and one direct message to every session, from rotating nodes. */
    const round = async (oldSocketsOn?: ClusterChatNode) => {
      for (const [k, room] of rooms.entries()) {
        all[(n + k) % 3]!.view?.to(room).emit("message", { n: ++n });
        roomSent.set(room, (roomSent.get(room) ?? 0) + 1);
      }
      for (const [k, sid] of sids.entries()) {
        const m = ++n;
        dmSent.get(sid)?.push(m);
        // A handler on the old node still holding the socket object of a session that left it.
        const old = oldSocketsOn?.sockets.get(sid);
        if (old !== undefined && k % 2 === 0) old.emit("dm", { n: m });
        else all[(n + k) % 3]!.server.sendTo(sid, dm(m));
      }
      await sleep(30);
    };
    /** Every message sent so far is numbered in Redis (its stream's top seq reached the count sent), within 10 s. */
    const numbered = async () => {
      const streams = [
        ...rooms.map((room) => [roomStream(room), roomSent.get(room) ?? 0] as const),
        ...sids.map((sid) => [inboxStream(sid), dmSent.get(sid)?.length ?? 0] as const),
      ];
      let short: string[] = [];
      await eventually(
        async () => {
          const tops = await Promise.all(streams.map(([stream]) => admin.hget(`${layout.stream(stream)}:meta`, "s")));
          short = streams.flatMap(([stream, count], k) => (Number(tops[k]) < count ? [`${stream}: ${Number(tops[k])} of ${count}`] : []));
          return short.length === 0;
        },
        () => `every message sent was numbered; short of the count sent: ${short.join(", ")}`,
        10_000,
      );
    };
    const complete = (p: ResumePeer, i: number) =>
      p.seqs(roomStream(rooms[i % 4]!)).length >= (roomSent.get(rooms[i % 4]!) ?? 0) &&
      p.seqs(inboxStream(sids[i]!)).length >= (dmSent.get(sids[i]!)?.length ?? 0);

    for (let r = 0; r < 3; r++) await round();
    await until(() => ps.every(complete), "the live messages");

    // The four sessions of node a lose their connections; messages go on from every node.
    const away = ps.filter((_, i) => i % 3 === 0);
    for (const p of away) p.drop();
    await until(() => away.every((p) => a.server.getSocket(p.sid as string) === undefined), "node a to see the connections gone");
    await sleep(300); // the detaches reach Redis
    for (let r = 0; r < 5; r++) await round(a);
    await numbered();

    // They resume on b and c, alternately.
    for (const [k, p] of away.entries()) {
      const i = ps.indexOf(p);
      p.url = (k % 2 === 0 ? b : c).url(rooms[i % 4]!);
      await p.connect();
      assert.equal(p.sid, sids[i], "resumed with the same id");
    }
    await settled();
    for (let r = 0; r < 3; r++) await round(a);
    await until(() => ps.every(complete), "every message", 20_000);
    await sleep(300); // a duplicate would arrive by now

    let rooms_ = 0;
    let directs = 0;
    for (const [i, p] of ps.entries()) {
      const room = rooms[i % 4]!;
      const sid = sids[i]!;
      assert.deepEqual(p.gaps, [], `session ${i}: no gap`);
      assert.deepEqual(p.seqs(roomStream(room)), range(roomSent.get(room) ?? 0), `session ${i}: room ${room} once each, in order`);
      const inbox = dms(p);
      assert.deepEqual(
        inbox.map((x) => x.seq),
        range(dmSent.get(sid)?.length ?? 0),
        `session ${i}: its inbox once each, in order`,
      );
      assert.deepEqual(
        inbox.map((x) => nOf(x.data)).sort((x, y) => x - y),
        dmSent.get(sid),
        `session ${i}: every direct message sent to it`,
      );
      rooms_ += p.seqs(roomStream(room)).length;
      directs += inbox.length;
    }
    console.log(
      `cluster resume: ${away.length} of ${ps.length} sessions resumed on another node; ${rooms_} room and ${directs} direct deliveries, each once and in order (asserted above); session keys on ${spread.size} masters`,
    );
  });

  it("a direct message to a session held by another node reaches it live, once; a take elsewhere closes the half-open socket there", async () => {
    const prefix = "rc2";
    const [a, b, c] = [await startNode(prefix, 30_000), await startNode(prefix, 30_000), await startNode(prefix, 30_000)];
    const p = peer(a.url("q"));
    await p.connect();
    const sid = p.sid as string;
    await peer(b.url("q")).connect();
    await peer(c.url("q")).connect();
    await until(() => a.sockets.has(sid) && b.view !== undefined && c.view !== undefined, "sockets on every node");
    await settled();
    const dmFrame = (m: number) => (f: unknown[]) => f[0] === 4 && f[1] === inboxStream(sid) && nOf(f[4]) === m;

    b.server.sendTo(sid, dm(1));
    await p.next(dmFrame(1), 10_000);
    c.server.sendTo(sid, dm(2));
    await p.next(dmFrame(2), 10_000);

    // The client moves to b while its connection to a still looks open to a.
    const oldClosed = once(p.ws, "close");
    const q = p.clone(b.url("q"));
    peers.push(q);
    await q.connect();
    assert.equal(q.sid, sid, "resumed on b with the same id");
    const [code, reason] = (await Promise.race([
      oldClosed,
      sleep(10_000, undefined, { ref: false }).then(() => [0, Buffer.from("still open after 10 s")]),
    ])) as [number, Buffer];
    assert.deepEqual([code, reason.toString()], [1001, "resumed elsewhere"], "node a closed its half-open socket (the take's notice)");

    // Now held by b: from a's old socket object and from c, live.
    a.sockets.get(sid)?.emit("dm", { n: 3 });
    await q.next(dmFrame(3), 10_000);
    c.server.sendTo(sid, dm(4));
    await q.next(dmFrame(4), 10_000);
    await sleep(300);
    const seqs = [...p.seqs(inboxStream(sid)), ...q.seqs(inboxStream(sid))];
    assert.deepEqual(seqs, [1, 2, 3, 4], "each direct message once, in order, across the two connections");
    assert.deepEqual([...p.gaps, ...q.gaps], []);
  });

  it("the bundled client moves to another node: same id, missed room and direct messages once, in order, the running request answered from the first run", async () => {
    const prefix = "rc4";
    const layout = slotLayout(prefix);
    const a = await startChat({ ttl: 30_000 }, 0, adapterOn(prefix));
    const b = await startChat({ ttl: 30_000 }, 0, adapterOn(prefix));
    const route = new LoadBalancer(a.port);
    const c = resumer(a.url, { WebSocket: route.WebSocket });
    await open(c);
    await c.request("join", { room: "moving" });
    const observer = connect(b.url, { WebSocket }); // gives node b a socket, so b.say has a server view
    made.clients.push(observer);
    await until(() => observer.state === "open", "the observer");
    await settled();
    b.say("moving", 0);
    await until(() => c.got.messages.length === 1, "the first message, from node b through Redis");
    const id = c.id as string;

    // A request runs on a; the network breaks; the handler then emits a direct message to the
    // socket object it holds, and node b broadcasts while the client is away.
    const answer = c.request("slow", { ms: 150, dm: "after the break" });
    await sleep(50);
    route.port = await freePort(); // nobody listens there: attempts fail until the load balancer moves it
    route.breakLink();
    for (let i = 1; i <= 5; i++) b.say("moving", i);
    await until(() => a.runs === 1, "the first run to settle");
    const replyKept = async () => {
      const record = await admin.hget(layout.hash(id), "r");
      return record !== null && (JSON.parse(record) as { replies: unknown[] }).replies.length > 0;
    };
    await eventually(replyKept, "the reply reached the session record", 10_000);
    route.port = b.port;

    assert.equal(await answer, 1, "node a's run, answered from the session's reply cache");
    await open(c);
    b.say("moving", 6);
    await until(() => c.got.messages.length >= 7 && c.got.dms.length >= 1, "every message");
    await sleep(100); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, from(0, 6), "every room message once, in order");
    assert.deepEqual(c.got.dms, ["after the break"], "the direct message kept while away, once");
    assert.deepEqual(c.got.gaps, []);
    assert.equal(c.id, id, "the same socket id on node b");
    assert.equal(c.resumed, true);
    assert.equal(b.runs, 0, "not run again on node b");
  });

  it("onExpire runs exactly once, on another node, when the holder is killed (SIGKILL) or closed without a resume", async () => {
    const prefix = "rc3";
    const ttl = 2_000;
    const layout = slotLayout(prefix);
    const watchers = [await startNode(prefix, ttl), await startNode(prefix, ttl)];
    const killed = await spawnNode(prefix, ttl);
    const closed = await startNode(prefix, ttl);
    const onKilled = Array.from({ length: 5 }, (_, i) => peer(killed.url(`k${i}`)));
    const onClosed = Array.from({ length: 5 }, (_, i) => peer(closed.url(`c${i}`)));
    await Promise.all([...onKilled, ...onClosed].map((p) => p.connect()));
    const sids = [...onKilled, ...onClosed].map((p) => p.sid as string);
    const stored = async () => (await Promise.all(sids.map((sid) => admin.exists(layout.hash(sid))))).every((e) => e === 1);
    await eventually(stored, "every session is in Redis", 10_000);

    killed.child.kill("SIGKILL");
    await once(killed.child, "exit");
    await closed.server.close();
    nodes.delete(closed);
    const expired = () => watchers.flatMap((w) => w.expired);
    await until(() => sids.every((sid) => expired().includes(sid)), "onExpire of every session", 20_000);
    await sleep(ttl + 1_500); // beyond another lease and several polls: a second claim would show
    for (const sid of sids) {
      assert.equal(expired().filter((x) => x === sid).length, 1, `onExpire of ${sid} ran once in all`);
      assert.equal(await admin.exists(layout.hash(sid)), 0, "the session's hash is gone");
    }
    assert.deepEqual(closed.expired, [], "the closed node claimed nothing after it closed");
    const byNode = watchers.map((w) => w.expired.filter((sid) => sids.includes(sid)).length);
    console.log(
      `cluster expiry: ${sids.length} sessions (5 of a killed node, 5 of a closed one), onExpire per watcher node ${byNode.join(" + ")}`,
    );
  });

  it("spanned no hash slots: INFO errorstats on every master shows no CROSSSLOT, and no script or command failed", async () => {
    const masters = await cluster.masters();
    assert.equal(masters.length, 3);
    const stats = await Promise.all(masters.map((port) => cluster.cli(port, "info", "errorstats")));
    assert.ok(!stats.join("").includes("CROSSSLOT"), `CROSSSLOT errors on the cluster:\n${stats.join("")}`);
    // Redis 7.0 answers ioredis' two CLIENT SETINFO per connection with ERR; anything more (a script
    // touching a key of another slot is refused with ERR too) would show as a surplus.
    for (const [k, port] of masters.entries()) {
      const errors = Number(/errorstat_ERR:count=(\d+)/.exec(stats[k] ?? "")?.[1] ?? 0);
      const connections = Number(/total_connections_received:(\d+)/.exec(await cluster.cli(port, "info", "stats"))?.[1]);
      assert.ok(errors <= 2 * connections, `master ${port}: ${errors} ERR replies for ${connections} connections`);
    }
    assert.deepEqual(
      everyNode.flatMap((n) =>
        n.log
          .filter((e) => e.level === "warn" || e.level === "error")
          .map((e) => `${e.level}: ${e.msg} ${((e.obj as { err?: Error }).err as Error | undefined)?.message ?? ""}`),
      ),
      [],
      "no node logged a warning or an error (a failed claim, renewal or notice)",
    );
    console.log(`cluster errorstats after the run: ${stats.map((s) => s.replace(/\r?\n/g, " ").trim()).join(" | ")}`);
  });
});
