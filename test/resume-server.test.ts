// Resumable sessions on one node (in-memory history and sessions), end to end over real TCP with a
// raw `ws` client speaking the protocol (test/helpers/resume-peer.ts): welcome, resume with the same
// id, rooms and data, missed room and direct messages replayed once and in order before live ones,
// retried requests answered from the reply cache, gap "expired" first for an unknown token,
// `onExpire` once, the app's middleware deciding the owner.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import { createServer, type EventSocket, events, HttpMiddlewareMixin, handle, Namespace, type Server } from "../src/index.js";
import { encodeEvent } from "../src/protocol/index.js";
import type { ExpiredSession } from "../src/resume/runtime.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { type LogLine, testLogger } from "./helpers/sessions.js";
import { start, until } from "./helpers.js";

const chat = defineContract({
  client: {
    join: request(z.object({ room: z.string() }), z.null()),
    say: request(z.object({ room: z.string(), text: z.string() }), z.object({ n: z.number() })),
    sayExcept: request(z.object({ room: z.string(), text: z.string(), except: z.string() }), z.null()),
    whisper: event(z.object({ to: z.string(), text: z.string() })),
    count: request(z.object({}), z.number()),
  },
  server: {
    message: event(z.object({ text: z.string() })),
    dm: event(z.object({ text: z.string() })),
  },
});

const connects: { id: string; resumed: boolean; rooms: string[]; data: unknown }[] = [];
const expired: ExpiredSession[] = [];
const closes: { id: string; reason: string | undefined; at: number }[] = [];
/** What the server logged. */
const logger = testLogger();
/** What the server logged at warn level: its fields (`obj`) and message (`msg`). */
const warnings = () => logger.lines.filter((l) => l.level === "warn") as (LogLine & { obj: Record<string, unknown> })[];
/** The namespace's server view (set by the first connection). */
let view: EventSocket<typeof chat>["server"] | undefined;
let runs = 0;

@Namespace("/chat")
class Chat extends events(chat, HttpMiddlewareMixin) {
  static onConnect(socket: EventSocket<typeof chat>) {
    view ??= socket.server;
    connects.push({ id: socket.id, resumed: socket.resumed, rooms: [...socket.rooms], data: { ...socket.data } });
    if (!socket.resumed) socket.data = { joinedAt: 1 };
  }
  static onClose(socket: EventSocket<typeof chat>) {
    closes.push({ id: socket.id, reason: socket.closeReason, at: Date.now() });
  }
  static onExpire(session: ExpiredSession) {
    expired.push(session);
  }
  static events = handle(chat, {
    join(socket, { room }) {
      socket.join(room);
      return null;
    },
    say(socket, { room, text }) {
      socket.server.to(room).emit("message", { text });
      return { n: ++runs };
    },
    sayExcept(socket, { room, text, except }) {
      socket.server.to(room).except(except).emit("message", { text });
      return null;
    },
    whisper(socket, { to, text }) {
      (socket.server.getSocket(to) as EventSocket<typeof chat> | undefined)?.emit("dm", { text });
    },
    async count() {
      await new Promise((r) => setTimeout(r, 200));
      return ++runs;
    },
  });
}

/** A second resumable namespace: a token of a /chat session presented here does not resume it. */
@Namespace("/lobby")
class Lobby extends events(chat) {}

// The "user" is the x-user header, set by the app's middleware: a resume must come from the same user.
// x-slow: the middleware answers 300 ms later (an async step, during which the client may give up).
const identify = (req: { headers: Record<string, unknown>; user?: unknown }, _res: unknown, next: () => void) => {
  if (typeof req.headers["x-user"] === "string") req.user = { id: req.headers["x-user"] };
  if (req.headers["x-slow"] === "1") setTimeout(next, 300);
  else next();
};

describe("resumable sessions on one node", () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer({
      handlers: [Chat, Lobby],
      host: "127.0.0.1",
      port: 0,
      middleware: [identify],
      resume: { ttl: 1000, history: { size: 50 } },
      closeTimeout: 500,
      logger,
    });
    url = `${await start(server)}/chat`;
  });
  after(() => server.close());

  it("validates the option in createServer", () => {
    assert.throws(() => createServer({ handlers: [Chat], resume: { ttl: 5 } }), /"resume.ttl" must be/);
    assert.throws(() => createServer({ handlers: [Chat], resume: { history: { size: 0 } } }), /"resume.history.size" must be/);
  });

  it("welcomes a fresh session, then resumes it with its id, rooms and data, replaying what it missed in order, once", async () => {
    const alice = new ResumePeer(url);
    await alice.connect({ headers: { "x-user": "alice" } });
    assert.ok(alice.sid && alice.token, "welcome carries sid and token");
    const bob = new ResumePeer(url);
    await bob.connect({ headers: { "x-user": "bob" } });
    alice.send([1, 1, "join", { room: "r1" }]);
    await alice.next((f) => f[0] === 2 && f[1] === 1);
    bob.send([1, 1, "say", { room: "r1", text: "one" }]);
    await alice.next((f) => f[0] === 4);
    const firstSeq = alice.seqs("room:r1")[0] as number;

    alice.drop(); // the network fails: no close frame
    await until(() => server.getSocket(alice.sid as string) === undefined, "the server to see alice gone");
    for (let i = 0; i < 5; i++) bob.send([1, 10 + i, "say", { room: "r1", text: `missed ${i}` }]);
    await bob.next((f) => f[0] === 2 && f[1] === 14);
    bob.send([0, "whisper", { to: alice.sid, text: "psst" }]); // to a socket that is away: not delivered now
    await new Promise((r) => setTimeout(r, 50));

    const before = connects.length;
    await alice.connect({ headers: { "x-user": "alice" } });
    const back = connects[before];
    assert.deepEqual(back, { id: alice.sid, resumed: true, rooms: ["r1"], data: { joinedAt: 1 } });
    const seqs = alice.seqs("room:r1");
    assert.deepEqual(seqs, [firstSeq, firstSeq + 1, firstSeq + 2, firstSeq + 3, firstSeq + 4, firstSeq + 5], "missed ones once, in order");
    assert.equal(alice.gaps.length, 0);
    // Live messages continue after the replay.
    bob.send([1, 20, "say", { room: "r1", text: "live" }]);
    await until(() => alice.seqs("room:r1").length === 7, "the live message");
    assert.equal(alice.seqs("room:r1")[6], firstSeq + 6);
    const resumed = alice.controls.findIndex((f) => f[1] === "resumed");
    const lastReplay = alice.frames.findIndex((f) => f[0] === 4 && f[2] === firstSeq + 5);
    assert.ok(lastReplay < alice.frames.indexOf(alice.controls[resumed] as unknown[]), "replay before the resumed frame");
    alice.close();
    bob.close();
  });

  it("replays a direct message that was in flight, and a retried request is answered from the cache", async () => {
    const carol = new ResumePeer(url);
    await carol.connect();
    const dave = new ResumePeer(url);
    await dave.connect();
    dave.send([0, "whisper", { to: carol.sid, text: "hello" }]);
    await carol.next((f) => f[0] === 4 && f[3] === "dm");
    assert.match(carol.pushes[0]?.stream ?? "", /^inbox:/);
    carol.send([1, 5, "count", {}]); // runs 200 ms
    carol.drop();
    await until(() => server.getSocket(carol.sid as string) === undefined, "carol gone");
    const runsBefore = runs;
    await new Promise((r) => setTimeout(r, 250)); // the request settles while carol is away
    await carol.connect();
    carol.send([1, 5, "count", {}]); // the retry of the same id
    const answer = await carol.next((f) => f[0] === 2 && f[1] === 5);
    assert.equal(answer[2], runsBefore + 1, "the first run's reply");
    assert.equal(runs, runsBefore + 1, "not run twice");
    carol.close();
    dave.close();
  });

  it("keeps sendTo event frames for a session that is away in its inbox and replays them once, in order; other data stays live only", async () => {
    const erin = new ResumePeer(url);
    await erin.connect();
    const sid = erin.sid as string;
    server.sendTo(sid, encodeEvent("dm", { text: "live" }));
    const live = await erin.next((f) => f[0] === 4 && f[1] === `inbox:${sid}`);
    assert.deepEqual(live.slice(3), ["dm", { text: "live" }], "numbered in the inbox while attached");
    server.sendTo(sid, '{"raw":1}'); // not an event frame: sent as it is
    await erin.next((f) => (f as unknown as { raw?: number }).raw === 1);

    erin.drop();
    await until(() => server.getSocket(sid) === undefined, "erin gone");
    server.sendTo(sid, encodeEvent("dm", { text: "away 1" }));
    server.sendTo(sid, '{"raw":2}'); // away: not kept (no number to replay it by)
    server.sendTo(sid, encodeEvent("dm", { text: "away 2" }));

    const pushesBefore = erin.pushes.length;
    await erin.connect();
    assert.equal(erin.sid, sid, "resumed");
    const replayed = erin.pushes.slice(pushesBefore);
    assert.deepEqual(
      replayed.map((p) => [p.stream, p.seq, p.data]),
      [
        [`inbox:${sid}`, (live[2] as number) + 1, { text: "away 1" }],
        [`inbox:${sid}`, (live[2] as number) + 2, { text: "away 2" }],
      ],
      "both kept, replayed once, in order, after the live one",
    );
    assert.equal(erin.gaps.length, 0);
    assert.ok(!erin.frames.some((f) => (f as unknown as { raw?: number }).raw === 2), "raw data sent while away is not replayed");
    // After the resume, direct messages are live again and continue the numbering.
    server.sendTo(sid, encodeEvent("dm", { text: "back" }));
    const back = await erin.next((f) => f[0] === 4 && (f[4] as { text?: string } | undefined)?.text === "back");
    assert.equal(back[2], (live[2] as number) + 3);
    erin.close();
  });

  it("replays an inbox from the seq its client tells without an epoch when the record holds no inbox position, and resets on a seq past the top", async () => {
    // The record holds no inbox position or start while the socket never had a direct message:
    // the client's word (a seq, no epoch: pushes carry none) is then the only start there is.
    const ivy = new ResumePeer(url);
    await ivy.connect();
    const sid = ivy.sid as string;
    ivy.drop();
    await until(() => server.getSocket(sid) === undefined, "ivy gone");
    for (const text of ["away 1", "away 2", "away 3"]) server.sendTo(sid, encodeEvent("dm", { text }));
    ivy.positions.set(`inbox:${sid}`, [1, undefined]);
    const before = ivy.pushes.length;
    await ivy.connect();
    assert.equal(ivy.sid, sid, "resumed");
    assert.deepEqual(
      ivy.pushes.slice(before).map((p) => [p.seq, p.data]),
      [
        [2, { text: "away 2" }],
        [3, { text: "away 3" }],
      ],
      "what follows the told seq, once, in order",
    );
    assert.equal(ivy.gaps.length, 0);

    // A seq past the inbox's top (an older numbering's, as after a lost inbox): a reset, then
    // everything the inbox holds, and live messages go on from its top.
    const jon = new ResumePeer(url);
    await jon.connect();
    const jonSid = jon.sid as string;
    jon.drop();
    await until(() => server.getSocket(jonSid) === undefined, "jon gone");
    for (const text of ["away 1", "away 2"]) server.sendTo(jonSid, encodeEvent("dm", { text }));
    jon.positions.set(`inbox:${jonSid}`, [5, undefined]);
    const jonBefore = jon.pushes.length;
    await jon.connect();
    assert.equal(jon.sid, jonSid, "resumed");
    assert.deepEqual(
      jon.gaps.map((g) => [g.stream, g.reason]),
      [[`inbox:${jonSid}`, "reset"]],
    );
    assert.deepEqual(
      jon.pushes.slice(jonBefore).map((p) => p.seq),
      [1, 2],
    );
    server.sendTo(jonSid, encodeEvent("dm", { text: "back" }));
    const back = await jon.next((f) => f[0] === 4 && (f[4] as { text?: string } | undefined)?.text === "back");
    assert.equal(back[2], 3, "a live message after the reset is delivered, not taken for a duplicate");
    ivy.close();
    jon.close();
  });

  it("does not replay a message to a socket its sender excepted, and counts its seq as seen", async () => {
    const gina = new ResumePeer(url);
    await gina.connect();
    const hank = new ResumePeer(url);
    await hank.connect();
    for (const peer of [gina, hank]) {
      peer.send([1, 1, "join", { room: "r3" }]);
      await peer.next((f) => f[0] === 2 && f[1] === 1);
    }
    hank.send([1, 2, "say", { room: "r3", text: "first" }]);
    const first = (await gina.next((f) => f[0] === 4 && f[1] === "room:r3"))[2] as number;

    gina.drop();
    await until(() => server.getSocket(gina.sid as string) === undefined, "gina gone");
    hank.send([1, 3, "sayExcept", { room: "r3", text: "not for gina", except: gina.sid }]);
    hank.send([1, 4, "say", { room: "r3", text: "for all" }]);
    await hank.next((f) => f[0] === 2 && f[1] === 4);
    assert.deepEqual(
      hank.pushes.filter((p) => p.stream === "room:r3").map((p) => (p.data as { text: string }).text),
      ["first", "not for gina", "for all"],
      "the others get it",
    );

    const pushesBefore = gina.pushes.length;
    await gina.connect();
    assert.deepEqual(
      gina.pushes.slice(pushesBefore).map((p) => [p.seq, (p.data as { text: string }).text]),
      [[first + 2, "for all"]],
      "the excepted message is passed over",
    );
    assert.equal(gina.gaps.length, 0, "passed over, not lost: no gap");
    hank.send([1, 5, "say", { room: "r3", text: "live" }]);
    const live = await gina.next((f) => f[0] === 4 && (f[4] as { text?: string } | undefined)?.text === "live");
    assert.equal(live[2], first + 3);
    assert.equal(gina.gaps.length, 0);
    gina.close();
    hank.close();
  });

  it("gives gap expired first and a fresh session for an unknown token, and for another user's token", async () => {
    const erin = new ResumePeer(url);
    erin.token = `${"0".repeat(36)}.${"A".repeat(22)}`;
    await erin.connect();
    assert.deepEqual(erin.frames[0], [9, "gap", { reason: "expired" }]);
    assert.equal(erin.frames[1]?.[1], "welcome");
    erin.close();

    const frank = new ResumePeer(url);
    await frank.connect({ headers: { "x-user": "frank" } });
    const sid = frank.sid;
    frank.drop();
    await until(() => server.getSocket(sid as string) === undefined, "frank gone");
    const mallory = new ResumePeer(url);
    mallory.token = frank.token;
    await mallory.connect({ headers: { "x-user": "mallory" } });
    assert.deepEqual(mallory.frames[0], [9, "gap", { reason: "expired" }]);
    assert.notEqual(mallory.sid, sid);
    mallory.close();
    // The token was not consumed by the refused attempt: frank still resumes.
    await frank.connect({ headers: { "x-user": "frank" } });
    assert.equal(frank.sid, sid);
    assert.equal(frank.controls.at(-1)?.[1], "resumed");
    frank.close();
  });

  it("of two offered tokens, tries the second only when the first is unknown: another user's first token ends the search, and a first that resumes leaves the second unspent", async () => {
    /** A dropped session of `user`: its peer, id and token. */
    const away = async (user: string) => {
      const peer = new ResumePeer(url);
      await peer.connect({ headers: { "x-user": user } });
      const sid = peer.sid as string;
      peer.drop();
      await until(() => server.getSocket(sid) === undefined, `${user} gone`);
      return { peer, sid, token: peer.token };
    };
    const gina = await away("gina");
    const hank = await away("hank");
    // Hank offers gina's token first, then his own: refused for another user, his own not tried.
    const both = new ResumePeer(url);
    both.token = gina.token;
    both.fallback = hank.token;
    await both.connect({ headers: { "x-user": "hank" } });
    assert.deepEqual(both.frames[0], [9, "gap", { reason: "expired" }]);
    assert.ok(both.sid !== gina.sid && both.sid !== hank.sid, "a fresh session");
    both.close();
    // His own token was not spent: it resumes his session. Then gina's first token takes hers, her
    // second (hank's new one, offered by hand) is left alone.
    await hank.peer.connect({ headers: { "x-user": "hank" } });
    assert.equal(hank.peer.sid, hank.sid);
    hank.peer.drop();
    await until(() => server.getSocket(hank.sid) === undefined, "hank gone again");
    gina.peer.fallback = hank.peer.token;
    await gina.peer.connect({ headers: { "x-user": "gina" } });
    assert.equal(gina.peer.sid, gina.sid);
    assert.equal(gina.peer.controls.at(-1)?.[1], "resumed");
    assert.equal((gina.peer.controls.at(-1)?.[2] as { via?: number } | undefined)?.via, undefined, "resumed by the first token");
    await hank.peer.connect({ headers: { "x-user": "hank" } });
    assert.equal(hank.peer.sid, hank.sid, "the second token offered beside a good first one is still good");
    gina.peer.close();
    hank.peer.close();
  });

  it("lets a session whose token was presented on another path expire (gap there, onExpire once here)", async () => {
    const ivy = new ResumePeer(url);
    await ivy.connect();
    const sid = ivy.sid;
    ivy.drop();
    await until(() => server.getSocket(sid as string) === undefined, "the server to see ivy gone");
    ivy.url = url.replace(/\/chat$/, "/lobby");
    await ivy.connect();
    assert.deepEqual(
      ivy.frames.find((f) => f[1] === "gap"),
      [9, "gap", { reason: "expired" }],
    );
    assert.notEqual(ivy.sid, sid, "a fresh session on /lobby");
    const said = warnings().find((w) => w.obj.socket === sid);
    assert.match(said?.msg ?? "", /token was presented on another path; it is spent/, "the operator is told why");
    assert.deepEqual([said?.obj.path, said?.obj.sessionPath], ["/lobby", "/chat"]);
    // The token was consumed on /lobby, where it resumed nothing: the /chat session's window still ends.
    await until(() => expired.some((e) => e.id === sid), "onExpire of the /chat session", 5000);
    assert.equal(expired.filter((e) => e.id === sid).length, 1);
    ivy.close();
  });

  it("resumes a session whose old connection is still open (half-open): rooms and data set after the open carried over, the old socket closed", async () => {
    const before = connects.length;
    const old = new ResumePeer(url);
    await old.connect();
    old.send([1, 1, "join", { room: "late-room" }]);
    await old.next((f) => f[0] === 2 && f[1] === 1);
    let oldClosed: [number, string] | undefined;
    old.ws.once("close", (code, reason) => (oldClosed = [code, String(reason)]));
    const again = new ResumePeer(url);
    again.token = old.token;
    await again.connect(); // the old connection is still open: the store reads its record live
    assert.equal(again.sid, old.sid);
    assert.deepEqual(connects[before + 1], { id: old.sid, resumed: true, rooms: ["late-room"], data: { joinedAt: 1 } });
    await until(() => oldClosed !== undefined, "the old connection's close", 5000);
    assert.deepEqual(oldClosed, [1001, "resumed elsewhere"]);
    again.close();
  });

  it("terminates a replaced connection that does not finish its closing handshake after closeTimeout: its onClose says 'resumed elsewhere' and leaves the new socket in place", async () => {
    const old = new ResumePeer(url);
    await old.connect();
    const sid = old.sid as string;
    (old.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // it reads nothing more: no close frame back
    const again = new ResumePeer(url);
    again.token = old.token;
    const resumedAt = Date.now();
    await again.connect();
    await until(() => closes.some((c) => c.id === sid), "onClose of the replaced connection", 5000);
    const closed = closes.find((c) => c.id === sid);
    assert.equal(closed?.reason, "resumed elsewhere", "onClose can tell a replaced connection from a client that left");
    assert.ok((closed?.at ?? Infinity) - resumedAt < 4000, `onClose ${(closed?.at ?? 0) - resumedAt} ms after the resume (ws alone: 30 s)`);
    assert.equal(server.getSocket(sid)?.closed, false, "the resumed socket is still the one registered, open");
    again.send([1, 1, "join", { room: "after-replace" }]);
    assert.deepEqual(await again.next((f) => f[0] === 2 && f[1] === 1), [2, 1, null], "and it still works");
    again.close();
    old.ws.terminate();
  });

  it("numbers an emit to several rooms in each room's history, copies sharing one message id; warns once about raw frames, which go out live only", async () => {
    const kim = new ResumePeer(url);
    await kim.connect();
    kim.send([1, 1, "join", { room: "k1" }]);
    kim.send([1, 2, "join", { room: "k2" }]);
    await kim.next((f) => f[0] === 2 && f[1] === 2);
    for (let i = 0; i < 2; i++) {
      view
        ?.to("k1")
        .to("k2")
        .to("k1")
        .emit("message", { text: `both ${i}` });
      view?.to("k1").send(`[0,"message",{"text":"raw ${i}"}]`);
    }
    await until(() => kim.seqs("room:k1").length === 2 && kim.seqs("room:k2").length === 2, "two pushes in each room");
    await until(() => kim.frames.filter((f) => f[0] === 0).length === 2, "the two raw frames");
    await new Promise((r) => setTimeout(r, 100)); // a third copy would arrive by now
    const pushes = kim.frames.filter((f) => f[0] === 4);
    assert.deepEqual(
      pushes.map((f) => [f[1], (f[4] as { text: string }).text]),
      [
        ["room:k1", "both 0"],
        ["room:k2", "both 0"],
        ["room:k1", "both 1"],
        ["room:k2", "both 1"],
      ],
      "one copy per room (k1 named twice counts once), each numbered in its room",
    );
    const ids = pushes.map((f) => (f[5] as { id?: unknown } | undefined)?.id);
    assert.ok(
      ids.every((id) => typeof id === "string"),
      `each copy has a message id: ${JSON.stringify(ids)}`,
    );
    assert.equal(ids[0], ids[1], "the copies of one emit share it");
    assert.equal(ids[2], ids[3]);
    assert.notEqual(ids[0], ids[2], "two emits have two");
    const notKept = warnings().filter((w) => w.msg.includes("not kept in history"));
    assert.deepEqual(
      notKept.map((w) => w.obj.broadcast),
      ["to(...).send(), a raw frame"],
      "raw frames warned once, saying what to do instead",
    );
    assert.match(notKept[0]?.msg ?? "", /to\(room\)\.emit/);
    kim.close();
  });

  /** Offers `token` and drops the TCP connection once the 101 arrived: the token is taken, and `resumed` never reaches the client. */
  async function interruptedResume(token: string, sid: string): Promise<void> {
    const ws = new WebSocket(url, ["tsws.v1", `tsws-resume.${token}`]);
    ws.on("error", () => {});
    await once(ws, "open"); // the server waits for the client's positions before it replays and says `resumed`
    assert.ok(server.getSocket(sid) !== undefined, "the token was taken: the session's socket is made");
    ws.terminate();
    await until(() => server.getSocket(sid) === undefined, "the server to see the interrupted resume gone");
  }

  it("a resume interrupted before `resumed` reached the client (the connection dropped) leaves its token good: the next resume replays everything missed, once, in order, without a gap", async () => {
    const jay = new ResumePeer(url);
    await jay.connect();
    jay.send([1, 1, "join", { room: "cut" }]);
    await jay.next((f) => f[0] === 2 && f[1] === 1);
    const sid = jay.sid as string;
    const say = (text: string) => view?.to("cut").emit("message", { text });
    say("heard");
    await until(() => jay.seqs("room:cut").length === 1, "the first message");
    jay.drop();
    await until(() => server.getSocket(sid) === undefined, "the server to see jay gone");
    say("missed 1");
    await interruptedResume(jay.token as string, sid);
    say("missed 2");
    const spent = jay.token;
    await jay.connect();
    assert.equal(jay.sid, sid, "resumed with the token the interrupted resume took");
    assert.deepEqual(jay.gaps, [], "nothing lost");
    assert.deepEqual(jay.seqs("room:cut"), [1, 2, 3], "what it missed, once, in order");
    assert.deepEqual(connects.at(-1)?.resumed, true);
    // The client confirmed the new token (ResumePeer does, as the bundled client): the old one is retired.
    jay.send([1, 2, "count", {}]);
    await jay.next((f) => f[0] === 2 && f[1] === 2); // the confirm went before it on the same connection
    const thief = new ResumePeer(url);
    thief.token = spent;
    await thief.connect();
    assert.deepEqual(thief.frames[0], [9, "gap", { reason: "expired" }], "a token whose successor was confirmed resumes nothing");
    assert.notEqual(thief.sid, sid);
    assert.equal(jay.closed, undefined, "the session's connection is untouched");
    say("live");
    await until(() => jay.seqs("room:cut").length === 4, "the live message");
    jay.close();
    thief.close();
  });

  it("a late take of the token a client resumed with (an older upgrade with it, answered after the client's newer connection resumed, before its confirm landed) costs the client nothing, twice in a row: it resumes with the token that took the session, offered after its newer one", async () => {
    const jay = new ResumePeer(url);
    await jay.connect();
    jay.send([1, 1, "join", { room: "late" }]);
    await jay.next((f) => f[0] === 2 && f[1] === 1);
    const sid = jay.sid as string;
    const say = (text: string) => view?.to("late").emit("message", { text });
    say("heard");
    await until(() => jay.seqs("room:late").length === 1, "the first message");
    /** An upgrade with `token` (its TCP dead by the time it is answered) takes the session from jay's open connection. */
    const lateTake = async (token: string | undefined): Promise<void> => {
      const late = new ResumePeer(url);
      late.token = token;
      late.confirms = false;
      await late.connect();
      assert.equal(late.sid, sid, "the late upgrade took the session");
      await until(() => jay.closed !== undefined, "the late take to close jay's connection", 5000);
      assert.deepEqual(jay.closed, [1001, "resumed elsewhere"]);
      late.drop();
      await until(() => server.getSocket(sid) === undefined, "the server to see the late upgrade gone");
    };
    const via = () => (jay.controls.at(-1)?.[2] as { via?: number } | undefined)?.via;
    jay.drop();
    await until(() => server.getSocket(sid) === undefined, "the server to see jay gone");
    const first = jay.token;
    jay.confirms = false; // each late take lands before the confirm would
    await jay.connect();
    await lateTake(first);
    say("missed 1");
    await jay.connect(); // its newer token was rotated away by the late take; the one it resumed with takes the session
    assert.equal(jay.sid, sid, "resumed, not a fresh session");
    assert.deepEqual(jay.gaps, [], "nothing lost");
    assert.deepEqual(jay.seqs("room:late"), [1, 2], "what it missed, once, in order");
    assert.equal(via(), 1, "resumed by its second token");
    assert.equal(jay.fallback, first, "its fallback is the token that took the session, not the dead one it offered first");
    // Again, of the token that took the session this time.
    await lateTake(first);
    say("missed 2");
    jay.confirms = true;
    await jay.connect();
    assert.equal(jay.sid, sid, "resumed again, not a fresh session");
    assert.deepEqual(jay.gaps, []);
    assert.deepEqual(jay.seqs("room:late"), [1, 2, 3]);
    assert.equal(via(), 1);
    jay.close();
  });

  /** A dropped session whose resume the client abandons during the app's 300 ms middleware, after 100 ms. */
  async function abandonedResume(): Promise<{ jay: ResumePeer; sid: string }> {
    const jay = new ResumePeer(url);
    await jay.connect();
    jay.send([1, 1, "join", { room: "jay-room" }]);
    await jay.next((f) => f[0] === 2 && f[1] === 1);
    const sid = jay.sid as string;
    jay.drop();
    await until(() => server.getSocket(sid) === undefined, "the server to see jay gone");
    const gone = new WebSocket(url, ["tsws.v1", `tsws-resume.${jay.token}`], { headers: { "x-slow": "1" } });
    gone.on("error", () => {});
    setTimeout(() => gone.terminate(), 100);
    return { jay, sid };
  }

  it("an upgrade abandoned during the app's middleware leaves the session to its token: the same token resumes it", async () => {
    // Nothing takes the token for an upgrade that is gone (a take already under way would give the session back).
    const { jay, sid } = await abandonedResume();
    await new Promise((r) => setTimeout(r, 400)); // the middleware has answered, for an upgrade that is gone
    await jay.connect();
    assert.equal(jay.sid, sid, "resumed with the token the abandoned upgrade offered");
    assert.equal(jay.controls.at(-1)?.[1], "resumed");
    assert.deepEqual(jay.gaps, []);
    assert.deepEqual(connects.at(-1), { id: sid, resumed: true, rooms: ["jay-room"], data: { joinedAt: 1 } });
    jay.close();
  });

  it("a session whose resume was abandoned during the app's middleware, never resumed, expires once (onExpire once)", async () => {
    const { sid } = await abandonedResume();
    await until(() => expired.some((e) => e.id === sid), "onExpire of the abandoned resume's session", 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(expired.filter((e) => e.id === sid).length, 1);
  });

  it("closes the old connection when its token is spent on another path, and lets the session expire once", async () => {
    const kim = new ResumePeer(url);
    await kim.connect();
    const sid = kim.sid as string;
    let kimClosed: [number, string] | undefined;
    kim.ws.once("close", (code, reason) => (kimClosed = [code, String(reason)]));
    const other = new ResumePeer(url.replace(/\/chat$/, "/lobby"));
    other.token = kim.token;
    await other.connect();
    assert.notEqual(other.sid, sid, "a fresh session on /lobby");
    // Spent on /lobby: the /chat connection no longer holds a session anyone can resume.
    await until(() => kimClosed !== undefined, "the /chat connection's close", 5000);
    assert.deepEqual(kimClosed, [1001, "resumed elsewhere"]);
    const again = kim.clone(url); // the token, offered on its own path now
    await again.connect();
    assert.deepEqual(again.frames[0], [9, "gap", { reason: "expired" }], "a token spent on another path is retired, not kept good");
    assert.notEqual(again.sid, sid);
    await until(() => expired.some((e) => e.id === sid), "onExpire of the /chat session", 5000);
    assert.equal(expired.filter((e) => e.id === sid).length, 1);
    other.close();
    again.close();
  });

  it("ends the session when the server closes the socket, and runs onExpire once when a window ends", async () => {
    const gus = new ResumePeer(url);
    await gus.connect();
    gus.send([1, 1, "join", { room: "gus-room" }]);
    await gus.next((f) => f[0] === 2 && f[1] === 1);
    const sid = gus.sid;
    gus.drop();
    await until(() => expired.some((e) => e.id === sid), "onExpire", 5000);
    const mine = expired.filter((e) => e.id === sid);
    assert.equal(mine.length, 1);
    assert.deepEqual(mine[0]?.rooms, ["gus-room"]);
    assert.deepEqual(mine[0]?.data, { joinedAt: 1 });
    await gus.connect();
    assert.deepEqual(
      gus.frames.find((f) => f[1] === "gap"),
      [9, "gap", { reason: "expired" }],
    );
    const fresh = gus.sid;
    assert.notEqual(fresh, sid);
    server.getSocket(fresh as string)?.close(4000, "bye"); // the app closed it: no resume
    await new Promise((r) => setTimeout(r, 100));
    const countBefore = expired.length;
    await gus.connect();
    assert.equal(gus.gaps.at(-1)?.reason, "expired");
    await new Promise((r) => setTimeout(r, 1300));
    assert.ok(!expired.slice(countBefore).some((e) => e.id === fresh), "an ended session does not expire");
    gus.close();
  });
});
