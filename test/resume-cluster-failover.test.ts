// Resumable sessions across the failover of a Redis Cluster master (3 masters, 1 replica each, the
// sharded Redis adapter, 3 in-process nodes): sessions in 4 rooms with history, some detached (their
// clients dropped), messages flowing (room broadcasts, server.sendTo, socket.emit); once the
// replicas have caught up (master_repl_offset reached by the replica), the master holding a room's
// history and the buckets of detached sessions is killed (SIGKILL), and messages keep flowing
// through the failover and after it. Then the detached clients resume on other nodes.
//
// What it checks, and what it does not: Redis replicates asynchronously, so a write the master
// acknowledged in its last moments can be lost with it, silently (the library does not WAIT). The
// test keeps that out on purpose: it stops sending, waits for the replica to reach the master's
// offset, kills, then sends again. It checks what the library promises on top of the failover:
// - every message sent is in history or was reported failed by its sender (a log line naming the
//   room or the session; sent during the failover only), history holds none twice;
// - every client got every message of its streams once, in seq order, or a gap naming it;
//   every message sent after the failover completed is delivered (no gap);
// - the detached clients resume on another node with the same id and rooms, the history and
//   inboxes keep their epochs (no reset);
// - onExpire does not run for a resumed session, and runs exactly once for one never resumed;
// - nothing rejects unhandled.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Cluster, Redis } from "ioredis";
import { createRedisAdapter, type RedisAdapter } from "../src/adapters/redis/index.js";
import { slotLayout } from "../src/adapters/redis/session-layout.js";
import { ShardedLayout } from "../src/adapters/redis/sharded-layout.js";
import { inboxStream, roomStream } from "../src/resume/history-log.js";
import { eventually } from "./helpers/cluster-chat.js";
import { dm, dms } from "./helpers/cross-nodes.js";
import { RedisCluster } from "./helpers/redis-cluster.js";
import { type ClusterChatNode, startClusterChat } from "./helpers/resume-cluster-app.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { type HistoryRead, type StreamCount, StreamLedger } from "./helpers/stream-ledger.js";
import { until } from "./helpers.js";

const TTL = 15_000;

describe("resumable sessions across the failover of a Redis Cluster master (sharded Redis adapter)", { timeout: 150_000 }, () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  const clients: Cluster[] = [];
  const nodes: ClusterChatNode[] = [];
  const peers: ResumePeer[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    cluster = await RedisCluster.launch(3, 1);
    admin = new Redis.Cluster(cluster.nodes);
    admin.on("error", () => {}); // the killed master's connection; commands retry on their own
  });
  after(async () => {
    for (const p of peers) p.ws?.terminate();
    await Promise.all(nodes.map((n) => n.server.close()));
    for (const client of [...clients, admin]) client.disconnect();
    await cluster.stop();
    process.off("unhandledRejection", onUnhandled);
  });

  /** Runs `read` until it answers (the admin client finds the new master after a MOVED or a refresh). */
  async function retrying<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (attempt === 50) throw error;
        await sleep(100);
      }
    }
  }

  async function replication(port: number): Promise<Record<string, string>> {
    const info = await cluster.cli(port, "info", "replication");
    return Object.fromEntries(info.split(/\r?\n/).flatMap((line) => (line.includes(":") ? [line.split(/:(.*)/s).slice(0, 2)] : [])));
  }

  /** Waits until `replica` has everything its master acknowledged (its offset reached the master's). */
  async function caughtUp(master: number, replica: number): Promise<void> {
    const offset = Number((await replication(master)).master_repl_offset);
    await eventually(
      async () => Number((await replication(replica)).slave_repl_offset) >= offset,
      "the replica reached the master's offset",
      10_000,
    );
  }

  /** Waits until `replica` is a master and every `live` Redis says the cluster is ok; when that was. */
  async function failedOver(replica: number, live: readonly number[], killedAt: number): Promise<number> {
    await eventually(
      async () => {
        const promoted = (await replication(replica)).role === "master";
        const infos = await Promise.all(live.map((port) => cluster.cli(port, "cluster", "info")));
        return promoted && infos.every((info) => info.includes("cluster_state:ok"));
      },
      "the replica took over within 30 s",
      Math.max(0, killedAt + 30_000 - Date.now()),
    );
    return Date.now();
  }

  async function historyOf(stream: string, layout: ReturnType<typeof slotLayout>): Promise<HistoryRead> {
    const base = layout.stream(stream);
    const epoch = await retrying(() => admin.hget(`${base}:meta`, "e"));
    const raw = await retrying(() => admin.xrange(`${base}:log`, "-", "+"));
    const entries = raw.map(([id, fields]) => {
      const body = fields[fields.indexOf("b") + 1] ?? "";
      return { seq: Number(id.split("-")[0]), n: Number(/"n":(\d+)/.exec(body)?.[1]) };
    });
    return { epoch, entries };
  }

  it("detached clients resume on other nodes after their bucket's master failed over: nothing lost silently, nothing twice, onExpire right", async () => {
    const prefix = "cf";
    const layout = slotLayout(prefix);
    const adapters: RedisAdapter[] = [];
    for (let i = 0; i < 3; i++) {
      const client = new Redis.Cluster(cluster.nodes);
      clients.push(client);
      const adapter = createRedisAdapter(client, { prefix, sharded: true });
      adapters.push(adapter);
      nodes.push(await startClusterChat(adapter, TTL));
    }
    // The first room has its history and its partition's channel on the master to kill: its
    // appends and its live hop both go through the failover. The other three, wherever they fall.
    const partitions = new ShardedLayout(prefix, 64);
    const rooms: string[] = [];
    let doomed = 0;
    for (let k = 0; rooms.length === 0; k++) {
      const room = `r${k}`;
      const history = await cluster.masterOf(`${layout.stream(roomStream(room))}:meta`);
      if (history === (await cluster.masterOf(partitions.channel(partitions.partitionOf(room))))) [rooms[0], doomed] = [room, history];
    }
    rooms.push("s1", "s2", "s3");
    const roomOf = (i: number) => rooms[i % rooms.length] as string;
    const home = (i: number) => nodes[i % 3] as ClusterChatNode;

    // A dozen sessions, 4 per node, every room on every node; more until 4 have their bucket on the doomed master.
    const sids: string[] = [];
    const onDoomed: number[] = [];
    let directOnDoomed = 0;
    for (const a of adapters) if ((await cluster.masterOf(partitions.direct(a.nodeId as string))) === doomed) directOnDoomed++;
    for (let i = 0; i < 12 || (onDoomed.length < 4 && i < 48); i++) {
      const p = new ResumePeer(home(i).url(roomOf(i)));
      peers.push(p);
      await p.connect();
      sids.push(p.sid as string);
      if ((await cluster.masterOf(layout.hash(p.sid as string))) === doomed) onDoomed.push(i);
    }
    assert.ok(onDoomed.length >= 4, "four sessions with their bucket on the master to kill");
    // A client closed by the server (1011: a hole its node could not read during the failover)
    // resumes on the same node, as the bundled client would.
    let reconnects = 0;
    const refused: string[] = [];
    const reconnecting = (i: number) => {
      const p = peers[i] as ResumePeer;
      p.onDrop = () => {
        reconnects++;
        sleep(100)
          .then(() => p.connect())
          .then(
            () => p.sid !== sids[i] && refused.push(`session ${i} came back as ${p.sid}`),
            (error: Error) => refused.push(`session ${i}: ${error.message}`),
          );
      };
    };
    for (const i of sids.keys()) reconnecting(i);
    await until(() => sids.every((sid, i) => home(i).sockets.has(sid)) && nodes.every((n) => n.view !== undefined), "every socket");
    await until(() => adapters.every((a) => a.stats.inFlight === 0), "the adapters' writes");
    await sleep(300);

    const ledger = new StreamLedger();
    let n = 0;
    let r = 0;
    /** One message to every room (from rotating nodes), one direct message to every session (sendTo, or emit on the socket object its first node holds). */
    const round = () => {
      for (const [k, room] of rooms.entries()) {
        nodes[(r + k) % 3]?.view?.to(room).emit("message", { n: ++n });
        ledger.sent(roomStream(room), n);
      }
      for (const [i, sid] of sids.entries()) {
        ledger.sent(inboxStream(sid), ++n);
        const socket = home(i).sockets.get(sid);
        if ((r + i) % 2 === 0 && socket !== undefined) socket.emit("dm", { n });
        else nodes[(r + i) % 3]?.server.sendTo(sid, dm(n));
      }
      r++;
    };
    /** Every message sent so far is in history (the senders' scripts were answered). */
    const numbered = async () => {
      const streams = [...rooms.map(roomStream), ...sids.map(inboxStream)];
      for (const stream of streams) {
        const key = `${layout.stream(stream)}:meta`;
        await eventually(
          async () => Number(await admin.hget(key, "s")) >= ledger.count(stream),
          `${stream}: every message numbered`,
          10_000,
        );
      }
    };

    for (let k = 0; k < 3; k++, await sleep(50)) round();
    await numbered();

    // Six clients drop: three whose bucket is on the doomed master, three of the others. The last
    // of each three never comes back (its session must expire, once). One more, whose bucket is on
    // the doomed master, drops just after the kill: its detach meets the failover.
    const others = sids.map((_, i) => i).filter((i) => !onDoomed.includes(i));
    const dropped = [...onDoomed.slice(0, 3), ...others.slice(0, 3)];
    const late = onDoomed[3] as number;
    const resuming = [dropped[0], dropped[1], dropped[3], dropped[4], late] as number[];
    const abandoned = [dropped[2], dropped[5]] as number[];
    const drop = (i: number) => {
      const p = peers[i] as ResumePeer;
      p.onDrop = undefined;
      p.drop();
    };
    for (const i of dropped) drop(i);
    const droppedAt = Date.now();
    for (const i of dropped) {
      await eventually(
        async () => (await admin.hget(layout.hash(sids[i] as string), "n")) === "",
        `session ${i} detached in Redis`,
        10_000,
      );
    }
    for (let k = 0; k < 3; k++, await sleep(50)) round();
    await numbered();
    const connected = sids.map((_, i) => i).filter((i) => !dropped.includes(i) && i !== late);
    const epochsBefore = new Map<string, string | null>();
    for (const stream of [...rooms.map(roomStream), ...sids.map(inboxStream)]) {
      epochsBefore.set(stream, await admin.hget(`${layout.stream(stream)}:meta`, "e"));
    }

    // The replica has everything the master acknowledged: nothing is lost to asynchronous replication.
    const replicaPort = await cluster.replicaOf(doomed);
    assert.ok(replicaPort !== undefined, "the doomed master has a replica");
    await caughtUp(doomed, replicaPort);

    await cluster.kill(doomed);
    const killedAt = Date.now();
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        round();
        await sleep(100);
      }
    })();
    let completedAt: number;
    try {
      await sleep(200);
      drop(late);
      const live = cluster.ports.filter((port) => port !== doomed);
      completedAt = await failedOver(replicaPort, live, killedAt);

      // Messages go on; the detached clients resume, each on another node than before.
      await sleep(1_000);
      for (const i of resuming) {
        const p = peers[i] as ResumePeer;
        p.url = (nodes[(i + 1) % 3] as ClusterChatNode).url(roomOf(i));
        await p.connect();
        assert.equal(p.sid, sids[i], `session ${i} resumed with its id`);
        assert.ok(!p.gaps.some((g) => g.stream === undefined), `session ${i} was not refused (no session-wide gap)`);
        reconnecting(i);
      }
      await sleep(2_000);
    } finally {
      pumping = false; // also when a step above failed: the loop would keep the process alive
      await pump;
    }
    for (let k = 0; k < 2; k++, await sleep(100)) round();

    // Every receiver gets what history holds (the holes filled, the lost notices read at the latest at the check every ttl / 3).
    const receivers = [...connected, ...resuming];
    const streams = [
      ...rooms.map((room) => ({ stream: roomStream(room), members: receivers.filter((i) => roomOf(i) === room) })),
      ...receivers.map((i) => ({ stream: inboxStream(sids[i] as string), members: [i] })),
    ];
    const asReceiver = (i: number) => ({ name: `session ${i}`, pushes: peers[i]?.pushes ?? [], gaps: peers[i]?.gaps ?? [] });
    const histories = new Map<string, HistoryRead>();
    await until(() => adapters.every((a) => a.stats.inFlight === 0), "the adapters' writes");
    await sleep(500);
    for (const { stream } of streams) histories.set(stream, await historyOf(stream, layout));
    const deadline = Date.now() + TTL / 3 + 10_000;
    for (const { stream, members } of streams) {
      const history = histories.get(stream) as HistoryRead;
      while (ledger.waiting(stream, history, members.map(asReceiver)) > 0 && Date.now() < deadline) await sleep(50);
    }
    await sleep(300); // a duplicate would arrive by now
    for (const p of peers) p.onDrop = undefined;
    assert.deepEqual(refused, [], "every client the server closed resumed its session");

    const failures = (key: "room" | "socket", value: string) =>
      nodes
        .flatMap((node) => node.log)
        .filter((e) => (e.obj as Record<string, unknown>)[key] === value && /not sent|without history/.test(e.msg)).length;
    const total: StreamCount = { sent: 0, counted: 0, reported: 0, delivered: 0, gapped: 0 };
    for (const { stream, members } of streams) {
      const history = histories.get(stream) as HistoryRead;
      assert.equal(history.epoch, epochsBefore.get(stream), `${stream}: the same epoch after the failover (its history was replicated)`);
      const named = stream.startsWith("room:") ? failures("room", stream.slice(5)) : failures("socket", stream.slice(6));
      const count = ledger.check(stream, history, members.map(asReceiver), named, { killedAt, completedAt });
      for (const key of Object.keys(total) as (keyof StreamCount)[]) total[key] += count[key];
    }
    for (const i of resuming) {
      const holder = nodes[(i + 1) % 3] as ClusterChatNode;
      assert.ok(holder.sockets.get(sids[i] as string)?.rooms.has(roomOf(i)), `session ${i} kept its room`);
    }

    // Sessions never resumed expire once, after the failover; resumed ones never.
    await until(
      () => abandoned.every((i) => nodes.some((node) => node.expired.includes(sids[i] as string))),
      "onExpire of the sessions never resumed",
      Math.max(0, droppedAt + TTL + 10_000 - Date.now()),
    );
    await sleep(1_500); // a second claim would show by now
    const expired = nodes.flatMap((node) => node.expired);
    for (const i of abandoned) assert.equal(expired.filter((sid) => sid === sids[i]).length, 1, `onExpire of session ${i} ran once`);
    for (const i of [...connected, ...resuming]) assert.ok(!expired.includes(sids[i] as string), `no onExpire for session ${i}`);
    assert.deepEqual(unhandled, [], "no unhandled rejection");

    const dropped_ = adapters.reduce((sum, a) => sum + a.stats.dropped, 0);
    const lost = adapters.reduce((sum, a) => sum + a.stats.lost, 0);
    console.log(
      JSON.stringify({
        failoverMs: completedAt - killedAt,
        sessions: sids.length,
        onDoomed: onDoomed.length,
        directChannelsOnDoomed: directOnDoomed,
        resumed: resuming.length,
        reconnects,
        expired: abandoned.length,
        sentDuringFailover: ledger.sentBetween(killedAt, completedAt),
        sentAfter: ledger.sentBetween(completedAt, Date.now()),
        ...total,
        adapterDropped: dropped_,
        adapterLost: lost,
      }),
    );
  });
  it("a node whose direct channel's master failed over hears, once the shard's subscriber is replaced, of the direct messages whose notices were lost", async () => {
    const prefix = "cs";
    // ttl 300 s: the check every node runs every ttl / 3 (100 s) cannot be what delivers it here
    // (asserted below: delivered before the holder's first check could run).
    const ttl = 300_000;
    const partitions = new ShardedLayout(prefix, 64);
    const start = async () => {
      const client = new Redis.Cluster(cluster.nodes);
      clients.push(client);
      const adapter = createRedisAdapter(client, { prefix, sharded: true });
      const node = await startClusterChat(adapter, ttl);
      nodes.push(node);
      return { adapter, node };
    };
    const sender = await start();
    // A node whose direct channel is on a master that still has a replica (the first test killed one).
    let holder: Awaited<ReturnType<typeof start>> | undefined;
    let doomed = 0;
    let replicaPort = 0;
    let holderStartedAt = 0;
    for (let tries = 0; holder === undefined; tries++) {
      assert.ok(tries < 20, "a node whose direct channel's master has a replica");
      holderStartedAt = Date.now();
      const candidate = await start();
      const master = await cluster.masterOf(partitions.direct(candidate.adapter.nodeId as string));
      const replica = await cluster.replicaOf(master);
      if (replica !== undefined) [holder, doomed, replicaPort] = [candidate, master, replica];
    }
    const p = new ResumePeer(holder.node.url("d0"));
    peers.push(p);
    await p.connect();
    const sid = p.sid as string;
    await until(() => holder.node.sockets.has(sid), "the session on its node");
    sender.node.server.sendTo(sid, dm(1));
    await p.next((f) => f[0] === 4 && f[1] === inboxStream(sid), 10_000);
    await caughtUp(doomed, replicaPort);

    // The Redis processes still up (the first test killed one), but the one to kill now.
    const answering = await Promise.all(
      cluster.ports.map((port) =>
        cluster.cli(port, "ping").then(
          () => true,
          () => false,
        ),
      ),
    );
    const live = cluster.ports.filter((port, k) => answering[k] && port !== doomed);
    await cluster.kill(doomed);
    const killedAt = Date.now();
    // Direct messages every 20 ms from the kill until the failover completed: those sent while the
    // cluster is down fail and their sender says so; those kept in the inbox around the promotion
    // may have their notice published before the holder's subscriber of that shard is replaced.
    let n = 1;
    let sending = true;
    const sends = (async () => {
      while (sending) {
        sender.node.server.sendTo(sid, dm(++n));
        await sleep(20);
      }
    })();
    let completedAt: number;
    try {
      completedAt = await failedOver(replicaPort, live, killedAt);
    } finally {
      // None after: the last ones' notices may be the lost ones, and no later message makes their
      // node read the hole. (Also stopped when the failover wait failed: the loop would keep the process alive.)
      sending = false;
      await sends;
    }
    // What the inbox kept, in seq order: every one of them reaches the client, with no further
    // message and no client action, well before the check every ttl / 3 would find it.
    // Sends retried through the failover land late: the inbox is read once it has stopped growing.
    const logKey = `${slotLayout(prefix).stream(inboxStream(sid))}:log`;
    for (let last = -1, settleBy = Date.now() + 10_000; ; await sleep(500)) {
      const length = await retrying(() => admin.xlen(logKey));
      if (length === last || Date.now() > settleBy) break;
      last = length;
    }
    const log = await retrying(() => admin.xrange(logKey, "-", "+"));
    const kept = log.map(([id, fields]) => [
      Number(id.split("-")[0]),
      Number(/"n":(\d+)/.exec(fields[fields.indexOf("b") + 1] ?? "")?.[1]),
    ]);
    assert.ok(kept.length >= 2, "direct messages were kept after the first");
    await until(() => dms(p).length >= kept.length, `the ${kept.length} direct messages the inbox kept`, 10_000);
    const deliveredAt = Date.now();
    await sleep(300); // a duplicate would arrive by now
    assert.deepEqual(
      dms(p).map((x) => [x.seq, (x.data as { n: number }).n]),
      kept,
      "every kept one once, in seq order",
    );
    assert.deepEqual(p.gaps, []);
    assert.equal(p.ws?.readyState, p.ws?.OPEN, "the client stayed connected");
    assert.deepEqual(unhandled, [], "no unhandled rejection");
    assert.ok(
      deliveredAt - holderStartedAt < ttl / 3,
      `delivered ${deliveredAt - holderStartedAt} ms after the holder started, before its first check every ${ttl / 3} ms`,
    );
    console.log(
      JSON.stringify({
        test: "direct channel failover",
        failoverMs: completedAt - killedAt,
        sent: n - 1,
        kept: kept.length,
        deliveredAfterFailoverMs: deliveredAt - completedAt,
        checkEveryMs: ttl / 3,
      }),
    );
  });
});
