// The resume stores' notices between nodes lost, on a real Redis (both adapter modes on one Redis),
// with raw protocol peers: a node hears of a direct message for a session it holds, of a take of
// that session by another node, and of a reply written for a request it waits for by pub/sub on its
// direct channel, at most once. Here the node's subscriber connection is cut (CLIENT KILL, with a
// reconnection delay of ~2 s, so the notice is published while nobody listens) and what the notice
// would have done must happen anyway, soon after the subscriber is back, without any action of the
// client: the direct message is delivered once and in order, the half-open socket is closed. A
// notice lost without a cut (here: published where nobody listens) is made up for by the check
// every node runs every ttl / 3.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inboxNotice, movedNotice, parseInbox, parseMoved, parseReply, replyNotice } from "../src/adapters/redis/resume-notices.js";
import { unframe, WireKind } from "../src/adapters/redis/sharded-wire.js";
import { crossNodesSuite, dm, dms, isAnswer, layoutOf, type NodeOptions } from "./helpers/cross-nodes.js";
import { until } from "./helpers.js";

/** How long a cut subscriber waits before it reconnects, in ms: the window in which notices to its node are lost. */
const RETRY_MS = 2_000;
/**
 * What "soon" means in the titles, in ms: how long after the subscriber is back (or after the
 * periodic check is due) what the lost notice would have done must have happened. Measured on a
 * 2-core machine, idle and with two busy loops and another Redis test file beside it (4 runs): the
 * missed direct messages 15-90 ms after the reconnection delay, the half-open socket closed at most
 * 21 ms after it, the unheard one 780-990 ms after it was kept (the check every 1 s). The fallback
 * this rules out for the cut subscriber (the check every ttl / 3) would take 40 s here.
 */
const SOON_MS = 2_000;

// The two modes' tests run side by side (each mode's one at a time): they share nothing but the
// Redis, and mostly wait (reconnection delays, handlers that sleep), so the file takes half as long.
describe("lost notices between nodes (real Redis)", { timeout: 120_000, concurrency: 2 }, () => {
  const env = crossNodesSuite();

  /**
   * Nodes a and b; a session on a whose request `slow` (id 1, sleeping `ms`) is running there; the
   * client reconnected on b (`q`) while its connection to a still looks open. `bOptions` start b.
   */
  async function requestLeftOnA(prefix: string, sharded: boolean, ms: number, bOptions: NodeOptions = {}) {
    const a = await env.x.startNode(prefix, sharded);
    const b = await env.x.startNode(prefix, sharded, bOptions);
    const p = env.x.peer(a.url);
    await p.connect();
    p.send([1, 1, "slow", { ms }]);
    await sleep(200); // the run is marked running in the session hash
    const q = env.x.clone(p, b.url);
    await q.connect();
    return { a, b, q, sid: p.sid as string };
  }

  for (const sharded of [false, true]) {
    const mode = sharded ? "sharded" : "classic";
    describe(mode, { concurrency: 1 }, () => {
      it(`${mode}: a direct message whose notice was lost while its node's subscriber was cut reaches the connected client soon after the subscriber is back, once, in order, without any action of its own`, async () => {
        const prefix = `n1${mode}`;
        const name = `${prefix}-a`;
        // A long ttl: the check every ttl / 3 (40 s) cannot be what delivers them, only the resubscription.
        const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded, { name, retryMs: RETRY_MS, ttl: 120_000 });
        // A second session on a that has had no direct message yet (its inbox begins with the lost one).
        const fresh = env.x.peer(a.url);
        await fresh.connect();
        const freshSid = fresh.sid as string;
        a.sockets.get(sid)?.emit("dm", { n: 1 });
        await p.next((f) => f[0] === 4 && f[1] === `inbox:${sid}`);

        assert.ok((await env.x.cutSubscriber(name)) >= 1, "node a's subscriber was cut");
        const cutAt = Date.now();
        b.server.sendTo(sid, dm(2));
        b.server.sendTo(freshSid, dm(1));
        await env.x.numbered(prefix, sid, 2);
        await env.x.numbered(prefix, freshSid, 1);
        // The notices went out while a was not subscribed: lost, not late.
        assert.deepEqual(await env.x.subscribers(name), [], "a was still cut when both were numbered");
        assert.equal(dms(p).length, 1, "not handed to a's socket while cut");

        await until(
          () => dms(p).length >= 2 && dms(fresh).length >= 1,
          "the missed direct messages, with no client action",
          RETRY_MS + 8_000,
        );
        const deliveredAfterCutMs = Date.now() - cutAt;
        console.log(JSON.stringify({ mode, test: "lost inbox notice", deliveredAfterCutMs, reconnectDelayMs: RETRY_MS }));
        assert.ok(
          deliveredAfterCutMs < RETRY_MS + SOON_MS,
          `delivered ${deliveredAfterCutMs} ms after the cut; the subscriber reconnects after ${RETRY_MS} ms: not soon after it was back`,
        );
        // Live again afterwards, from both nodes, and nothing twice.
        b.server.sendTo(sid, dm(3));
        a.sockets.get(sid)?.emit("dm", { n: 4 });
        await until(() => dms(p).length >= 4, "the next direct messages", 10_000);
        await sleep(300);
        assert.deepEqual(p.gaps, []);
        assert.deepEqual(fresh.gaps, []);
        const got = dms(p).map((m) => [m.seq, (m.data as { n: number }).n]);
        assert.deepEqual(
          got.map(([seq]) => seq),
          [1, 2, 3, 4],
          "each once, in seq order",
        );
        assert.deepEqual(got.slice(0, 2), [
          [1, 1],
          [2, 2],
        ]);
        // 3 and 4 were sent at once from two nodes: the inbox numbers them in whichever order they reached it.
        assert.deepEqual(
          got
            .slice(2)
            .map(([, n]) => n)
            .sort(),
          [3, 4],
        );
        assert.deepEqual(
          dms(fresh).map((m) => [m.seq, (m.data as { n: number }).n]),
          [[1, 1]],
        );
        assert.equal(p.ws.readyState, p.ws.OPEN, "the client stayed connected");
      });

      it(`${mode}: a direct message whose notice reached nobody (no cut) reaches the connected client by the periodic check (every ttl / 3), within a period and a margin, once`, async () => {
        const prefix = `n3${mode}`;
        // ttl 3 s: the node checks its sessions' inboxes every second.
        const a = await env.x.startNode(prefix, sharded, { ttl: 3_000 });
        const { p, sid } = await env.x.firstDm(a);
        // Appended by a node whose notice to a reaches nobody, as a notice dropped on the way would.
        const sentAt = Date.now();
        const delivery = await env.x.deliverUnheard(prefix, sharded, sid, 2);
        assert.equal(delivery.kind, "appended", "kept in the inbox");
        await until(() => dms(p).length >= 2, "the direct message, with no further message and no client action", 10_000);
        const deliveredAfterMs = Date.now() - sentAt;
        console.log(JSON.stringify({ mode, test: "notice to nobody", deliveredAfterMs, checkEveryMs: 1_000 }));
        assert.ok(deliveredAfterMs < 1_000 + SOON_MS, `delivered ${deliveredAfterMs} ms after it was kept; the check runs every 1,000 ms`);
        await sleep(1_500); // the next checks find nothing more to write
        assert.deepEqual(p.gaps, []);
        assert.deepEqual(
          dms(p).map((m) => [m.seq, (m.data as { n: number }).n]),
          [
            [1, 1],
            [2, 2],
          ],
        );
      });

      it(`${mode}: a half-open socket whose take's notice was lost while its node's subscriber was cut is closed soon after the subscriber is back`, async () => {
        const prefix = `n2${mode}`;
        const name = `${prefix}-a`;
        // A long ttl: the lease renewal (every ttl / 3 = 40 s), which also finds a newer generation, does not come into it.
        const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded, { name, retryMs: RETRY_MS, ttl: 120_000 });
        const oldClosed = once(p.ws, "close");
        assert.ok((await env.x.cutSubscriber(name)) >= 1, "node a's subscriber was cut");
        const q = env.x.clone(p, b.url);
        await q.connect();
        const takenAt = Date.now();
        assert.equal(q.sid, sid, "resumed on b with the same id");
        assert.deepEqual(await env.x.subscribers(name), [], "a was still cut when the session was taken");
        assert.equal(p.ws.readyState, p.ws.OPEN, "the half-open socket is still open on a");

        const [code, reason] = (await Promise.race([
          oldClosed,
          sleep(15_000, undefined, { ref: false }).then(() => [0, Buffer.from("still open after 15 s")]),
        ])) as [number, Buffer];
        assert.deepEqual([code, reason.toString()], [1001, "resumed elsewhere"], "node a closed its half-open socket");
        const closedAfterTakeMs = Date.now() - takenAt;
        console.log(JSON.stringify({ mode, test: "lost moved notice", closedAfterTakeMs, reconnectDelayMs: RETRY_MS }));
        // Taken after the cut: the subscriber is back less than RETRY_MS after the take.
        assert.ok(
          closedAfterTakeMs < RETRY_MS + SOON_MS,
          `closed ${closedAfterTakeMs} ms after the take; the subscriber reconnects ${RETRY_MS} ms after the cut: not soon after it was back`,
        );
        await until(() => a.closes.includes(sid), "onClose on node a");
        await sleep(300);
        // The session on b is untouched and keeps working.
        assert.equal(await env.admin.exists(layoutOf(prefix).hash(sid)), 1, "the session record is still there");
        a.server.sendTo(sid, dm(1));
        await q.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 1, 10_000);
        assert.deepEqual(q.gaps, []);
        assert.deepEqual([...a.expired, ...b.expired], [], "no onExpire");
      });

      it(`${mode}: room broadcasts reach a node again once its cut subscriber is back (the adapter subscribes again itself)`, async () => {
        const prefix = `n7${mode}`;
        const name = `${prefix}-a`;
        const { b, p } = await env.x.sessionOnA(prefix, sharded, { name, retryMs: RETRY_MS, ttl: 120_000 });
        const say = (n: number) => b.view?.to("r").emit("message", { n });
        say(1);
        await until(() => p.seqs("room:r").length === 1, "the first broadcast on a");
        assert.ok((await env.x.cutSubscriber(name)) >= 1, "node a's subscriber was cut");
        await env.x.subscribedAgain(name);
        await sleep(100); // the SSUBSCRIBE/SUBSCRIBE of every channel, sent together, answered
        say(2);
        say(3);
        await until(() => p.seqs("room:r").length === 3, "the broadcasts after the resubscription, live", 10_000);
        const seqs = p.seqs("room:r");
        assert.deepEqual(seqs, [seqs[0], (seqs[0] as number) + 1, (seqs[0] as number) + 2], "once, in order");
        assert.deepEqual(p.gaps, []);
      });

      it(`${mode}: a request retried on the new node is answered by the reply notice soon after the old node's handler settles, without polling the store`, async () => {
        const prefix = `n4${mode}`;
        const { a, b, q, sid } = await requestLeftOnA(prefix, sharded, 1_500);
        // Every read of the request's mark, as Redis sees them (MONITOR).
        let reads = 0;
        const read = `"hget" "${layoutOf(prefix).hash(sid)}" "q:1"`;
        const stop = await env.x.monitor((line) => {
          if (line.toLowerCase().endsWith(read.toLowerCase())) reads++;
        });
        const askedAt = Date.now();
        let reply: unknown[];
        let answeredAt: number;
        try {
          q.send([1, 1, "slow", { ms: 1_500 }]); // the client's retry, same id
          reply = await q.next(isAnswer, 15_000);
          answeredAt = Date.now();
          await sleep(100); // MONITOR lines of the last reads have arrived
        } finally {
          stop();
        }
        assert.deepEqual(reply, [2, 1, 1], "answered with a's run");
        assert.ok(a.settledAt >= askedAt, "a's handler settled while the retry waited");
        console.log(
          JSON.stringify({
            mode,
            test: "reply notice",
            waitedMs: answeredAt - askedAt,
            answeredAfterSettleMs: answeredAt - a.settledAt,
            storeReads: reads,
          }),
        );
        // A poll every 25 ms would read the mark ~90 times over this wait; the notice needs none but
        // the first read and the slow fallback poll's (every second).
        assert.ok(reads >= 1 && reads <= 8, `the wait read the mark ${reads} times`);
        // a settles ~1.3 s into b's wait, whose fallback reads come at 0, 1 and 2 s: without the
        // notice the answer would come ~0.7 s after the settle; with it, within a few ms.
        assert.ok(
          answeredAt - a.settledAt < 300,
          `answered ${answeredAt - a.settledAt} ms after a's handler settled: by the notice, not the 1 s poll`,
        );
        await sleep(300);
        assert.equal(a.runs + b.runs, 1, `ran on a ${a.runs}, on b ${b.runs} time(s)`);
        assert.equal(q.frames.filter(isAnswer).length, 1, "one answer");
      });

      it(`${mode}: a reply whose notice was lost while the new node's subscriber was cut still answers the retry, once (the slow poll)`, async () => {
        const prefix = `n5${mode}`;
        const name = `${prefix}-b`;
        const { a, b, q } = await requestLeftOnA(prefix, sharded, 1_500, { name, retryMs: RETRY_MS });
        q.send([1, 1, "slow", { ms: 1_500 }]);
        await sleep(300); // the retry waits on b
        assert.ok((await env.x.cutSubscriber(name)) >= 1, "node b's subscriber was cut");
        const reply = await q.next(isAnswer, 15_000);
        const answeredAt = Date.now();
        assert.deepEqual(reply, [2, 1, 1], "answered with a's run");
        console.log(JSON.stringify({ mode, test: "reply notice lost", answeredAfterSettleMs: answeredAt - a.settledAt }));
        await env.x.subscribedAgain(name);
        assert.equal(a.runs + b.runs, 1, `ran on a ${a.runs}, on b ${b.runs} time(s)`);
        assert.equal(q.frames.filter(isAnswer).length, 1, "one answer");
      });
    });
  }
});

describe("notice bodies", () => {
  it("reads back what the sharded mode sends, sids of any characters included (lengths count bytes)", () => {
    const sid = "s:ü:1"; // a colon and a two-byte character
    const moved = unframe(movedNotice(3, sid));
    assert.equal(moved?.kind, WireKind.moved);
    assert.deepEqual(parseMoved(moved?.body as Buffer), { generation: 3, sid });
    const frame = JSON.stringify([2, 7, { text: "héllo: ü" }]);
    const reply = unframe(replyNotice(7, sid, frame));
    assert.equal(reply?.kind, WireKind.reply);
    assert.deepEqual(parseReply(reply?.body as Buffer), { id: 7, sid, frame });
    const body = '"dm",{"n":"ü:2"}';
    const inbox = unframe(inboxNotice({ seq: 2, epoch: "k3" }, sid, body));
    assert.equal(inbox?.kind, WireKind.inbox);
    assert.deepEqual(parseInbox(inbox?.body as Buffer), { sid, pos: { seq: 2, epoch: "k3" }, body });
    for (const bad of ["", "2", "2:k3", "2:k3:4", ":k3:4:0f8e", "x:k3:4:0f8e", "2:k3:x:0f8e", "2:k3:9:0f8e"]) {
      assert.equal(parseInbox(Buffer.from(bad)), undefined, JSON.stringify(bad));
    }
    for (const bad of ["", "3", ":0f8e", "x:0f8e"]) assert.equal(parseMoved(Buffer.from(bad)), undefined, JSON.stringify(bad));
  });

  it("reads what the update script writes, byte lengths and all, and refuses malformed bodies", () => {
    const frame = JSON.stringify([2, 7, { text: "héllo: ü" }]);
    assert.deepEqual(parseReply(Buffer.from(`7:4:0f8e${frame}`)), { id: 7, sid: "0f8e", frame });
    assert.deepEqual(parseReply(Buffer.from('12:3:s:1[3,12,"TIMEOUT"]')), { id: 12, sid: "s:1", frame: '[3,12,"TIMEOUT"]' });
    for (const bad of ["", "7", "7:", ":4:0f8e[2]", "x:4:0f8e[2]", "7:x:0f8e", "7:9:0f8e"]) {
      assert.equal(parseReply(Buffer.from(bad)), undefined, JSON.stringify(bad));
    }
  });
});
