// tswebsockets/client with `{ resume: true }` against a real resumable server on loopback (in-memory
// history and sessions), with ws' WebSocket: a connection the server gives up on (terminated as on
// a heartbeat timeout) or whose TCP socket vanishes comes back with its id, gets every missed room
// and direct message once and in order, and its request in flight is answered once; trimmed
// history gives a `gap`; a restarted server (in-memory stores) gives gap "expired" and a fresh
// session; random outages while a room is broadcast to lose nothing a gap does not report.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { WebSocket } from "ws";
import { RequestError } from "../src/client/index.js";
import { cut, made, type Node, range, resumer, settled, startNode } from "./helpers/resume-client.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { until } from "./helpers.js";

after(async () => {
  for (const c of made.clients) c.close();
  await Promise.all(made.nodes.map((n) => n.server.close()));
});

/** A resuming client on `node` (over `Link`) that joined room "r" and received its message 0. */
async function heardFirst(node: Node, Link: new (address: string, protocols?: string | string[]) => WebSocket) {
  const c = resumer(node.url, { WebSocket: Link as unknown as typeof WebSocket });
  await settled(c);
  await c.request("join", { room: "r" });
  node.say("r", 0);
  await until(() => c.got.messages.length === 1, "the first message");
  return c;
}

describe("tswebsockets/client with resume", () => {
  it("comes back after the server dropped it: same id, every missed room and direct message once, in order; the request in flight answered once", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    const c = resumer(node.url);
    await settled(c);
    const id = c.id;
    assert.equal(c.resumed, false);
    await c.request("join", { room: "r1" });
    node.say("r1", 0);
    await until(() => c.got.messages.length === 1, "the first message");

    const answer = c.request("slow", { ms: 150 });
    await new Promise((r) => setTimeout(r, 30)); // on its way, or running: either way unanswered
    cut(node, c);
    // Sent the same turn: the socket is gone, so these are missed on the wire and must be replayed.
    for (let i = 1; i <= 5; i++) node.say("r1", i);
    node.sockets.get(id as string)?.emit("dm", { text: "while away" });

    assert.equal(await answer, 1, "the reply of the first (and only) run");
    await settled(c);
    for (let i = 6; i <= 7; i++) node.say("r1", i);
    node.sockets.get(id as string)?.emit("dm", { text: "after the resume" }); // the new socket object
    await until(() => c.got.messages.length >= 8 && c.got.dms.length >= 2, "everything");
    await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, range(0, 7), "every room message once, in order");
    assert.deepEqual(c.got.dms, ["while away", "after the resume"], "both direct messages once, in order");
    assert.deepEqual(c.got.gaps, []);
    assert.equal(node.runs, 1, "the handler ran once");
    assert.equal(c.id, id, "the same socket id");
    assert.equal(c.resumed, true);
    assert.ok(c.got.states.includes("reconnecting"), "it did reconnect");
    assert.deepEqual(node.connects.at(-1), { id, resumed: true, rooms: ["r1"] });
  });

  it("confirms the token each resume brings, so the token it resumed with resumes nothing after", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    const offered: string[] = []; // the tokens the client offered, as the server read them
    class Recording extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        for (const p of [protocols ?? []].flat()) if (p.startsWith("tsws-resume.")) offered.push(p.slice("tsws-resume.".length));
      }
    }
    const c = resumer(node.url, { WebSocket: Recording as unknown as typeof WebSocket });
    await settled(c);
    const id = c.id as string;
    await c.request("join", { room: "r" });
    cut(node, c);
    await until(() => c.state === "open" && node.connects.at(-1)?.resumed === true, "the client to resume");
    assert.equal(offered.length, 1);
    await c.request("join", { room: "r" }); // its confirm went before this request, on the same connection
    const thief = new ResumePeer(node.url);
    thief.token = offered[0];
    await thief.connect();
    assert.deepEqual(thief.frames[0], [9, "gap", { reason: "expired" }], "the token it resumed with is retired");
    assert.notEqual(thief.sid, id);
    assert.equal(node.server.getSocket(id)?.closed, false, "the client's connection is untouched");
    assert.equal(c.id, id);
    thief.close();
  });

  it("a resume cut off before `resumed` arrived costs nothing: the next one resumes with the same token, every message once, no gap", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    let cutNext = false;
    let cuts = 0;
    // The next connection is dropped as soon as it opens: the server has taken the token by then
    // (before its 101) and waits for the client's positions; `resumed` never reaches the client.
    class Cutting extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        if (!cutNext) return;
        cutNext = false;
        this.once("open", () => {
          cuts++;
          this.terminate();
        });
      }
    }
    const c = await heardFirst(node, Cutting);
    const id = c.id;
    cutNext = true;
    cut(node, c);
    node.say("r", 1);
    node.say("r", 2);
    await until(() => cuts === 1 && c.state === "open" && node.connects.at(-1)?.resumed === true, "the resume after the cut one");
    node.say("r", 3);
    await until(() => c.got.messages.length >= 4, "every message");
    await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, range(0, 3), "every room message once, in order");
    assert.deepEqual(c.got.gaps, [], "nothing lost");
    assert.equal(c.id, id, "the same session");
    assert.equal(
      node.connects.filter((x) => x.id === id && x.resumed).length,
      2,
      "two takes of the session: the cut one and the one that held",
    );
  });

  it("a late take of the token it resumed with, before its confirm landed, costs nothing, twice in a row: its next resume offers the token that took the session after its new one, every message once, no gap", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    const offers: string[][] = []; // the tokens each connection offered, in order
    let holdConfirms = false;
    class Recording extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        offers.push(
          [protocols ?? []]
            .flat()
            .filter((p) => p.startsWith("tsws-resume."))
            .map((p) => p.slice("tsws-resume.".length)),
        );
      }
      // A slow uplink: while held, a confirm has not reached the server when the late take lands (its link is closed by then).
      override send(data: string): void {
        if (data !== '[9,"confirm"]' || !holdConfirms) super.send(data);
      }
    }
    const c = await heardFirst(node, Recording);
    const id = c.id;
    /** An older upgrade offering `token` (its TCP connection dead by the time it is answered) takes the session from the client's link. */
    const lateTake = async (token: string | undefined): Promise<void> => {
      const late = new ResumePeer(node.url);
      late.token = token;
      late.confirms = false;
      const links = offers.length;
      await late.connect();
      assert.equal(late.sid, id, "the late upgrade took the session");
      late.drop();
      await until(() => offers.length > links, "the client to lose its link to the late take");
    };
    holdConfirms = true;
    cut(node, c);
    await until(() => c.state === "open" && node.connects.at(-1)?.resumed === true, "the first resume");
    const [first] = offers.at(-1) as string[];
    await lateTake(first);
    node.say("r", 1);
    await until(() => c.state === "open" && offers.length === 3, "the client's next connection");
    assert.deepEqual(c.got.gaps, [], "resumed, nothing lost");
    assert.equal(c.resumed, true);
    assert.equal(offers[2]?.[1], first, "its newer token first, then the one it resumed with");
    // Again, of the token that took the session this time (its second offer): it must stay the fallback.
    await lateTake(first);
    holdConfirms = false;
    node.say("r", 2);
    await until(() => c.state === "open" && offers.length === 4, "the client's connection after the second late take");
    assert.deepEqual(c.got.gaps, [], "resumed again, nothing lost");
    assert.equal(offers[3]?.[1], first, "the token that took the session, not the dead one it offered first");
    await until(() => c.got.messages.length >= 3, "the messages it missed");
    await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive by now
    assert.deepEqual(c.got.messages, range(0, 2), "every room message once, in order");
    assert.equal(c.id, id, "the same session");
  });

  it("reports open once the welcome arrived: id is set by then", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    const c = resumer(node.url);
    let idAtOpen: string | undefined | null = null; // null: not open yet
    c.on("state", (s) => s === "open" && idAtOpen === null && (idAtOpen = c.id));
    await until(() => idAtOpen !== null, "the client to report open");
    assert.equal(typeof idAtOpen, "string");
    assert.equal(idAtOpen, node.connects.at(-1)?.id);
  });

  it("against a server without resume: a token offered there gets gap 'expired' after waitMs, then the client goes on as a fresh connection (no hang)", async () => {
    const on = await startNode({ ttl: 10_000, history: { size: 100 } });
    const c = resumer(on.url, { resume: { waitMs: 300 } });
    await settled(c);
    await on.server.close();
    const off = await startNode(undefined, on.port); // the same port, resume off: a rollback
    const opened = Date.now();
    await until(() => c.got.gaps.length === 1 && c.state === "open", "gap, then open", 5000);
    assert.deepEqual(c.got.gaps, [{ reason: "expired" }], "told its session is gone");
    assert.equal(c.id, undefined, "no session id from a server without resume");
    assert.ok(Date.now() - opened < 4000, "not stuck reconnecting");
    assert.equal(await c.request("join", { room: "r" }), null, "and requests work");
    // A fresh client there waits waitMs for a welcome that never comes, then opens without a gap.
    const fresh = resumer(off.url, { resume: { waitMs: 300 } });
    await until(() => fresh.state === "open", "the fresh client open", 5000);
    assert.deepEqual(fresh.got.gaps, []);
    assert.equal(await fresh.request("join", { room: "r" }), null);
  });

  it("resumes after its TCP connection vanished (no close frame either way) and a retried request is not run twice", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 100 } });
    const links: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols);
        links.push(this);
      }
    }
    const c = resumer(node.url, { WebSocket: Tracked });
    await settled(c);
    await c.request("join", { room: "r2" });
    const answer = c.request("slow", { ms: 200 });
    await new Promise((r) => setTimeout(r, 50));
    (links.at(-1) as unknown as { _socket: { destroy(): void } })._socket.destroy();
    for (let i = 0; i < 3; i++) node.say("r2", i);
    assert.equal(await answer, 1);
    await settled(c);
    assert.equal(links.length, 2, "one reconnect");
    assert.match(String(links[1]?.protocol), /^tsws\.v1$/, "the server selects tsws.v1 only");
    await until(() => c.got.messages.length === 3, "the missed messages");
    assert.deepEqual(c.got.messages, [0, 1, 2]);
    assert.equal(node.runs, 1);
    assert.equal(c.resumed, true);
  });

  it("reports a trimmed gap for what history no longer holds, then replays the rest", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 5 } });
    const c = resumer(node.url);
    await settled(c);
    await c.request("join", { room: "r3" });
    node.say("r3", 0); // seq 1
    await until(() => c.got.messages.length === 1, "the first message");
    cut(node, c);
    for (let i = 1; i <= 20; i++) node.say("r3", i); // seqs 2..21; history keeps 17..21
    await until(() => c.got.messages.length === 6, "the replay");
    await settled(c);
    assert.deepEqual(c.got.gaps, [{ stream: "room:r3", reason: "trimmed", from: 2, to: 16, epoch: c.got.gaps[0]?.epoch }]);
    assert.equal(typeof c.got.gaps[0]?.epoch, "string");
    assert.deepEqual(c.got.messages, [0, 16, 17, 18, 19, 20]);
    node.say("r3", 21);
    await until(() => c.got.messages.length === 7, "a live one after the replay");
    assert.equal(c.got.messages[6], 21);
  });

  it("after a restart of a one-node server (sessions in memory), gets gap expired, a fresh id, and its request in flight rejects DISCONNECTED", async () => {
    const first = await startNode({ ttl: 10_000 });
    const c = resumer(first.url);
    await settled(c);
    const id = c.id;
    const answer = c.request("slow", { ms: 300 }).catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 50));
    const closing = first.server.close();
    await until(() => c.state === "reconnecting", "the client to notice");
    await closing;
    const second = await startNode({ ttl: 10_000 }, first.port);
    await until(() => c.got.gaps.length === 1 && c.state === "open", "the fresh session");
    assert.deepEqual(c.got.gaps, [{ reason: "expired" }]);
    assert.notEqual(c.id, id);
    assert.equal(c.resumed, false);
    const error = await answer;
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, "DISCONNECTED");
    assert.equal(second.runs, 0, "not sent again to a session that cannot know it");
    assert.deepEqual(second.connects.at(-1), { id: c.id, resumed: false, rooms: [] });
  });

  it("property: with random outages while a history room is broadcast to, received = sent minus what gaps reported, no duplicates", async () => {
    const node = await startNode({ ttl: 30_000, history: { size: 8 } });
    const RUNS = 25;
    let runs = 0;
    let outages = 0;
    let gapped = 0;
    // An outage is the server dropping the connection (as on a heartbeat timeout) or the client's
    // TCP socket vanishing (the server sees the peer go).
    type Step = { type: "send"; count: number } | { type: "cut"; by: "server" | "network" } | { type: "wait"; ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ type: fc.constant("send" as const), count: fc.integer({ min: 1, max: 12 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({ type: fc.constant("cut" as const), by: fc.constantFrom("server" as const, "network" as const) }),
      },
      { weight: 2, arbitrary: fc.record({ type: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const room = `p${runs++}`;
        const links: WebSocket[] = [];
        class Tracked extends WebSocket {
          constructor(url: string, protocols: string[]) {
            super(url, protocols);
            links.push(this);
          }
        }
        const c = resumer(node.url, { WebSocket: Tracked, reconnect: { baseMs: 20, maxMs: 60 } });
        await settled(c);
        await c.request("join", { room });
        let sent = 0;
        // One message first, so that every outage starts from a position the client knows (a room
        // it never heard from has its own test below).
        node.say(room, sent++);
        await until(() => c.got.messages.length === 1, "the first message");
        for (const s of steps) {
          if (s.type === "send") for (let k = 0; k < s.count; k++) node.say(room, sent++);
          else if (s.type === "wait") await new Promise((r) => setTimeout(r, s.ms));
          else {
            // Cut only an established session: a resume cut after the server took its token
            // cannot resume again (docs/resume.md, "What it does not promise").
            await settled(c);
            const drops = c.got.states.filter((state) => state === "reconnecting").length;
            if (s.by === "server") cut(node, c);
            else (links.at(-1) as unknown as { _socket: { destroy(): void } })._socket.destroy();
            outages++;
            await until(() => c.got.states.filter((state) => state === "reconnecting").length > drops, "the client to notice");
          }
        }
        await settled(c);
        node.say(room, sent++); // a last one, live: once it is in, everything before it was settled
        const lost = (i: number) => c.got.gaps.some((g) => g.from !== undefined && g.to !== undefined && i + 1 >= g.from && i + 1 <= g.to);
        await until(() => c.got.messages.at(-1) === sent - 1, "the last message");
        c.close();
        const expected = range(0, sent - 1).filter((i) => !lost(i));
        assert.deepEqual(c.got.messages, expected, "received = sent minus the gaps, in order, once");
        for (const g of c.got.gaps) {
          assert.equal(g.stream, `room:${room}`);
          assert.equal(g.reason, "trimmed");
        }
        gapped += c.got.gaps.length;
      }),
      { numRuns: RUNS },
    );
    console.log(`client resume property: ${RUNS} runs, ${outages} outages, ${gapped} gaps reported`);
    assert.ok(outages > 0, "some outages happened");
  });

  // Two server-side holes the client's tests found, now mended: both messages were kept in history
  // but came only with the *next* resume.
  it("delivers a direct message that a handler emits on the old socket object after the client resumed", async () => {
    const node = await startNode({ ttl: 10_000 });
    const c = resumer(node.url);
    await settled(c);
    const answer = c.request("slow", { ms: 300, dm: "done" });
    await new Promise((r) => setTimeout(r, 30));
    cut(node, c);
    await answer; // the retried request waited for the first run, which emitted "done" on the old socket
    await until(() => c.got.dms.length === 1, "the direct message", 2000);
    assert.deepEqual(c.got.dms, ["done"]);
  });

  it("reports a gap for what it lost of a room it had not heard from yet", async () => {
    const node = await startNode({ ttl: 10_000, history: { size: 3 } });
    const c = resumer(node.url);
    await settled(c);
    await c.request("join", { room: "quiet" });
    cut(node, c);
    for (let i = 0; i < 6; i++) node.say("quiet", i); // history keeps the last 3
    await until(() => c.got.states.includes("reconnecting"), "the client to notice");
    await settled(c);
    node.say("quiet", 6);
    await until(() => c.got.messages.includes(6), "the live message");
    const lost = c.got.gaps.flatMap((g) => range((g.from ?? 1) - 1, (g.to ?? 0) - 1));
    assert.deepEqual([...lost, ...c.got.messages].sort(), range(0, 6), `received ${c.got.messages}, gaps ${JSON.stringify(c.got.gaps)}`);
  });
});
