// Resumable sessions across two nodes on a real Redis (both adapter modes on one Redis), with raw
// protocol peers (test/helpers/resume-peer.ts): a `sendTo` to a session that is away from every
// node is kept in its inbox and replayed, in order and once, wherever the session resumes; one sent
// while the session is attached on another node reaches it live, once; one kept in the inbox while
// its node did not hear the forward is read from history before the next; and a half-open socket left
// on one node is closed there ("resumed elsewhere") when the session resumes on another, without
// ending or detaching the session that now lives there, and a request still running there is
// answered once, on the new node, from that run.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { crossNodesSuite, dm, dms, layoutOf } from "./helpers/cross-nodes.js";
import { until } from "./helpers.js";

describe("resumable sessions across nodes (real Redis)", { timeout: 120_000 }, () => {
  const env = crossNodesSuite();

  for (const sharded of [false, true]) {
    const mode = sharded ? "sharded" : "classic";

    it(`${mode}: a sendTo to a session away from every node is kept and replayed once, in order, on another node; then sent live from either node`, async () => {
      const prefix = `x1${mode}`;
      const a = await env.x.startNode(prefix, sharded);
      const b = await env.x.startNode(prefix, sharded);
      const { p, sid } = await env.x.firstDm(a);
      // b needs a socket of its own for a server view (its sendTo); any client will do.
      await env.x.peer(b.url).connect();
      await until(() => b.view !== undefined, "a socket on node b");

      p.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
      await sleep(300); // the detach reaches Redis
      // Away from every node: sent from the node that held it, from the other one, and by the old socket object.
      b.server.sendTo(sid, dm(2));
      await env.x.numbered(prefix, sid, 2);
      a.server.sendTo(sid, dm(3));
      await env.x.numbered(prefix, sid, 3);
      b.server.sendTo(sid, dm(4));
      await env.x.numbered(prefix, sid, 4);
      a.sockets.get(sid)?.emit("dm", { n: 5 });
      await env.x.numbered(prefix, sid, 5);

      p.url = b.url;
      await p.connect();
      assert.equal(p.sid, sid, "resumed with the same id");
      assert.deepEqual(p.gaps, [], "nothing was lost");
      assert.deepEqual(
        dms(p).map((x) => [x.seq, (x.data as { n: number }).n]),
        [
          [1, 1],
          [2, 2],
          [3, 3],
          [4, 4],
          [5, 5],
        ],
        "every direct message once, numbered in the order sent",
      );

      // Attached on b: a sendTo from a (no socket of it there) reaches it live, once; so does one from b.
      a.server.sendTo(sid, dm(6));
      await p.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 6, 10_000);
      b.server.sendTo(sid, dm(7));
      await p.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 7, 10_000);
      // A handler on a that still holds the old socket object: its emit reaches the session on b, live.
      a.sockets.get(sid)?.emit("dm", { n: 8 });
      await p.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 8, 10_000);
      await sleep(300);
      assert.deepEqual(
        dms(p).map((x) => x.seq),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.deepEqual(p.gaps, []);
    });

    it(`${mode}: direct messages from both nodes before, during and after a resume elsewhere: each once, gapless seqs, in seq order`, async () => {
      const prefix = `x2${mode}`;
      const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded);
      p.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
      const total = 240;
      let sent = 0;
      const sending = (async () => {
        while (sent < total) {
          sent++;
          // From a (which no longer holds it), from b, and, once it resumed there, by b's socket object.
          const own = sent % 3 === 0 ? b.sockets.get(sid) : undefined;
          if (own !== undefined) own.emit("dm", { n: sent });
          else (sent % 3 === 1 ? a : b).server.sendTo(sid, dm(sent));
          await sleep(2);
        }
      })();
      await until(() => sent >= 30, "the first sends");
      p.url = b.url;
      await p.connect();
      await sending;
      await until(() => dms(p).length >= total, `all ${total} direct messages (got ${dms(p).length})`, 15_000).catch(() => {});
      await sleep(300);
      const got = dms(p);
      assert.deepEqual(p.gaps, [], "nothing was lost");
      assert.deepEqual(
        got.map((x) => x.seq),
        Array.from({ length: got.length }, (_, k) => k + 1),
        "seqs 1, 2, 3... each once",
      );
      assert.deepEqual(
        got.map((x) => (x.data as { n: number }).n).sort((x, y) => x - y),
        Array.from({ length: total }, (_, k) => k + 1),
        "every message once",
      );
    });

    it(`${mode}: a direct message its node did not hear is read from history before the next one, in order, once`, async () => {
      const prefix = `x4${mode}`;
      const a = await env.x.startNode(prefix, sharded);
      const { p, sid } = await env.x.firstDm(a);
      // A node whose notice to a reaches nobody (as when a's subscriber connection is down): the
      // message is kept in the inbox, and a does not hear of it.
      const delivery = await env.x.deliverUnheard(prefix, sharded, sid, 2);
      assert.equal(delivery.kind, "appended", "kept in the inbox");
      await sleep(200);
      assert.equal(dms(p).length, 1, "a did not hear of it");
      a.sockets.get(sid)?.emit("dm", { n: 3 });
      await until(() => dms(p).length >= 3, "the next direct messages", 10_000).catch(() => {});
      await sleep(200);
      assert.deepEqual(p.gaps, []);
      assert.deepEqual(
        dms(p).map((x) => [x.seq, (x.data as { n: number }).n]),
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        "the hole was filled before the next message",
      );
    });

    it(`${mode}: a half-open socket of a session resumed on another node is closed there, and the session lives on`, async () => {
      const prefix = `x3${mode}`;
      const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded);
      const oldClosed = once(p.ws, "close");
      // The client moved to b; its connection to a still looks open to a (no close, no heartbeat).
      const q = env.x.clone(p, b.url);
      await q.connect();
      assert.equal(q.sid, sid, "resumed on b with the same id");
      const [code, reason] = (await Promise.race([
        oldClosed,
        sleep(10_000, undefined, { ref: false }).then(() => [0, Buffer.from("still open after 10 s")]),
      ])) as [number, Buffer];
      assert.deepEqual([code, reason.toString()], [1001, "resumed elsewhere"], "node a closed its half-open socket");
      await until(() => a.closes.includes(sid), "onClose on node a");
      await sleep(300); // whatever a's close writes has reached Redis
      // The session on b is untouched: its record is there, attached (no detach), and it keeps working.
      assert.equal(await env.admin.exists(layoutOf(prefix).hash(sid)), 1, "the session record is still there");
      b.view?.to("r").emit("message", { n: 1 });
      await q.next((f) => f[0] === 4 && f[1] === "room:r", 10_000);
      a.server.sendTo(sid, dm(9));
      await q.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 9, 10_000);
      // And resumes again (the token b issued is valid): back on a.
      q.drop();
      await until(() => b.server.getSocket(sid) === undefined, "node b to see the connection gone");
      q.url = a.url;
      await q.connect();
      assert.equal(q.sid, sid);
      assert.deepEqual(q.gaps, []);
      assert.deepEqual([...a.expired, ...b.expired], [], "no onExpire");
    });

    it(`${mode}: a request running on the node of the half-open socket is answered once, on the other node, after that socket was closed`, async () => {
      const prefix = `x5${mode}`;
      const a = await env.x.startNode(prefix, sharded);
      const b = await env.x.startNode(prefix, sharded);
      const p = env.x.peer(a.url);
      await p.connect();
      const sid = p.sid as string;
      p.send([1, 1, "slow", { ms: 1_500 }]);
      await sleep(200); // the run is marked running in the session hash
      const oldClosed = once(p.ws, "close");
      const q = env.x.clone(p, b.url);
      await q.connect();
      const [code] = (await Promise.race([oldClosed, sleep(10_000, undefined, { ref: false }).then(() => [0])])) as [number];
      assert.equal(code, 1001, "node a closed its half-open socket while the request still ran there");
      assert.equal(a.runs, 0, "still running");
      q.send([1, 1, "slow", { ms: 1_500 }]); // the client's retry, same id
      const reply = await q.next((f) => f[0] === 2 || f[0] === 3, 15_000);
      assert.deepEqual(reply, [2, 1, 1], "answered with a's run");
      await sleep(300);
      assert.equal(a.runs + b.runs, 1, `ran on a ${a.runs}, on b ${b.runs} time(s)`);
      assert.equal(q.frames.filter((f) => f[0] === 2 || f[0] === 3).length, 1, "one answer");
      assert.equal(await env.admin.exists(layoutOf(prefix).hash(sid)), 1, "the session lives on");
    });
  }
});
