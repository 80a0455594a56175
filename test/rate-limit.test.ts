import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import type { Server } from "../src/index.js";
import { RateLimiter } from "../src/limits/rate-limit.js";
import { Echo, echoOnce, recordingLogger, startEcho } from "./fixtures/echo.js";

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  ws.on("error", () => {});
  await new Promise((resolve) => ws.once("open", resolve));
  return ws;
}

function closeOf(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve([code, reason.toString()])));
}

describe("rateLimit: messagesPerSecond", () => {
  const logger = recordingLogger();
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startEcho({ logger, rateLimit: { messagesPerSecond: 10 } }));
  });
  after(() => server.close());

  it("lets a socket within its allowance through", async () => {
    const ws = await open(port);
    const echoes: string[] = [];
    ws.on("message", (data) => echoes.push(String(data)));
    for (let i = 0; i < 5; i++) ws.send(`m${i}`);
    while (echoes.length < 5) await new Promise((resolve) => ws.once("message", resolve));
    assert.deepEqual(echoes, ["m0", "m1", "m2", "m3", "m4"]);
    const closed = closeOf(ws);
    ws.close();
    await closed;
    while (server.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it('closes a flooding socket with 1008 "rate limit", logs it once, and onClose sees the reason', async () => {
    Echo.closeReasons.length = 0;
    const ws = await open(port);
    const closed = closeOf(ws);
    for (let i = 0; i < 200; i++) ws.send("flood");
    assert.deepEqual(await closed, [1008, "rate limit"]);
    while (Echo.closeReasons.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(Echo.closeReasons, ["rate limit"]);
    assert.equal(logger.lines.filter((line) => line === "socket closed: rate limit").length, 1);
    assert.equal(await echoOnce(port), "still here");
  });
});

describe("the token bucket", () => {
  it("refills: a socket sending steadily under its rate is never closed, though it sends more than one second's allowance", async () => {
    const { server, port } = await startEcho({ rateLimit: { messagesPerSecond: 20 } });
    try {
      const ws = await open(port);
      let echoes = 0;
      ws.on("message", () => echoes++);
      for (let i = 0; i < 40; i++) {
        ws.send("tick");
        await new Promise((resolve) => setTimeout(resolve, 100)); // 10 a second, half the allowance
      }
      while (echoes < 40) await once(ws, "message");
      assert.equal(ws.readyState, WebSocket.OPEN);
      ws.close();
    } finally {
      await server.close();
    }
  });
});

describe("rateLimit: bytesPerSecond", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startEcho({ rateLimit: { bytesPerSecond: 1000 } }));
  });
  after(() => server.close());

  it("closes a socket that sends more bytes than its allowance with 1008", async () => {
    const ws = await open(port);
    const closed = closeOf(ws);
    ws.send("x".repeat(600));
    ws.send("x".repeat(600));
    assert.deepEqual(await closed, [1008, "rate limit"]);
  });
});

describe("the rateLimit option", () => {
  it("is validated at createServer", async () => {
    const { createServer } = await import("../src/index.js");
    assert.throws(() => createServer({ handlers: [Echo], rateLimit: { messagesPerSecond: 0 } }), /option "rateLimit"/);
    assert.throws(() => createServer({ handlers: [Echo], rateLimit: {} }), /option "rateLimit"/);
    assert.throws(() => createServer({ handlers: [Echo], rateLimit: { perMinute: 5 } as never }), /option "rateLimit"/);
    assert.ok(recordingLogger());
  });
});

describe("RateLimiter with one limit left out", () => {
  it("counts only the configured limit when the clock has not advanced (fake timers, a fast machine)", (t) => {
    t.mock.method(performance, "now", () => 1000);
    const messagesOnly = new RateLimiter({ messagesPerSecond: 3 });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => messagesOnly.allow(100)),
      [true, true, true, false],
    );
    const bytesOnly = new RateLimiter({ bytesPerSecond: 250 });
    assert.deepEqual(
      [100, 100, 100].map((size) => bytesOnly.allow(size)),
      [true, true, false],
    );
  });
});
