// tswebsockets/client in Node (20: ws' WebSocket) against a real tswebsockets server on loopback
// whose raw handler speaks tsws.v1 by hand (test/fixtures/tsws-peer.ts).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket } from "ws";
import { type Client, type ClientOptions, type ClientState, connect, RequestError } from "../src/client/index.js";
import { type Peer, startPeer } from "./fixtures/tsws-peer.js";

const clients: Client[] = [];
const peers: Peer[] = [];
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(peers.map((p) => p.close()));
});

async function peer(port = 0): Promise<Peer> {
  const p = await startPeer(port);
  peers.push(p);
  return p;
}

function client(p: Peer, options: ClientOptions = {}): Client & { states: ClientState[] } {
  const c = connect(`${p.url}/t`, { WebSocket, ...options });
  const states: ClientState[] = [];
  c.on("state", (s) => states.push(s));
  clients.push(c);
  return Object.assign(c, { states });
}

/** Resolves when `client` reaches `state` (now or later), rejects after `ms`. */
function reach(c: Client, state: ClientState, ms = 10_000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still ${c.state}, not ${state}, after ${ms} ms`)), ms);
    const off = c.on("state", (s) => {
      if (s !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

function next(c: Client, event: string): Promise<unknown> {
  return new Promise((resolve) => {
    const off = c.on(event, (data: unknown) => {
      off();
      resolve(data);
    });
  });
}

async function rejection(p: Promise<unknown>): Promise<RequestError> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof RequestError, `expected a RequestError, got ${String(error)}`);
    return error;
  }
  assert.fail("the request resolved");
}

describe("tswebsockets/client", () => {
  it("connects offering tsws.v1, emits, receives events and settles requests with replies and errors", async () => {
    const p = await peer();
    const c = client(p);
    assert.equal(c.state, "connecting");
    await reach(c, "open");
    assert.equal(p.connects[0]?.request.headers["sec-websocket-protocol"], "tsws.v1");
    const echoed = next(c, "echo");
    assert.equal(c.emit("echo", { n: 1 }), true);
    assert.deepEqual(await echoed, { n: 1 });
    assert.equal(await c.request("add", { a: 2, b: 3 }), 5);
    const failed = await rejection(c.request("fail", {}));
    assert.equal(failed.code, "RATE_LIMITED");
    assert.deepEqual(failed.data, { retryAfterMs: 500 });
    assert.equal((await rejection(c.request("nope"))).code, "UNKNOWN_EVENT");
    const started = performance.now();
    const late = await rejection(c.request("never", undefined, { timeoutMs: 150 }));
    assert.equal(late.code, "TIMEOUT");
    assert.ok(performance.now() - started >= 140);
    assert.deepEqual(c.states, ["open"]);
  });

  it("answers server → client requests: a reply, a RequestError's code and data, INTERNAL, UNKNOWN_EVENT", async () => {
    const p = await peer();
    const c = client(p);
    c.handle("confirm", async (data: unknown) => `yes to ${(data as { q: string }).q}`);
    c.handle("refuse", () => {
      throw new RequestError("BUSY", { tryInMs: 10 });
    });
    c.handle("crash", () => {
      throw new Error("secret detail");
    });
    const off = c.handle("gone", () => 1);
    off();
    assert.deepEqual(await c.request("ask", { request: "confirm", data: { q: "leave" } }), [2, 1, "yes to leave"]);
    assert.deepEqual(await c.request("ask", { request: "refuse" }), [3, 2, "BUSY", { tryInMs: 10 }]);
    assert.deepEqual(await c.request("ask", { request: "crash" }), [3, 3, "INTERNAL"]);
    assert.deepEqual(await c.request("ask", { request: "gone" }), [3, 4, "UNKNOWN_EVENT"]);
  });

  it("close() ends for good: state closed, pending requests reject DISCONNECTED, nothing reconnects", async () => {
    const p = await peer();
    const c = client(p);
    await reach(c, "open");
    const pending = c.request("never");
    c.close();
    assert.equal(c.state, "closed");
    assert.deepEqual(c.lastClose, { code: 1000, reason: "" });
    assert.equal((await rejection(pending)).code, "DISCONNECTED");
    assert.equal((await rejection(c.request("add", { a: 1, b: 1 }))).code, "DISCONNECTED");
    assert.equal(c.emit("echo", 1), false);
    await sleep(300);
    assert.equal(p.connects.length, 1);
    assert.deepEqual(c.states, ["open", "closed"]);
  });

  for (const code of [4401, 1008]) {
    it(`does not reconnect after the server closes with ${code}, and says why`, async () => {
      const p = await peer();
      const c = client(p, { reconnect: { baseMs: 10, maxMs: 20 } });
      await reach(c, "open");
      c.emit("close-me", { code, reason: "session ended" });
      await reach(c, "closed");
      assert.deepEqual(c.lastClose, { code, reason: "session ended" });
      await sleep(300);
      assert.equal(p.connects.length, 1);
    });
  }

  it("reconnects after a restart: in-flight requests reject DISCONNECTED, offline ones go out after", async () => {
    let p = await peer();
    const { port } = p;
    const c = client(p, { reconnect: { baseMs: 50, maxMs: 200 } });
    await reach(c, "open");
    const inFlight = c.request("never", undefined, { timeoutMs: 5000 });
    await p.close();
    assert.equal((await rejection(inFlight)).code, "DISCONNECTED");
    await reach(c, "reconnecting");
    assert.equal(c.lastClose?.code, 1001);
    assert.equal(c.emit("echo", "while away"), true);
    const offline = c.request("add", { a: 40, b: 2 });
    p = await peer(port);
    await reach(c, "open");
    assert.equal(await offline, 42);
    // The buffered emit went out before the buffered request, on the new connection.
    assert.deepEqual(p.frames.slice(0, 2), [
      [0, "echo", "while away"],
      [1, 2, "add", { a: 40, b: 2 }],
    ]);
    assert.equal(c.states[0], "open");
    assert.equal(c.states.at(-1), "open");
  });

  it("keeps the offline buffer within its bounds, drops volatile emits, and times out waiting requests", async () => {
    let p = await peer();
    const { port } = p;
    const dropped: [string, unknown, string][] = [];
    const c = client(p, {
      reconnect: { baseMs: 20, maxMs: 50 },
      buffer: { maxMessages: 3, maxBytes: 1000, onDrop: (event, data, reason) => dropped.push([event, data, reason]) },
    });
    await reach(c, "open");
    await p.close();
    await reach(c, "reconnecting");
    assert.equal(c.emit("echo", "typing", { volatile: true }), false);
    const waiting = c.request("add", { a: 1, b: 1 }, { timeoutMs: 100 });
    assert.equal((await rejection(waiting)).code, "TIMEOUT");
    const pushedOut = c.request("add", { a: 1, b: 2 }, { timeoutMs: 5000 });
    for (let i = 1; i <= 5; i++) c.emit("echo", i); // 3 messages at most: the request goes first, then 1 and 2
    assert.equal((await rejection(pushedOut)).code, "DISCONNECTED");
    assert.deepEqual(dropped, [
      ["echo", 1, "full"],
      ["echo", 2, "full"],
    ]);
    c.emit("echo", "x".repeat(980)); // 993 bytes: 3, 4 and 5 leave to stay within 1000
    assert.deepEqual(
      dropped.map(([, data]) => data),
      [1, 2, 3, 4, 5],
    );
    c.emit("echo", "last"); // and now the long one leaves
    assert.equal(dropped.length, 6);
    p = await peer(port);
    await reach(c, "open");
    await sleep(100);
    assert.deepEqual(
      p.frames.map((f) => (f as unknown[])[2]),
      ["last"],
    );
  });

  it("stays open while idle-socket pings arrive, and notices a silent server within idleMs + graceMs", async () => {
    const p = await peer();
    p.pingIdle(100);
    const idleMs = 400;
    const graceMs = 200;
    const c = client(p, { liveness: { idleMs, graceMs }, reconnect: { baseMs: 5000, maxMs: 5000 } });
    await reach(c, "open");
    await sleep(1500);
    assert.deepEqual(c.states, ["open"], "pings keep an idle link alive");
    p.pingIdle(0); // the server stays connected but says nothing more
    const silentAt = performance.now();
    await reach(c, "reconnecting", 5000);
    const noticedMs = performance.now() - silentAt;
    console.log(`silent server noticed after ${noticedMs.toFixed(0)} ms (idleMs + graceMs = ${idleMs + graceMs} ms)`);
    assert.deepEqual(c.lastClose, { code: 1006, reason: "no frame within idleMs + graceMs" });
    assert.ok(noticedMs <= idleMs + graceMs + 500, `noticed after ${noticedMs} ms`);
    assert.ok(noticedMs >= idleMs + graceMs - 200, `noticed too early, after ${noticedMs} ms`);
  });

  it("refuses options that are not positive numbers, and a missing WebSocket constructor, with a TypeError", () => {
    assert.throws(() => connect("ws://127.0.0.1:1/t", { WebSocket, requestTimeoutMs: -1 }), /requestTimeoutMs must be a positive number/);
    assert.throws(() => connect("ws://127.0.0.1:1/t", { WebSocket, buffer: { maxMessages: 0 } }), /buffer\.maxMessages/);
    assert.throws(() => connect("ws://127.0.0.1:1/t"), /on Node 20 pass \{ WebSocket \} from "ws"/);
  });
});
