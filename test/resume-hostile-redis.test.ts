// Resumable sessions attacked from outside where the Redis stores matter (two nodes on one real
// Redis, both adapter modes, raw protocol peers): resumes racing with one token on two nodes,
// forged tokens, a replay whose history read fails. One node in memory: resume-hostile.test.ts.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket } from "ws";
import { inboxStream, pushBody } from "../src/resume/history-log.js";
import { crossNodesSuite, dm, dms, layoutOf, type XNode } from "./helpers/cross-nodes.js";
import { RedisProxy } from "./helpers/redis-proxy.js";
import type { ResumePeer } from "./helpers/resume-peer.js";
import { appendUnparsable } from "./helpers/unparsable-entry.js";
import { until } from "./helpers.js";

describe("hostile clients of resumable sessions (two nodes, real Redis)", { timeout: 60_000 }, () => {
  const env = crossNodesSuite();

  /** A session on node a, its connection dropped, and one direct message kept for it while away. */
  async function awayWithOneDm(prefix: string, sharded = false) {
    const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded);
    p.drop();
    await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
    a.server.sendTo(sid, dm(1));
    await env.x.numbered(prefix, sid, 1);
    return { a, b, p, sid };
  }

  /** `p` resumes session `sid` at `url` with the token it holds, and gets the direct message it missed, once. */
  async function resumesWithTheDm(p: ResumePeer, url: string, sid: string): Promise<void> {
    p.url = url;
    await p.connect();
    assert.equal(p.sid, sid, "resumed with the token the earlier upgrade offered");
    assert.deepEqual(p.gaps, []);
    assert.deepEqual(
      dms(p).map((x) => (x.data as { n: number }).n),
      [1],
      "what it missed, once",
    );
  }

  for (const sharded of [false, true]) {
    const mode = sharded ? "sharded" : "classic";
    it(`${mode}: two resumes racing with one token on two nodes: one connection holds the session at the end, with what it missed once; the other was closed 'resumed elsewhere' or started fresh`, async () => {
      const { a, b, p, sid } = await env.x.sessionOnA(`race${mode}`, sharded);
      p.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
      a.view?.to("r").emit("message", { n: 1 });
      b.server.sendTo(sid, dm(1));
      await env.x.numbered(`race${mode}`, sid, 1);
      const racers = [env.x.clone(p, a.url), env.x.clone(p, b.url)];
      // The token that took the session stays good until its client confirms the next one: the
      // later take may win (closing the first), or find the token retired.
      await Promise.allSettled(racers.map((r) => r.connect()));
      await until(() => racers.filter((r) => r.closed === undefined && r.sid === sid).length === 1, "one holder", 20_000);
      const winner = racers.find((r) => r.closed === undefined && r.sid === sid) as ResumePeer;
      const loser = racers.find((r) => r !== winner) as ResumePeer;
      assert.deepEqual(
        winner.pushes.map((x) => [x.stream, x.data]),
        [
          ["room:r", { n: 1 }],
          [`inbox:${sid}`, { n: 1 }],
        ],
        "the winner: the room and the direct message it missed, once",
      );
      assert.deepEqual(winner.gaps, []);
      const [winnerNode, loserNode] = winner === racers[0] ? [a, b] : [b, a];
      const fresh = loser.sid !== sid;
      if (!fresh) {
        await until(() => loser.closed?.[0] === 1001, "the loser closed: resumed elsewhere", 10_000);
        // Its node holds no socket of the session any more: one left there would get live messages too.
        await until(() => loserNode.server.getSocket(sid) === undefined, "the loser's node to let the session go", 10_000);
      } else {
        assert.deepEqual(loser.frames[0], [9, "gap", { reason: "expired" }]);
        assert.equal(loser.frames[1]?.[1], "welcome");
      }
      assert.equal(winnerNode.server.getSocket(sid)?.closed, false, "the winner's node holds the session");
      const before = loser.pushes.length;
      // Live from now on: the session's direct message reaches the winner only, once.
      a.server.sendTo(sid, dm(2));
      await winner.next((f) => f[0] === 4 && (f[4] as { n: number }).n === 2, 10_000);
      await sleep(100);
      assert.deepEqual(
        dms(winner).map((x) => x.seq),
        [1, 2],
      );
      // A loser that started fresh is still connected, with a session of its own.
      if (fresh) assert.equal(loser.pushes.length, before, "the loser's fresh session gets nothing of the session");
    });

    it(`${mode}: a late take on node a of the token a client resumed with on node b, before its confirm landed, costs nothing: the client resumes with that token, offered after its newer one`, async () => {
      const { a, b, p, sid } = await awayWithOneDm(`late${mode}`, sharded);
      p.url = b.url;
      p.confirms = false; // the late take lands before the confirm would
      await p.connect();
      assert.equal(p.sid, sid);
      const late = env.x.clone(p, a.url);
      late.token = p.fallback; // an older upgrade with the token p resumed with, its TCP dead by the time it is answered
      late.fallback = undefined;
      late.confirms = false;
      await late.connect();
      assert.equal(late.sid, sid, "the late upgrade took the session");
      await until(() => p.closed?.[0] === 1001, "p closed: resumed elsewhere", 10_000);
      late.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the late upgrade gone");
      b.server.sendTo(sid, dm(2));
      await env.x.numbered(`late${mode}`, sid, 2);
      p.confirms = true;
      await p.connect(); // its newer token was rotated away by the late take; the one it resumed with takes the session
      assert.equal(p.sid, sid, "resumed, not a fresh session");
      assert.deepEqual(p.gaps, [], "nothing lost");
      assert.deepEqual(
        dms(p).map((x) => (x.data as { n: number }).n),
        [1, 2],
        "what it missed, once, in order",
      );
    });

    for (const halfOpen of [false, true]) {
      it(`${mode}: a take whose answer comes after another node's take of the same token and that node's moved notice${halfOpen ? " (node a still holding the session on a half-open connection)" : ""}: the socket made for it is closed 'resumed elsewhere' at once, not left open until the lease renewal`, async () => {
        const proxy = await RedisProxy.start(Number(env.admin.options.port));
        let nodeA: XNode | undefined;
        try {
          const prefix = `early${mode}`;
          // Node a talks to Redis through the proxy: its command replies can be held while its notices flow.
          const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded, { redisPort: proxy.port });
          nodeA = a;
          if (halfOpen) {
            // Node a still holds the session on the client's old connection, whose TCP died unnoticed.
            (p.ws as unknown as { _socket: { pause(): void } })._socket.pause();
          } else {
            p.drop();
            await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
          }
          const hash = layoutOf(prefix).hash(sid);
          const generation = async () => Number(await env.admin.hget(hash, "g"));
          const before = await generation();
          proxy.hold();
          const first = env.x.clone(p, a.url);
          first.confirms = false;
          void first.connect().catch(() => {}); // node a's take: a read, then the script; the script's answer is held
          // Replies held before a read of the generation that shows no take yet cannot be the script's: let those through.
          for (let tries = 0; ; tries++) {
            const mark = proxy.mark();
            if ((await generation()) !== before) break;
            assert.ok(tries < 500, "node a's take to run in Redis");
            proxy.releaseBefore(mark);
            await sleep(10);
          }
          const second = env.x.clone(p, b.url);
          second.confirms = false;
          await second.connect(); // the same token on node b (still good: no confirm yet); node a is told the session moved
          assert.equal(second.sid, sid);
          await until(() => proxy.delivered(`${before + 2}:${sid}`), "the moved notice to reach node a's subscriber");
          await sleep(50); // and node a to read it
          assert.ok(!a.server.getSocket(sid) || a.server.getSocket(sid)?.closed, "node a holds no open socket of the session now");
          proxy.release();
          await until(() => first.closed !== undefined, "node a's socket for the older take to close", 4000);
          assert.deepEqual(first.closed, [1001, "resumed elsewhere"]);
          await until(() => a.server.getSocket(sid) === undefined, "node a to let the session go", 4000);
          assert.equal(b.server.getSocket(sid)?.closed, false, "node b holds the session");
          assert.equal(second.closed, undefined);
          if (halfOpen) p.drop(); // or node a's shutdown waits out closeTimeout for the paused connection
        } finally {
          proxy.release();
          await nodeA?.server.close(); // before its Redis links are cut, so that nothing waits on them
          await proxy.close();
        }
      });
    }

    it(`${mode}: a resume on node b interrupted before \`resumed\` reached the client leaves its token good: the client resumes on node a with everything it missed, once`, async () => {
      const { a, b, p, sid } = await env.x.sessionOnA(`cut${mode}`, sharded);
      p.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
      a.server.sendTo(sid, dm(1));
      await env.x.numbered(`cut${mode}`, sid, 1);
      const cut = new WebSocket(b.url, ["tsws.v1", `tsws-resume.${p.token}`]);
      cut.on("error", () => {});
      await once(cut, "open"); // node b waits for the positions before it replays and says `resumed`
      assert.ok(b.server.getSocket(sid) !== undefined, "node b took the token");
      cut.terminate();
      await until(() => b.server.getSocket(sid) === undefined, "node b to see the interrupted resume gone");
      b.server.sendTo(sid, dm(2));
      await env.x.numbered(`cut${mode}`, sid, 2);
      p.url = a.url;
      await p.connect();
      assert.equal(p.sid, sid, "resumed with the token the interrupted resume took");
      assert.deepEqual(p.gaps, [], "nothing lost");
      assert.deepEqual(
        dms(p).map((x) => (x.data as { n: number }).n),
        [1, 2],
        "what it missed, once, in order",
      );
    });

    it(`${mode}: forged tokens (a 12,000-character sid, a sid of every token special character, the real sid with another secret) get gap expired and a fresh session; the real one still resumes`, async () => {
      const { a, b, p, sid } = await env.x.sessionOnA(`forged${mode}`, sharded);
      const secret = (p.token as string).slice(-22);
      const other = "Q".repeat(22);
      for (const token of [`${"s".repeat(12_000)}.${secret}`, `!#$%&'*+-.^_|~${sid}.${secret}`, `${sid}.${other}`]) {
        const forger = env.x.peer(b.url);
        forger.token = token;
        await forger.connect();
        assert.deepEqual(forger.frames[0], [9, "gap", { reason: "expired" }]);
        assert.notEqual(forger.sid, sid);
        assert.deepEqual(forger.pushes, []);
      }
      p.drop();
      await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
      a.server.sendTo(sid, dm(1));
      await env.x.numbered(`forged${mode}`, sid, 1);
      p.url = b.url;
      await p.connect();
      assert.equal(p.sid, sid, "the real token still resumes");
      assert.deepEqual(
        dms(p).map((x) => x.seq),
        [1],
      );
    });
  }

  it("classic: a take Redis cannot answer in time (stalled) is refused 503 with Retry-After, the token unspent: it resumes the session once Redis answers", async () => {
    const prefix = "sdclassic";
    const { p, sid } = await awayWithOneDm(prefix);
    const b = await env.x.startNode(prefix, false, { commandTimeout: 200 });
    // Redis answers nobody for 800 ms: node b's take times out after 200.
    await env.admin.call("CLIENT", "PAUSE", "800", "ALL");
    const ws = new WebSocket(b.url, ["tsws.v1", `tsws-resume.${p.token}`]);
    ws.on("error", () => {});
    const [, res] = (await once(ws, "unexpected-response", { signal: AbortSignal.timeout(5000) })) as [unknown, IncomingMessage];
    assert.deepEqual([res.statusCode, res.headers["retry-after"]], [503, "1"]);
    ws.terminate();
    await sleep(800);
    await resumesWithTheDm(p, b.url, sid);
  });

  it("classic: a take Redis answers with an error retrying cannot clear (a session key of the wrong type) starts a fresh session at once, not 503 for ever", async () => {
    const prefix = "wtclassic";
    const { a, b, p, sid } = await env.x.sessionOnA(prefix, false);
    p.drop();
    await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
    await env.admin.set(layoutOf(prefix).hash(sid), "not a hash"); // the take's first read: WRONGTYPE
    p.url = b.url;
    await p.connect();
    assert.notEqual(p.sid, sid, "a fresh session");
    assert.deepEqual(p.gaps, [{ reason: "expired" }]);
  });

  it("classic: a take that answers after its client left (Redis stalled) gives the session back: the same token resumes it", async () => {
    const { b, p, sid } = await awayWithOneDm("stclassic");
    // Redis answers nobody for 600 ms: the take waits, and its client gives up after 100.
    await env.admin.call("CLIENT", "PAUSE", "600", "ALL");
    const ws = new WebSocket(b.url, ["tsws.v1", `tsws-resume.${p.token}`]);
    ws.on("error", () => {});
    setTimeout(() => ws.terminate(), 100);
    await sleep(900); // the take has answered, for an upgrade that is gone
    await resumesWithTheDm(p, b.url, sid);
  });

  it(`classic: a resume whose replay cannot be read closes 1011 "resume failed" with the session kept, its token retired (no resume loop): its window ends with onExpire, once`, async () => {
    const prefix = "rfclassic";
    const { a, b, p, sid } = await env.x.sessionOnA(prefix, false, { ttl: 1000 });
    a.sockets.get(sid)?.emit("dm", { n: 1 });
    await p.next((f) => f[0] === 4 && f[1] === `inbox:${sid}`);
    p.drop();
    await until(() => a.server.getSocket(sid) === undefined, "node a to see the connection gone");
    // The inbox holds an entry no node can parse: the replay's read of it fails.
    await appendUnparsable(env.admin, layoutOf(prefix).stream(inboxStream(sid)), 2, pushBody("dm", { n: 2 }));
    p.url = b.url;
    void p.connect().catch(() => {}); // no welcome nor resumed comes
    const [code, reason] = (await once(p.ws, "close", { signal: AbortSignal.timeout(5000) })) as [number, Buffer];
    assert.deepEqual([code, reason.toString()], [1011, "resume failed"]);
    // What a client does after a 1011: resume again with the token it holds. A replay that would
    // fail again each time must not loop: that token was retired, so the retry starts fresh.
    const retry = env.x.clone(p, b.url);
    await retry.connect();
    assert.deepEqual(retry.frames[0], [9, "gap", { reason: "expired" }], "the token it resumed with was retired");
    assert.notEqual(retry.sid, sid);
    retry.close();
    await until(() => [...a.expired, ...b.expired].includes(sid), "onExpire of the session", 5000);
    await sleep(300);
    assert.deepEqual(
      [...a.expired, ...b.expired].filter((x) => x === sid),
      [sid],
      "once",
    );
  });
});
