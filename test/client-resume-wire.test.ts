// The resuming client's wire behaviour, frame by frame, against a real server whose raw handler
// speaks tsws.v1 by hand (test/fixtures/tsws-peer.ts): the frames a resumable server sends
// (welcome, pushes with duplicates, a reset gap, resumed, a refused resume) and what the client
// must answer (the token as a subprotocol, `pos` first, nothing else before `resumed`, `confirm` then, unanswered
// requests again under their ids, DISCONNECTED after a fresh `welcome`).
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { WebSocket } from "ws";
import { connect, type Gap, RequestError } from "../src/client/index.js";
import type { Socket } from "../src/index.js";
import { startPeer } from "./fixtures/tsws-peer.js";
import { until } from "./helpers.js";

const peer = await startPeer();
const client = connect(`${peer.url}/t`, { WebSocket, resume: true, reconnect: { baseMs: 20, maxMs: 40 } });
after(async () => {
  client.close();
  await peer.close();
});

const echoes: unknown[] = [];
const gaps: Gap[] = [];
client.on("echo", (data) => echoes.push(data));
client.on("gap", (gap) => gaps.push(gap));
const send = (socket: Socket | undefined, frame: unknown[]) => socket?.send(JSON.stringify(frame));
const framesAfter = (n: number) => peer.frames.slice(n);

it("keeps the session, drops duplicate pushes, resumes with token and positions, and re-sends what was unanswered", async () => {
  await until(() => client.state === "open" && peer.connects.length === 1, "the first connection");
  assert.equal(peer.connects[0]?.request.headers["sec-websocket-protocol"], "tsws.v1", "no token to offer yet");
  const first = peer.connects[0];
  send(first, [9, "welcome", { sid: "s1", token: "s1.first" }]);
  for (const [seq, n] of [
    [1, 1],
    [2, 2],
    [2, 2], // a duplicate
    [1, 1], // an old one
    [3, 3],
  ]) {
    send(first, [4, "room:a", seq, "echo", { n }]);
  }
  send(first, [9, "gap", { stream: "room:a", reason: "reset", epoch: "E2" }]);
  send(first, [4, "room:a", 1, "echo", { n: 4 }]); // seq 1 of the new epoch: news
  send(first, [4, "inbox:s1", 1, "echo", { n: 5 }]);
  await until(() => echoes.length === 5, "five pushes");
  assert.deepEqual(echoes, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }], "duplicates dropped, the new epoch accepted");
  assert.deepEqual(gaps, [{ stream: "room:a", reason: "reset", epoch: "E2" }]);
  assert.equal(client.id, "s1");
  assert.equal(client.resumed, false);

  const pending = client.request("never"); // the peer never answers it
  await until(() => peer.frames.some((f) => (f as unknown[])[2] === "never"), "the request to arrive");
  const asked = peer.frames.find((f) => (f as unknown[])[2] === "never") as [1, number, string];
  const seen = peer.frames.length;
  first?.close(1011, "gone");
  await until(() => peer.connects.length === 2, "the reconnect");
  const second = peer.connects[1];
  assert.equal(second?.request.headers["sec-websocket-protocol"], "tsws.v1,tsws-resume.s1.first");
  await until(() => framesAfter(seen).length === 1, "the positions");
  assert.deepEqual(framesAfter(seen), [[9, "pos", { "room:a": [1, "E2"], "inbox:s1": [1] }]]);
  // Nothing else goes out before the session is back: not the request, not a new emit.
  assert.equal(client.state, "reconnecting");
  client.emit("later", { n: 6 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(framesAfter(seen).length, 1);

  send(second, [4, "room:a", 2, "echo", { n: 7 }]); // a replayed one
  send(second, [9, "resumed", { sid: "s1", token: "s1.second", positions: { "room:a": [2, "E2"], "inbox:s1": [1, "I1"] } }]);
  await until(() => client.state === "open", "open after resumed");
  assert.equal(client.resumed, true);
  assert.equal(client.id, "s1");
  await until(() => framesAfter(seen).length === 4, "the confirm, the re-sent request and the buffered emit");
  assert.deepEqual(
    framesAfter(seen).slice(1),
    [[9, "confirm"], asked, [0, "later", { n: 6 }]],
    "the new token confirmed at once, then the request again, same id, before the emit",
  );
  send(second, [4, "room:a", 2, "echo", { n: 7 }]); // a duplicate of the replayed one
  send(second, [2, asked[1], "answered once"]);
  assert.equal(await pending, "answered once");
  assert.deepEqual(echoes.at(-1), { n: 7 });
  assert.equal(echoes.length, 6);

  // A refused resume: gap "expired" and a fresh welcome; what was in flight rejects DISCONNECTED.
  const lost = client.request("never");
  await until(() => peer.frames.filter((f) => (f as unknown[])[2] === "never").length === 3, "the second request");
  const seen2 = peer.frames.length;
  second?.close(1011, "gone");
  await until(() => peer.connects.length === 3, "the second reconnect");
  const third = peer.connects[2];
  assert.equal(
    third?.request.headers["sec-websocket-protocol"],
    "tsws.v1,tsws-resume.s1.second,tsws-resume.s1.first",
    "its latest token, then the one it resumed with (good again after a late take of it)",
  );
  await until(() => framesAfter(seen2).length === 1, "the positions");
  assert.deepEqual(framesAfter(seen2), [[9, "pos", { "room:a": [2, "E2"], "inbox:s1": [1, "I1"] }]]);
  send(third, [9, "gap", { reason: "expired" }]);
  send(third, [9, "welcome", { sid: "s2", token: "s2.first" }]);
  const error = await lost.catch((e: unknown) => e);
  assert.ok(error instanceof RequestError);
  assert.equal(error.code, "DISCONNECTED");
  assert.equal(client.state, "open");
  assert.equal(client.id, "s2");
  assert.equal(client.resumed, false);
  assert.deepEqual(gaps.at(-1), { reason: "expired" });
  send(third, [4, "room:a", 1, "echo", { n: 8 }]); // positions were forgotten with the session
  await until(() => echoes.length === 7, "a push of the fresh session");
  assert.equal(framesAfter(seen2).length, 1, "the lost request was not sent to the fresh session");
  third?.close(1011, "gone");
  await until(() => peer.connects.length === 4, "the reconnect of the fresh session");
  assert.equal(
    peer.connects[3]?.request.headers["sec-websocket-protocol"],
    "tsws.v1,tsws-resume.s2.first",
    "no fallback: s1's tokens went with it",
  );
});

it("backs off while the server accepts its resumes and closes them before `resumed` (it starts over only once a session is ready)", async () => {
  const flaky = await startPeer();
  const c = connect(`${flaky.url}/t`, { WebSocket, resume: true, reconnect: { baseMs: 50, maxMs: 5_000 } });
  try {
    await until(() => flaky.connects.length === 1, "the first connection");
    send(flaky.connects[0], [9, "welcome", { sid: "s9", token: "s9.first" }]);
    await until(() => c.state === "open", "open after welcome");
    // From now on every connection is accepted, then closed at once, as a failing replay is.
    const closing = setInterval(() => {
      for (const s of flaky.connects.slice(1)) if (!s.closed) s.close(1011, "resume failed");
    }, 5);
    flaky.connects[0]?.close(1011, "gone");
    await new Promise((r) => setTimeout(r, 1_500));
    clearInterval(closing);
    const attempts = flaky.connects.length - 1;
    // Exponential from 50 ms (a random share of 50, 100, 200, 400, 800, 1,600 ms, ...): ~6 in 1.5 s
    // on average, more than 11 with a chance below 1 in 1,000; starting over at each open, ~30 or more.
    assert.ok(attempts >= 2, `it reconnected (${attempts})`);
    assert.ok(attempts <= 11, `${attempts} resumes in 1.5 s: no backoff`);
  } finally {
    c.close();
    await flaky.close();
  }
});
