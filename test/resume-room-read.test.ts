// A hole in a room's sequence that a node cannot read from history, on a real Redis (both adapter
// modes): message 2 of room "r" is in Redis but no node was handed it, and the next message, 3,
// makes each node read 2 first. That read fails (here: an entry the node cannot parse, a fault put
// into the room's history by the test; in production, a Redis that does not answer, such as a
// Cluster master failing over). The members must never get 3 without 2 (their position would pass
// the hole, and their next resume would not replay it): the node holds the room's later messages
// and reads again; once the read works, 2 and 3 arrive in order. If it still fails after the
// retries, its resumable members there are closed with 1011 "room read failed", their sessions
// kept, and their resume replays the hole once history can be read.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { oneRedisLayout, slotLayout } from "../src/adapters/redis/session-layout.js";
import { pushBody, roomStream } from "../src/resume/history-log.js";
import { HOLE_READ_RETRIES_MS } from "../src/resume/room-gate.js";
import { RedisServer } from "./helpers/redis-server.js";
import { type ClusterChatNode, startClusterChat } from "./helpers/resume-cluster-app.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { appendUnparsable, mendUnparsable } from "./helpers/unparsable-entry.js";
import { until } from "./helpers.js";

const ROOM = roomStream("r");
const ns = (p: ResumePeer) => p.pushes.filter((x) => x.stream === ROOM).map((x) => [x.seq, (x.data as { n: number }).n]);

describe("a room's hole that cannot be read (real Redis)", { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let admin: Redis;
  const templates: Redis[] = [];
  const nodes: ClusterChatNode[] = [];
  const peers: ResumePeer[] = [];
  before(async () => {
    redis = await RedisServer.launch();
    admin = new Redis(redis.port, "127.0.0.1");
  });
  after(async () => {
    for (const p of peers) p.ws?.terminate();
    await Promise.all(nodes.map((n) => n.server.close()));
    for (const t of [...templates, admin]) t.disconnect();
    await redis.stop();
  });

  /** Two nodes of the chat app on the test's Redis, with keys under `prefix`. */
  async function twoNodes(prefix: string, sharded: boolean): Promise<[ClusterChatNode, ClusterChatNode]> {
    const start = async () => {
      const template = new Redis(redis.port, "127.0.0.1");
      templates.push(template);
      const node = await startClusterChat(createRedisAdapter(template, { prefix, sharded }), 120_000);
      nodes.push(node);
      return node;
    };
    return [await start(), await start()];
  }

  /** Nodes a and b, a member of "r" on each, and message 1 delivered to both. */
  async function roomOnTwoNodes(prefix: string, sharded: boolean) {
    const [a, b] = await twoNodes(prefix, sharded);
    const [p, q] = [new ResumePeer(a.url("r")), new ResumePeer(b.url("r"))];
    peers.push(p, q);
    await p.connect();
    await q.connect();
    await until(() => a.view !== undefined && b.view !== undefined, "a socket on each node");
    // Both nodes listen to the room: a message from a reaches b's member.
    a.view?.to("r").emit("message", { n: 1 });
    await until(() => ns(q).length > 0, "the room's first message reaches both nodes", 10_000);
    await until(() => ns(p).length === 1, "message 1 on a");
    const base = (sharded ? slotLayout(prefix) : oneRedisLayout(prefix)).stream(ROOM);
    return { a, b, p, q, base };
  }

  for (const sharded of [false, true]) {
    const mode = sharded ? "sharded" : "classic";

    it(`${mode}: a read that fails once is read again; the members get 2 and then 3, still connected`, async () => {
      const { a, b, p, q, base } = await roomOnTwoNodes(`rr1${mode}`, sharded);
      await appendUnparsable(admin, base, 2, pushBody("message", { n: 2 })); // as if its live hop had been lost
      a.view?.to("r").emit("message", { n: 3 });
      const retrying = (n: ClusterChatNode) => n.log.some((e) => e.msg.includes("could not read a room's history to fill a hole"));
      await until(() => retrying(a) && retrying(b), "both nodes' first read to fail");
      assert.deepEqual([ns(p), ns(q)], [[[1, 1]], [[1, 1]]], "3 waits while 2 cannot be read");
      await mendUnparsable(admin, base);
      await until(() => ns(p).length === 3 && ns(q).length === 3, "2 and 3", 10_000);
      await sleep(200); // a duplicate would arrive by now
      const all = [
        [1, 1],
        [2, 2],
        [3, 3],
      ];
      assert.deepEqual([ns(p), ns(q)], [all, all], "in order, once each");
      assert.deepEqual([...p.gaps, ...q.gaps], []);
      assert.equal(p.ws.readyState, p.ws.OPEN, "still connected");
      assert.equal(q.ws.readyState, q.ws.OPEN, "still connected");
    });

    it(`${mode}: a hole still unreadable after the retries closes the members 1011 "room read failed"; their resume replays 2 and 3 once, in order`, async () => {
      const { a, b, p, q, base } = await roomOnTwoNodes(`rr2${mode}`, sharded);
      await appendUnparsable(admin, base, 2, pushBody("message", { n: 2 })); // as if its live hop had been lost
      const bound = HOLE_READ_RETRIES_MS.reduce((x, y) => x + y, 0) + 10_000;
      const open = sleep(bound, undefined, { ref: false }).then(() => [0, Buffer.from(`still open after ${bound} ms`)]);
      const closed = [p, q].map((x) => Promise.race([once(x.ws, "close"), open]) as Promise<[number, Buffer]>);
      a.view?.to("r").emit("message", { n: 3 });
      const [[pc, pr], [qc, qr]] = (await Promise.all(closed)) as [[number, Buffer], [number, Buffer]];
      assert.deepEqual(
        [
          [pc, pr.toString()],
          [qc, qr.toString()],
        ],
        [
          [1011, "room read failed"],
          [1011, "room read failed"],
        ],
      );
      assert.deepEqual([ns(p), ns(q)], [[[1, 1]], [[1, 1]]], "nothing past the hole was written");

      await mendUnparsable(admin, base);
      // Each resumes on the other node.
      [p.url, q.url] = [b.url("r"), a.url("r")];
      await p.connect();
      await q.connect();
      await until(() => ns(p).length === 3 && ns(q).length === 3, "the hole and what followed it, replayed");
      a.view?.to("r").emit("message", { n: 4 });
      await until(() => ns(p).length === 4 && ns(q).length === 4, "message 4, live");
      await sleep(200);
      const all = [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ];
      assert.deepEqual([ns(p), ns(q)], [all, all], "in order, once each, across the resume");
      assert.deepEqual([...p.gaps, ...q.gaps], []);
      assert.deepEqual([...a.expired, ...b.expired], [], "no onExpire: the sessions did not end");
    });
  }

  // A room's position read when its first member joins a node fails the same way (here: its
  // history's meta key holds a string, so Redis answers WRONGTYPE; in production, a Redis that
  // does not answer). The member's start there must still be known, or told to be unknown: a
  // client that leaves before it hears from the room would otherwise resume past what it missed.
  /** Node(s), a key that fails the room's reads, and a member of "r" on a that joined while they failed. */
  async function joinWhileUnreadable(prefix: string, sharded: boolean, logged: string) {
    const base = (sharded ? slotLayout(prefix) : oneRedisLayout(prefix)).stream(ROOM);
    await admin.set(`${base}:meta`, "not a hash");
    const [a, b] = await twoNodes(prefix, sharded);
    const p = new ResumePeer(a.url("r"));
    peers.push(p);
    await p.connect();
    await until(() => a.log.some((e) => e.msg.includes(logged)), `a's log: ${logged}`, 10_000);
    return { a, b, p, base };
  }

  /** p drops, a sends 1 and 2 to "r" while it is away, and p resumes on b (saying its positions, or not). */
  async function missTwoAndResume(a: ClusterChatNode, b: ClusterChatNode, p: ResumePeer, sendPositions: boolean) {
    const closed = once(p.ws, "close");
    p.drop();
    await closed;
    a.view?.to("r").emit("message", { n: 1 });
    a.view?.to("r").emit("message", { n: 2 });
    p.url = b.url("r");
    await p.connect({ sendPositions });
    await until(() => ns(p).length >= 2, "1 and 2 after the resume");
    a.view?.to("r").emit("message", { n: 3 });
    await until(() => ns(p).length >= 3, "message 3, live");
    await sleep(200); // a duplicate would arrive by now
  }

  it("classic: a room's position read that fails once is read again; a member that left before hearing from the room gets what it missed on resume, without a gap", async () => {
    const { a, b, p, base } = await joinWhileUnreadable("rp1", false, "could not read a room's history position; reading again");
    await admin.del(`${base}:meta`);
    const readAgain = "read a room's history position again after failed reads";
    await until(() => a.log.some((e) => e.msg.includes(readAgain)), `a's log: ${readAgain}`, 10_000);
    // It says it heard nothing of "r": read from where it started there.
    await missTwoAndResume(a, b, p, true);
    assert.deepEqual(
      ns(p),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      "replayed from where p started, then live",
    );
    assert.deepEqual(p.gaps, [], "the start was read: nothing unknown");
  });

  it('sharded: a room\'s position still unreadable after the retries: the member starts in an unknown epoch, and its resume answers gap "reset" before what history holds', async () => {
    const { a, b, p, base } = await joinWhileUnreadable("rp2", true, "its members here start in an unknown epoch");
    await admin.del(`${base}:meta`);
    // It says nothing: the record has no position in "r" (a never read one), so its start counts.
    await missTwoAndResume(a, b, p, false);
    assert.deepEqual(
      p.gaps.map((g) => [g.stream, g.reason]),
      [[ROOM, "reset"]],
      "where p stood is unknown: told, not passed over",
    );
    assert.deepEqual(
      ns(p),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      "what history holds, then live",
    );
  });
});
