// Resumable sessions attacked from outside, as a hostile or broken client would: malformed and
// oversized `[9, "pos", ...]` frames, forged and raced tokens, retried requests, a client that
// stops reading during a replay. Real TCP against one real server (sessions and history in
// memory), with raw protocol peers (test/helpers/resume-peer.ts); resume-hostile-redis.test.ts
// does the same where the Redis stores matter.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket } from "ws";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import { createServer, type EventSocket, events, HttpMiddlewareMixin, handle, Namespace, type Server } from "../src/index.js";
import { POSITIONS_WAIT_MS } from "../src/resume/session-replay.js";
import { outboxOf } from "../src/socket/socket.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { type LogLine, testLogger } from "./helpers/sessions.js";
import { start, until } from "./helpers.js";

const contract = defineContract({
  client: {
    join: request(z.object({ room: z.string() }), z.null()),
    say: request(z.object({ room: z.string(), text: z.string() }), z.null()),
    dm: request(z.object({ text: z.string() }), z.null()),
    slow: request(z.object({ ms: z.number() }), z.number()),
  },
  server: {
    message: event(z.object({ text: z.string() })),
  },
});

let runs = 0;

@Namespace("/h")
class Hostile extends events(contract, HttpMiddlewareMixin) {
  static events = handle(contract, {
    join(socket, { room }) {
      socket.join(room);
      return null;
    },
    say(socket, { room, text }) {
      socket.server.to(room).emit("message", { text });
      return null;
    },
    dm(socket, { text }) {
      (socket as EventSocket<typeof contract>).emit("message", { text });
      return null;
    },
    async slow(_socket, { ms }) {
      await new Promise((r) => setTimeout(r, ms));
      return ++runs;
    },
  });
}

/** A server of the namespace above with resume on (sessions and history in memory), on loopback. */
async function serve(extra: Partial<Parameters<typeof createServer>[0]> = {}): Promise<{ server: Server; url: string; logs: LogLine[] }> {
  const logger = testLogger();
  const server = createServer({
    handlers: [Hostile],
    host: "127.0.0.1",
    port: 0,
    heartbeatInterval: 0,
    logger,
    resume: { ttl: 5000, history: { size: 1000 } },
    ...extra,
  });
  return { server, url: `${await start(server)}/h`, logs: logger.lines };
}

/** Sends request `name` and waits for its answer. */
async function ask(peer: ResumePeer, id: number, name: string, data: unknown): Promise<unknown[]> {
  const answer = peer.next((f) => (f[0] === 2 || f[0] === 3) && f[1] === id);
  peer.send([1, id, name, data]);
  return answer;
}

/**
 * A hand-written upgrade request to `/h` offering `protocols` (each one Sec-WebSocket-Protocol
 * header line, written byte for byte) and the `extra` header lines, as a client ws would refuse to
 * build; resolves with what the server answered once it closed the connection, or within `ms`.
 */
function rawUpgrade(url: string, protocols: readonly string[], extra: readonly string[] = [], ms = 300): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(url).port), "127.0.0.1");
    let got = "";
    socket.on("data", (chunk: Buffer) => (got += chunk.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    const lines = ["GET /h HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"];
    lines.push("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13");
    for (const protocol of protocols) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    lines.push(...extra);
    socket.write(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, ms);
  });
}

/**
 * A session in room "kept"; `refuse(token)` makes upgrades with its token that the server must
 * refuse. Then the session's connection is untouched, and its token still resumes it.
 */
async function tokenSurvives(server: Server, url: string, refuse: (token: string) => Promise<void>): Promise<void> {
  const owner = new ResumePeer(url);
  await owner.connect();
  await ask(owner, 1, "join", { room: "kept" });
  await refuse(owner.token as string);
  assert.equal(owner.ws.readyState, WebSocket.OPEN, "the session's connection was left alone");
  owner.drop();
  await until(() => server.getSocket(owner.sid as string) === undefined, "the server to see the owner gone");
  const sid = owner.sid;
  await owner.connect();
  assert.equal(owner.sid, sid, "the token was not spent by the refused upgrades");
  assert.equal(owner.controls.at(-1)?.[1], "resumed");
  assert.equal(owner.gaps.length, 0);
  owner.close();
}

describe("hostile clients of resumable sessions (one node, in memory)", () => {
  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve()));
  after(() => server.close());

  it("a Sec-WebSocket-Protocol header ws refuses (the token offered twice, a non-token character) is refused before the token is taken", async () => {
    await tokenSurvives(server, url, async (token) => {
      for (const header of [
        [`tsws.v1, tsws-resume.${token}, tsws-resume.${token}`],
        ["tsws.v1", `tsws-resume.${token}`, `tsws-resume.${token}`],
        [`tsws.v1, tsws-resume.\u00e9${token}`],
      ]) {
        const answer = await rawUpgrade(url, header);
        assert.match(answer, /^HTTP\/1\.1 400 /, `refused: ${JSON.stringify(header).slice(0, 60)}`);
        assert.match(answer, /Sec-WebSocket-Protocol/);
      }
    });
  });

  it("a pos frame with JSON whitespace is read as the client's positions, not ignored for the record's", async () => {
    const peer = new ResumePeer(url);
    await peer.connect();
    await ask(peer, 1, "join", { room: "ws" });
    for (let i = 0; i < 3; i++) await ask(peer, 2 + i, "say", { room: "ws", text: `m${i}` });
    await until(() => peer.seqs("room:ws").length === 3, "three messages");
    let id = 10;
    for (const spacing of [" ", "\n", "\t "]) {
      const [first] = peer.seqs("room:ws").slice(-3) as [number];
      peer.drop();
      await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the peer gone");
      const had = peer.seqs("room:ws").length;
      const started = Date.now();
      const back = peer.connect({ sendPositions: false });
      await once(peer.ws, "open");
      // It says it received only the first of the last three (the other two were lost with the connection).
      peer.ws.send(`${spacing}[${spacing}9,"pos",{"room:ws":[${first}]}]`);
      await back;
      const took = Date.now() - started;
      assert.deepEqual(peer.seqs("room:ws").slice(had), [first + 1, first + 2], `${JSON.stringify(spacing)}: the two it lacks, replayed`);
      assert.ok(took < POSITIONS_WAIT_MS / 2, `resumed on its word after ${took} ms, not after the ${POSITIONS_WAIT_MS} ms wait`);
      await ask(peer, id++, "say", { room: "ws", text: "next" });
      await ask(peer, id++, "say", { room: "ws", text: "next" });
    }
    assert.equal(peer.gaps.length, 0);
    peer.close();
  });

  it("three resumes racing with one token: one connection holds the session at the end, with what it missed once; the others were closed 'resumed elsewhere' or started fresh after gap expired", async () => {
    const owner = new ResumePeer(url);
    await owner.connect();
    await ask(owner, 1, "join", { room: "race" });
    const other = new ResumePeer(url);
    await other.connect();
    await ask(other, 1, "say", { room: "race", text: "heard" });
    await until(() => owner.seqs("room:race").length === 1, "the first message");
    owner.drop();
    await until(() => server.getSocket(owner.sid as string) === undefined, "the server to see the owner gone");
    await ask(other, 2, "say", { room: "race", text: "missed" });
    const racers = [owner.clone(url), owner.clone(url), owner.clone(url)];
    // The token that took the session stays good until its client confirms the next one, so a
    // racer may take it from another that resumed first (closing that one); or find it retired.
    await Promise.allSettled(racers.map((r) => r.connect()));
    await until(() => racers.filter((r) => r.closed === undefined && r.sid === owner.sid).length === 1, "one holder");
    const holder = racers.find((r) => r.closed === undefined && r.sid === owner.sid) as ResumePeer;
    assert.deepEqual(holder.seqs("room:race"), [2], "the holder: what it missed, once");
    for (const loser of racers.filter((r) => r !== holder)) {
      if (loser.sid === owner.sid) assert.deepEqual(loser.closed, [1001, "resumed elsewhere"], "taken by another racer");
      else {
        assert.deepEqual(loser.frames[0], [9, "gap", { reason: "expired" }]);
        assert.equal(loser.frames[1]?.[1], "welcome");
        assert.deepEqual(loser.pushes, [], "a fresh session gets nothing of the session");
      }
    }
    await ask(other, 3, "say", { room: "race", text: "live" });
    await until(() => holder.seqs("room:race").length === 2, "the live message");
    for (const r of racers) r.close();
    other.close();
  });

  it("a request still running through two resumes in a row, retried on each: run once, answered once per connection with that run's reply", async () => {
    const peer = new ResumePeer(url);
    await peer.connect();
    const before = runs;
    peer.send([1, 7, "slow", { ms: 400 }]);
    await sleep(20); // running
    peer.drop();
    await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the peer gone");
    await peer.connect();
    peer.send([1, 7, "slow", { ms: 400 }]); // the retry waits for the first run
    peer.drop(); // and the connection breaks again before it is answered
    await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the peer gone again");
    await peer.connect();
    assert.equal(peer.controls.at(-1)?.[1], "resumed");
    const answer = peer.next((f) => f[0] === 2 && f[1] === 7);
    peer.send([1, 7, "slow", { ms: 400 }]);
    assert.deepEqual(await answer, [2, 7, before + 1], "the first run's reply");
    await sleep(450); // a second run would have settled by now
    assert.equal(runs, before + 1, "run once");
    assert.equal(peer.frames.filter((f) => f[0] === 2 && f[1] === 7).length, 1, "answered once on this connection");
    peer.close();
  });

  it("a token offered without tsws.v1 is not taken: the upgrade is a raw one, and the session and its open connection are left alone", async () => {
    const owner = new ResumePeer(url);
    await owner.connect();
    await ask(owner, 1, "join", { room: "raw" });
    const raw = new WebSocket(url, [`tsws-resume.${owner.token}`]);
    raw.on("error", () => {}); // ws refuses the 101 that selects none of its protocols: the server handled the upgrade
    await new Promise((resolve) => raw.once("close", resolve));
    await sleep(50);
    assert.equal(owner.ws.readyState, WebSocket.OPEN, "the session's connection was left alone");
    owner.drop();
    await until(() => server.getSocket(owner.sid as string) === undefined, "the server to see the owner gone");
    const sid = owner.sid;
    await owner.connect();
    assert.equal(owner.sid, sid, "the token was not spent");
    owner.close();
  });

  it("pos frames of any shape or size resume the session at once, and replay nothing of a stream it is not in", async () => {
    const victim = new ResumePeer(url);
    await victim.connect();
    await ask(victim, 1, "join", { room: "secret" });
    await ask(victim, 2, "say", { room: "secret", text: "s" });
    await ask(victim, 3, "dm", { text: "d" });
    await until(() => victim.pushes.length === 2, "the victim's own messages");
    const secretEpoch = victim.positions.get("room:secret")?.[1] ?? "";
    const peer = new ResumePeer(url);
    await peer.connect();
    await ask(peer, 1, "join", { room: "mine" });
    const foreign = { "room:secret": [0, secretEpoch], [`inbox:${victim.sid}`]: [0], "room:nowhere": [0] };
    const shapes: unknown[] = [
      [9, "pos"],
      [9, "pos", null],
      [9, "pos", [1, 2, 3]],
      [9, "pos", "room:mine"],
      [9, "pos", { ...foreign, "room:mine": "NaN" }],
      [9, "pos", { ...foreign, "room:mine": [1e300, "x"] }],
      [9, "pos", { ...foreign, "room:mine": [-5] }],
      [9, "pos", { ...foreign, "room:mine": [0, { epoch: 1 }] }],
      [9, "pos", { ...foreign, "room:mine": [0, secretEpoch] }], // another stream's epoch
      [9, "pos", { __proto__: null, ...foreign }],
      // ~700 KB: 20,000 streams it is not in
      [9, "pos", Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`room:r${i}`, [i, "e".repeat(8)]]))],
    ];
    let id = 10;
    for (const shape of shapes) {
      await ask(victim, id++, "say", { room: "secret", text: "s" });
      await ask(victim, id++, "dm", { text: "d" });
      await ask(victim, id++, "say", { room: "mine", text: "m" });
      peer.drop();
      await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the peer gone");
      await ask(victim, id++, "say", { room: "mine", text: "missed" });
      const sid = peer.sid;
      const started = Date.now();
      const back = peer.connect({ sendPositions: false });
      await once(peer.ws, "open");
      peer.ws.send(JSON.stringify(shape));
      await back;
      const what = JSON.stringify(shape).slice(0, 40);
      assert.equal(peer.sid, sid, `${what}: resumed`);
      assert.ok(Date.now() - started < POSITIONS_WAIT_MS, `${what}: at once, not after the wait for positions`);
    }
    const streams = new Set(peer.pushes.map((p) => p.stream));
    assert.deepEqual([...streams], ["room:mine"], "nothing of another room or another session's inbox");
    const mine = peer.seqs("room:mine");
    // A shape that says nothing usable of its room is taken as "received nothing": replayed again (no loss).
    assert.equal(new Set(mine).size, 2 * shapes.length, "every message of its room reached it");
    assert.equal(Math.max(...mine), 2 * shapes.length);
    assert.ok(
      peer.gaps.every((g) => g.stream === "room:mine"),
      "gaps of its own room only",
    );
    peer.close();
    victim.close();
  });

  it("retries of a request still running after a resume wait in the socket's queue like the run itself: a flood of them is held by backpressure, not kept by the server", async () => {
    const peer = new ResumePeer(url);
    await peer.connect();
    const before = runs;
    peer.send([1, 7, "slow", { ms: 600 }]);
    await sleep(20);
    peer.drop();
    await until(() => server.getSocket(peer.sid as string) === undefined, "the server to see the peer gone");
    await peer.connect();
    const retry = JSON.stringify([1, 7, "slow", { ms: 600 }]);
    const flood = 10_000;
    for (let i = 0; i < flood; i++) peer.ws.send(retry);
    const next = peer.next((f) => f[0] === 2 && f[1] === 8, 10_000);
    peer.send([1, 8, "join", { room: "after" }]);
    await next;
    const answers = peer.frames.filter((f) => f[0] === 2 || f[0] === 3);
    // In arrival order: every retry (answered from the one run) before the request sent after them.
    assert.equal(answers.length, flood + 1);
    assert.ok(
      answers.slice(0, flood).every((f) => f[1] === 7 && f[2] === before + 1),
      "the retries first, each with the first run's reply",
    );
    assert.equal(runs, before + 1, "run once");
    peer.close();
  });
});

describe("hostile clients of resumable sessions, permessage-deflate on", () => {
  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve({ perMessageDeflate: true })));
  after(() => server.close());

  it("a Sec-WebSocket-Extensions header ws refuses (malformed, or deflate parameters out of range) is refused before the token is taken", async () => {
    await tokenSurvives(server, url, async (token) => {
      for (const extensions of [
        "permessage-deflate;;",
        "permessage-deflate; client_max_window_bits=99",
        "permessage-deflate; server_no_context_takeover=yes",
      ]) {
        const answer = await rawUpgrade(url, [`tsws.v1, tsws-resume.${token}`], [`Sec-WebSocket-Extensions: ${extensions}`]);
        assert.match(answer, /^HTTP\/1\.1 400 /, `refused: ${extensions}`);
        assert.match(answer, /Sec-WebSocket-Extensions/);
      }
      const fine = await rawUpgrade(url, ["tsws.v1"], ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]);
      assert.match(fine, /^HTTP\/1\.1 101 [\s\S]*permessage-deflate/, "a well-formed offer is still accepted");
    });
  });
});

describe("a resumable client that reads slowly or stops reading (slow-consumer policies)", () => {
  it('drop-newest: an idle probe [9,"ping"] the policy drops leaves the socket open (only stream messages and session frames close it)', async () => {
    const { server, url, logs } = await serve({ slowConsumer: "drop-newest", maxBufferedBytes: 16 * 1024 });
    try {
      const reader = new ResumePeer(url);
      await reader.connect();
      const socket = server.getSocket(reader.sid as string);
      assert.ok(socket);
      (reader.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      // Raw frames (no stream) fill the kernel's buffers, then the server's, then are dropped.
      const big = JSON.stringify([0, "raw", "b".repeat(60_000)]);
      const dropping = () => logs.some((l) => l.msg === "slow consumer: dropping messages");
      for (let turn = 0; turn < 200 && !dropping(); turn++) {
        for (let i = 0; i < 20; i++) socket.send(big);
        await sleep(5);
      }
      assert.ok(dropping(), "the policy drops frames");
      // What the heartbeat sends an idle socket (limits/guard.ts' pingIdle), offered to the full outbox.
      void outboxOf(socket).send('[9,"ping"]');
      await sleep(100);
      assert.equal(socket.closed, false, "not closed for a dropped probe");
      reader.drop();
    } finally {
      await server.close();
    }
  });

  for (const policy of ["drop-newest", "drop-oldest"] as const) {
    it(`${policy}: a stream message the policy drops closes the socket with the session kept; the resume replays it, so nothing is lost in silence`, async () => {
      const { server, url, logs } = await serve({ slowConsumer: policy, maxBufferedBytes: 16 * 1024 });
      try {
        const reader = new ResumePeer(url);
        await reader.connect();
        await ask(reader, 1, "join", { room: "big" });
        const sender = new ResumePeer(url);
        await sender.connect();
        // The reader stops reading: the kernel's buffers fill, then the server's, then the policy drops.
        const tcp = (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
        tcp.pause();
        const text = "x".repeat(8000);
        const sent = 900;
        for (let i = 0; i < sent; i++) sender.send([1, 10 + i, "say", { room: "big", text }]);
        await sender.next((f) => f[0] === 2 && f[1] === 10 + sent - 1, 20_000);
        assert.ok(
          logs.some((l) => l.msg === "slow consumer: dropping messages"),
          "the policy dropped messages (else the kernel took them all)",
        );
        const closed = once(reader.ws, "close", { signal: AbortSignal.timeout(5000) }) as Promise<[number, Buffer]>;
        tcp.resume();
        const [code, reason] = await closed;
        assert.deepEqual([code, reason.toString()], [1011, "slow consumer: messages dropped"]);
        const had = reader.seqs("room:big").length;
        assert.ok(had < sent, `it had ${had} of ${sent} before the close`);
        await reader.connect();
        assert.equal(reader.controls.at(-1)?.[1], "resumed", "the session was kept");
        assert.deepEqual(reader.gaps, []);
        assert.deepEqual(
          reader.seqs("room:big"),
          Array.from({ length: sent }, (_, i) => i + 1),
          "every message once, in order: what the policy dropped came with the resume",
        );
        reader.close();
        sender.close();
      } finally {
        await server.close();
      }
    });
  }

  it('"close": a replay larger than maxBufferedBytes is not charged to the client: a live message while it still reads the replay does not close it as a slow consumer', async () => {
    const { server, url, logs } = await serve();
    try {
      const reader = new ResumePeer(url);
      await reader.connect();
      await ask(reader, 1, "join", { room: "big" });
      const sender = new ResumePeer(url);
      await sender.connect();
      reader.drop();
      await until(() => server.getSocket(reader.sid as string) === undefined, "the server to see the reader gone");
      const text = "x".repeat(8000);
      const missed = 900; // ~7 MB, beyond the default maxBufferedBytes (1 MiB) and what the kernel's buffers take at once
      for (let i = 0; i < missed; i++) sender.send([1, 10 + i, "say", { room: "big", text }]);
      await sender.next((f) => f[0] === 2 && f[1] === 10 + missed - 1, 20_000);
      const back = reader.connect();
      await once(reader.ws, "open");
      // It reads slowly: the replay is still in the server's buffer when the next live message comes.
      const tcp = (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      await sleep(100);
      await ask(sender, 5000, "say", { room: "big", text: "live" });
      await sleep(50);
      tcp.resume();
      await back;
      await until(() => reader.seqs("room:big").length === missed + 1, "the replay and the live message", 5000);
      assert.equal(reader.ws.readyState, WebSocket.OPEN, "still open");
      assert.deepEqual(
        reader.seqs("room:big"),
        Array.from({ length: missed + 1 }, (_, i) => i + 1),
      );
      assert.deepEqual(
        logs.filter((l) => l.msg.includes("slow consumer")),
        [],
      );
      reader.close();
      sender.close();
    } finally {
      await server.close();
    }
  });
});
