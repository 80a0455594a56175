// A hole in a connected session's inbox that cannot be read, on a real Redis (both adapter modes):
// the node that holds the session hears of direct message 3 while it handed over only 1, so it reads
// 2 from history first; that read fails (here: Redis hands back an entry the node cannot parse, a
// fault put into the inbox by the test). Rather than skip 2 or wait for good, the node closes the
// socket with 1011 "inbox read failed" and keeps the session, so that the client resumes; once the
// inbox can be read again, the resume replays 2 and 3, once and in order, with no gap.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { inboxStream, pushBody } from "../src/resume/history-log.js";
import { crossNodesSuite, dm, dms, layoutOf } from "./helpers/cross-nodes.js";
import { appendUnparsable, mendUnparsable } from "./helpers/unparsable-entry.js";
import { until } from "./helpers.js";

describe("an inbox hole that cannot be read (real Redis)", { timeout: 60_000 }, () => {
  const env = crossNodesSuite();

  for (const sharded of [false, true]) {
    const mode = sharded ? "sharded" : "classic";

    it(`${mode}: the socket is closed 1011 "inbox read failed", the session kept, and its resume replays the hole once, in order`, async () => {
      const prefix = `ir${mode}`;
      // A long ttl: the periodic inbox check (every ttl / 3) does not come into it.
      const { a, b, p, sid } = await env.x.sessionOnA(prefix, sharded, { ttl: 120_000 });
      a.sockets.get(sid)?.emit("dm", { n: 1 });
      await p.next((f) => f[0] === 4 && f[1] === `inbox:${sid}`);

      // Direct message 2, appended as a node whose notice reached nobody would, but with an except
      // list that is not JSON: every read of the inbox past seq 1 fails until the test mends it.
      const base = layoutOf(prefix).stream(inboxStream(sid));
      await appendUnparsable(env.admin, base, 2, pushBody("dm", { n: 2 }));

      const closed = once(p.ws, "close") as Promise<[number, Buffer]>;
      b.server.sendTo(sid, dm(3)); // seq 3: a hears of it and must read 2 first
      const [code, reason] = await closed;
      assert.deepEqual([code, reason.toString()], [1011, "inbox read failed"]);
      assert.deepEqual(
        dms(p).map((m) => m.seq),
        [1],
        "nothing past the hole was written",
      );

      // The inbox readable again: the same entries, without the bad field.
      assert.deepEqual(await mendUnparsable(env.admin, base), ["1-1", "2-1", "3-1"], "3 was kept in the inbox");

      const q = env.x.clone(p, b.url);
      await q.connect();
      assert.equal(q.sid, sid, "resumed: the session was kept");
      await until(() => dms(q).length >= 2, "the hole and what followed it, replayed");
      assert.deepEqual(
        dms(q).map((m) => [m.seq, (m.data as { n: number }).n]),
        [
          [2, 2],
          [3, 3],
        ],
      );
      assert.deepEqual(q.gaps, []);
      assert.deepEqual(a.expired, [], "no onExpire: the session did not end");
    });
  }
});
