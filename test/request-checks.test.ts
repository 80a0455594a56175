import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { createServer, HttpMiddlewareMixin, mixins, Namespace, type Server } from "../src/index.js";
import { echoOnce, recordingLogger, startEcho } from "./fixtures/echo.js";
import { RawPeer, upgradeRequest } from "./fixtures/raw-peer.js";

let server: Server;
let port: number;
const logger = recordingLogger();

before(async () => {
  ({ server, port } = await startEcho({ logger, handshakeTimeout: 1500 }));
});
after(() => server.close());

/** Sends raw request bytes and resolves to the whole response text (until the server closes). */
async function rawResponse(request: string): Promise<string> {
  const peer = await RawPeer.connect(port, request);
  await peer.ended;
  return peer.response;
}

function request(lines: string[]): string {
  return `${lines.join("\r\n")}\r\n\r\n`;
}

const base = ["Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"];
const goodKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

describe("a malformed upgrade request", () => {
  it("is answered 405 with Allow: GET when the method is not GET", async () => {
    const res = await rawResponse(request(["POST /echo HTTP/1.1", ...base, goodKey, "Sec-WebSocket-Version: 13", "Content-Length: 0"]));
    assert.match(res, /^HTTP\/1.1 405 /);
    assert.match(res, /\r\nAllow: GET/);
  });

  it("is answered 400 when Sec-WebSocket-Key is missing", async () => {
    const res = await rawResponse(request(["GET /echo HTTP/1.1", ...base, "Sec-WebSocket-Version: 13"]));
    assert.match(res, /^HTTP\/1.1 400 /);
  });

  it("is answered 400 when Sec-WebSocket-Key is not 16 bytes of base64", async () => {
    const res = await rawResponse(request(["GET /echo HTTP/1.1", ...base, "Sec-WebSocket-Key: c2hvcnQ=", "Sec-WebSocket-Version: 13"]));
    assert.match(res, /^HTTP\/1.1 400 /);
  });

  it("is answered 426 listing the supported versions when the version is unsupported", async () => {
    for (const version of ["8", "12", "14", ""]) {
      const res = await rawResponse(request(["GET /echo HTTP/1.1", ...base, goodKey, `Sec-WebSocket-Version: ${version}`]));
      assert.match(res, /^HTTP\/1.1 426 /);
      assert.match(res, /\r\nSec-WebSocket-Version: 13\b/);
    }
  });

  it("is answered 431 when it carries thousands of headers", async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `X-Filler-${i}: ${i}`);
    const res = await rawResponse(upgradeRequest("/echo", many));
    assert.match(res, /^HTTP\/1.1 431 /);
  });

  it("is answered 431 when one header value is huge", async () => {
    const res = await rawResponse(upgradeRequest("/echo", [`X-Huge: ${"a".repeat(64 * 1024)}`]));
    assert.match(res, /^HTTP\/1.1 431 /);
  });

  it("is answered 400 when it is not HTTP at all", async () => {
    const res = await rawResponse("\u0016\u0003\u0001 this is not http\r\n\r\n");
    assert.match(res, /^HTTP\/1.1 400 /);
  });

  it("is dropped at the handshake timeout when its headers never end, while others connect normally", { timeout: 60_000 }, async () => {
    const slow = net.connect(port, "127.0.0.1");
    slow.on("error", () => {});
    const closed = new Promise<void>((resolve) => slow.once("close", () => resolve()));
    slow.write("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    const drip = setInterval(() => slow.write("a"), 100);
    try {
      assert.equal(await echoOnce(port, "meanwhile"), "meanwhile");
      await closed; // the test's own timeout fails it if the server never drops the connection
    } finally {
      clearInterval(drip);
      slow.destroy();
    }
    assert.equal(await echoOnce(port), "still here");
  });

  it("does not apply the header timeouts to an open WebSocket", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    await once(ws, "open");
    await new Promise((resolve) => setTimeout(resolve, 3500)); // past handshakeTimeout and two connection checks
    ws.send("later");
    const [echo] = (await once(ws, "message")) as [Buffer];
    assert.equal(String(echo), "later");
    ws.close();
  });

  it("logs every refusal once, and the server still serves", async () => {
    assert.ok(logger.lines.some((line) => line.includes("GET request")));
    assert.ok(logger.lines.some((line) => line.startsWith("request refused")));
    assert.equal(await echoOnce(port), "still here");
  });
});

describe("a middleware that never calls next", () => {
  @Namespace("/hangs")
  class Hangs extends mixins(HttpMiddlewareMixin) {}
  const hanging = createServer({
    handlers: [Hangs],
    host: "127.0.0.1",
    port: 0,
    logger: recordingLogger(),
    handshakeTimeout: 300,
    middleware: [() => {}],
  });
  after(() => hanging.close());

  it("gets the upgrade refused with 503 at the handshake timeout", { timeout: 60_000 }, async () => {
    const { port: p } = await hanging.listen();
    const peer = await RawPeer.connect(p, { path: "/hangs" });
    await peer.ended;
    assert.match(peer.response, /^HTTP\/1.1 503 /);
  });
});
