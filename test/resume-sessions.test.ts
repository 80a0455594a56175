import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Logger } from "../src/logger.js";
import { ControlKind, encodeControl } from "../src/protocol/index.js";
import { EARLY_MOVE_KEEP_MS, EarlyMoves } from "../src/resume/early-moves.js";
import { MemorySessions } from "../src/resume/memory-sessions.js";
import { packedGeneration, packedSid, packRecord, unpackRecord } from "../src/resume/packed-record.js";
import { ownerKey, type SessionRecord } from "../src/resume/session-store.js";
import { issueSecret, issueToken, parseToken, resumeTokensOf, sameDigest, sameSecret, splitToken } from "../src/resume/session-token.js";
import { welcomeFrame } from "../src/resume/session-welcome.js";

const record = (sid: string, owner = "user:1"): SessionRecord => ({
  sid,
  owner,
  path: "/chat/lobby",
  rooms: ["lobby"],
  data: '{"name":"ann"}',
  positions: { "room:lobby": { seq: 3, epoch: "e" } },
  generation: 0,
  replies: [],
});

describe("resume tokens", () => {
  it("carry 128 random bits after the session id, and parse back to the same digest", () => {
    const a = issueToken("0f8e-11");
    const b = issueToken("0f8e-11");
    assert.match(a.token, /^0f8e-11\.[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.token, b.token);
    const parsed = parseToken(a.token)!;
    assert.equal(parsed.sid, "0f8e-11");
    assert.ok(sameDigest(parsed.digest, a.digest));
    assert.ok(!sameDigest(parsed.digest, b.digest));
  });

  it("keep their secret for the in-memory store, split back and compared whole", () => {
    const a = issueSecret("0f8e-11");
    const b = issueSecret("0f8e-11");
    assert.match(a.token, /^0f8e-11\.[A-Za-z0-9_-]{22}$/);
    assert.equal(a.token, `0f8e-11.${a.secret}`);
    const parts = splitToken(a.token)!;
    assert.deepEqual(parts, { sid: "0f8e-11", secret: a.secret });
    assert.ok(sameSecret(parts.secret, a.secret));
    assert.ok(!sameSecret(parts.secret, b.secret));
    assert.ok(!sameSecret(parts.secret, a.secret.slice(0, 21)));
  });

  it("draw distinct secrets of 22 base64url characters, also across refills of the pool", () => {
    const secrets = Array.from({ length: 300 }, () => issueSecret("s").secret);
    for (const secret of secrets) assert.match(secret, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(new Set(secrets).size, secrets.length);
  });

  it("go out in a welcome frame written as encodeControl would, also for an id that needs escaping", () => {
    for (const sid of ["0f8e-11", 'a"b\\c', "é\u2028"]) {
      const { token } = issueSecret(sid);
      assert.equal(welcomeFrame(sid, token), encodeControl(ControlKind.WELCOME, { sid, token }));
      assert.deepEqual(JSON.parse(welcomeFrame(sid, token)), [9, "welcome", { sid, token }]);
    }
  });

  it("reject anything not shaped like a token", () => {
    for (const bad of ["", "abc", ".AAAAAAAAAAAAAAAAAAAAAA", "s.short", "s.AAAAAAAAAAAAAAAAAAAAA!", "s.AAAAAAAAAAAAAAAAAAAAAAA"]) {
      assert.equal(parseToken(bad), undefined, bad);
      assert.equal(splitToken(bad), undefined, bad);
    }
  });

  it("are read from the offered subprotocols in order, at most two, never selected", () => {
    assert.deepEqual(resumeTokensOf("tsws.v1, tsws-resume.s1.abc"), ["s1.abc"]);
    assert.deepEqual(resumeTokensOf(["tsws.v1", "tsws-resume.s2.x"]), ["s2.x"]);
    assert.equal(resumeTokensOf("tsws.v1"), undefined);
    assert.equal(resumeTokensOf("tsws.v1, tsws-resume."), undefined);
    assert.equal(resumeTokensOf("tsws-resume.s1.abc"), undefined, "not without tsws.v1: nothing could resume");
    assert.deepEqual(resumeTokensOf("tsws-resume.s1.abc, tsws.v1"), ["s1.abc"]);
    assert.deepEqual(resumeTokensOf("tsws.v1, tsws-resume.s.new, tsws-resume.s.old"), ["s.new", "s.old"], "the latest, then the fallback");
    assert.deepEqual(resumeTokensOf("tsws.v1, tsws-resume.a.1, tsws-resume.a.2, tsws-resume.a.3"), ["a.1", "a.2"], "a third is not read");
    assert.equal(resumeTokensOf(undefined), undefined);
  });
});

describe("MemorySessions", () => {
  it("rotates the token at each take: the one that took the session stays good until the client holds the next (retire, or a take with it); older ones resume nothing", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    const token = store.open(record("s1"));
    store.detach("s1", 0);
    const first = store.take(token, "user:1");
    assert.ok(first.ok);
    assert.equal(first.record.generation, 1);
    assert.deepEqual(first.record.rooms, ["lobby"]);
    assert.notEqual(first.token, token);
    const again = store.take(token, "user:1");
    assert.ok(again.ok, "the first take's token never reached the client: the same token takes it again");
    assert.equal(again.record.generation, 2);
    assert.deepEqual(store.take(first.token, "user:1"), { ok: false, reason: "unknown" }, "a token no client got, replaced since");
    store.retire("s1", 1);
    assert.ok(store.take(token, "user:1").ok, "a retire of an older generation changes nothing");
    const held = store.take(token, "user:1");
    assert.ok(held.ok);
    store.retire("s1", held.record.generation);
    assert.deepEqual(store.take(token, "user:1"), { ok: false, reason: "unknown" }, "retired: the client confirmed the next");
    const next = store.take(held.token, "user:1");
    assert.ok(next.ok, "the rotated token works");
    assert.ok(store.take(next.token, "user:1").ok);
    assert.deepEqual(store.take(held.token, "user:1"), { ok: false, reason: "unknown" }, "a take with the next token retired it");
    store.close();
  });

  it("refuses another owner without consuming the token", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    const token = store.open(record("s1", "user:1"));
    assert.deepEqual(store.take(token, "user:2"), { ok: false, reason: "owner" });
    assert.ok(store.take(token, "user:1").ok);
    store.close();
  });

  it("refuses a forged secret for a real session id", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    store.open(record("s1"));
    const forged = issueToken("s1").token;
    assert.deepEqual(store.take(forged, "user:1"), { ok: false, reason: "unknown" });
    store.close();
  });

  it("keeps updates from an older generation out (a stale node writing after the session moved)", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    const token = store.open(record("s1"));
    const taken = store.take(token, "user:1");
    assert.ok(taken.ok);
    assert.equal(store.update({ ...record("s1"), rooms: ["stale"] }), false);
    assert.equal(store.update({ ...taken.record, rooms: ["new"] }), true);
    const again = store.take(taken.token, "user:1");
    assert.ok(again.ok);
    assert.deepEqual(again.record.rooms, ["new"]);
    store.close();
  });

  it("expires a detached session after ttl and runs onExpire once, with its last record", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const store = new MemorySessions({ ttl: 1_000 });
    const expired: SessionRecord[] = [];
    store.onExpire((r) => expired.push(r));
    const token = store.open(record("s1"));
    store.update({ ...record("s1"), rooms: ["a", "b"] });
    t.mock.timers.tick(5_000);
    assert.equal(expired.length, 0, "an attached session never expires");
    store.detach("s1", 0);
    t.mock.timers.tick(999);
    assert.equal(expired.length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(
      expired.map((r) => r.rooms),
      [["a", "b"]],
    );
    t.mock.timers.tick(10_000);
    assert.equal(expired.length, 1, "once");
    assert.deepEqual(store.take(token, "user:1"), { ok: false, reason: "unknown" });
    assert.equal(store.size, 0);
    store.close();
  });

  it("does not expire a session taken within its window, nor after an older socket's late close", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const store = new MemorySessions({ ttl: 1_000 });
    let expired = 0;
    store.onExpire(() => expired++);
    const token = store.open(record("s1"));
    store.detach("s1", 0);
    t.mock.timers.tick(900);
    const taken = store.take(token, "user:1");
    assert.ok(taken.ok);
    store.detach("s1", 0); // the old socket's close, seen late: generation 0 < 1
    t.mock.timers.tick(5_000);
    assert.equal(expired, 0);
    store.detach("s1", 1);
    t.mock.timers.tick(1_000);
    assert.equal(expired, 1);
    store.close();
  });

  it("ends a session for good without onExpire", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const store = new MemorySessions({ ttl: 1_000 });
    let expired = 0;
    store.onExpire(() => expired++);
    const token = store.open(record("s1"));
    store.detach("s1", 0);
    assert.equal(store.end("s1"), true);
    t.mock.timers.tick(2_000);
    assert.equal(expired, 0);
    assert.equal(store.take(token, "user:1").ok, false);
    assert.equal(store.end("s1"), false);
  });

  it("ends a session only for the generation that holds it, and gives an abandoned take's session back to its token", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    const token = store.open(record("s1"));
    store.detach("s1", 0);
    const taken = store.take(token, "user:1");
    assert.ok(taken.ok);
    assert.equal(store.end("s1", 0), false, "the older generation's end leaves the session alone");
    store.detach("s1", 1);
    const again = store.take(token, "user:1");
    assert.ok(again.ok, "the token that took it takes it again");
    assert.equal(store.end("s1", 2), true);
    assert.equal(store.end("s1", 2), false, "ended already");
    store.close();
  });

  it("reports a throwing onExpire listener and still runs the others", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const errors: object[] = [];
    const logger: Logger = { error: (o) => errors.push(o), warn: () => {}, info: () => {}, debug: () => {} };
    const store = new MemorySessions({ ttl: 10, logger });
    let ran = 0;
    store.onExpire(() => {
      throw new Error("boom");
    });
    store.onExpire(() => ran++);
    store.open(record("s1"));
    store.detach("s1", 0);
    t.mock.timers.tick(10);
    assert.equal(ran, 1);
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as { err: Error }).err), /boom/);
  });

  it("expires sessions detached at different times each at its own deadline, from one queue", async () => {
    // ttl 200 ms, closes 100 ms apart: a stall of the loaded machine up to ~100 ms keeps the order and the margins.
    const store = new MemorySessions({ ttl: 200 });
    const expired: { sid: string; after: number }[] = [];
    const started = Date.now();
    store.onExpire((r) => expired.push({ sid: r.sid, after: Date.now() - started }));
    for (const sid of ["a", "b", "c"]) store.open(record(sid));
    store.detach("a", 0);
    await new Promise((r) => setTimeout(r, 100));
    store.detach("b", 0);
    const tokenC = store.open(record("c2"));
    store.detach("c2", 0);
    assert.ok(store.take(tokenC, "user:1").ok, "c2 taken: its queued deadline is stale");
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(
      expired.map((e) => e.sid),
      ["a", "b"],
    );
    assert.ok((expired[1] as { after: number }).after >= 290, `b waited its own ttl after its close (${expired[1]?.after} ms)`);
    assert.equal(store.size, 2, "c (attached) and c2 (taken) stay");
    store.close();
  });

  it("reads an attached session's record from its source at a take (the socket wrote nothing since the open)", () => {
    const store = new MemorySessions({ ttl: 60_000 });
    let rooms = ["lobby"];
    const token = store.open(record("s1"), { record: () => ({ ...record("s1"), rooms }) });
    rooms = ["lobby", "later"];
    const taken = store.take(token, "user:1");
    assert.ok(taken.ok);
    assert.deepEqual(taken.record.rooms, ["lobby", "later"]);
    assert.equal(taken.record.generation, 1);
    // The taken session's new socket gives the record from now on; an older generation cannot.
    store.readFrom("s1", 0, { record: () => ({ ...record("s1"), rooms: ["stale"] }) });
    rooms = ["fresh"];
    store.readFrom("s1", 1, { record: () => ({ ...record("s1"), rooms, generation: 1 }) });
    const again = store.take(taken.token, "user:1"); // a take of a half-open session reads its record from the source
    assert.ok(again.ok);
    assert.deepEqual(again.record.rooms, ["fresh"]);
    store.close();
  });

  it("expires for real with real timers too", async () => {
    const store = new MemorySessions({ ttl: 30 });
    const done = new Promise<SessionRecord>((resolve) => store.onExpire(resolve));
    store.open(record("s1"));
    store.detach("s1", 0);
    const started = Date.now();
    // The store's timer is unref'd (it must not hold a process open): this one keeps the test's alive.
    const alive = setTimeout(() => {}, 10_000);
    const r = await done;
    clearTimeout(alive);
    assert.equal(r.sid, "s1");
    assert.ok(Date.now() - started >= 25);
    store.close();
  });
});

describe("packed records (a detached session in memory)", () => {
  it("unpack to what was packed, whatever fields and positions the record has", () => {
    const records: SessionRecord[] = [
      { sid: "s1", owner: "", path: "/chat/lobby", rooms: [], data: "{}", positions: {}, generation: 0, replies: [] },
      {
        sid: "s2",
        owner: "user:42",
        path: "/chat/a",
        namespace: "/chat/:room",
        rooms: ["a", "b:c", "é"],
        data: '{"name":"ann"}',
        positions: { "room:a": { seq: 3, epoch: "k1" }, "inbox:s2": { seq: 12, epoch: "k2" }, "room:é": { seq: 2 ** 40, epoch: "" } },
        starts: { "room:a": { seq: 0, epoch: "k1" } },
        generation: 7,
        replies: [
          [1, "[2,1,true]"],
          [4, '[3,4,"TIMEOUT"]'],
        ],
        running: [5, 6],
      },
      { sid: "s3", owner: "o", path: "/p", rooms: ["r"], data: "{}", positions: {}, starts: {}, generation: 1, replies: [] },
    ];
    for (const record of records) {
      const packed = packRecord(record);
      assert.deepEqual(unpackRecord(packed), record);
      assert.equal(packedSid(packed), record.sid);
      assert.equal(packedGeneration(packed), record.generation);
    }
  });
});

describe("EarlyMoves (moved notices that came before their socket)", () => {
  it("tells every socket made for an older generation the newer one; not a newer socket, nor after the keep time", () => {
    const early = new EarlyMoves();
    early.note("s1", 4, 0);
    early.note("s1", 3, 1); // an older notice does not lower it
    assert.equal(early.supersedes("s1", 3, 2), 4);
    assert.equal(early.supersedes("s1", 2, 3), 4, "a second older take here too");
    assert.equal(early.supersedes("s1", 5, 4), undefined, "a later take here");
    early.note("s2", 4, 0);
    assert.equal(early.supersedes("s2", 5, 1), undefined, "a newer take here is not superseded");
    early.note("s3", 4, 0);
    assert.equal(early.supersedes("s3", 3, EARLY_MOVE_KEEP_MS + 1), undefined, "too old to be about a take still answering");
  });

  it("keeps at most 1,024 notices, dropping the oldest and any past the keep time", () => {
    const early = new EarlyMoves();
    for (let i = 0; i <= 1024; i++) early.note(`s${i}`, 2, i);
    assert.equal(early.supersedes("s0", 1, 2000), undefined, "the oldest went");
    assert.equal(early.supersedes("s1", 1, 2000), 2);
    early.note("late", 2, EARLY_MOVE_KEEP_MS + 1500); // every note older than the keep time goes
    assert.equal(early.supersedes("s1000", 1, EARLY_MOVE_KEEP_MS + 1500), undefined);
    assert.equal(early.supersedes("late", 1, EARLY_MOVE_KEEP_MS + 1500), 2);
  });
});

describe("ownerKey", () => {
  it("binds to the user, else the session id, else nobody", () => {
    assert.equal(ownerKey({ id: 42 }, "s"), "user:42");
    assert.equal(ownerKey("ann", "s"), "user:ann");
    assert.equal(ownerKey(7, undefined), "user:7");
    assert.equal(ownerKey({ name: "no id" }, "s"), "session:s");
    assert.equal(ownerKey(undefined, "s"), "session:s");
    assert.equal(ownerKey(null, undefined), "");
  });
});
