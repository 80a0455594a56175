import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { constants, deflateRawSync } from "node:zlib";
import { WebSocket } from "ws";
import type { Server } from "../src/index.js";
import { echoOnce, startEcho } from "./fixtures/echo.js";
import { frame, RawPeer } from "./fixtures/raw-peer.js";

const MiB = 1024 * 1024;

/** Opens a ws client, sends one message and resolves to the close code the server sent. */
async function closeCodeFor(port: number, data: Buffer | string, options: { perMessageDeflate?: boolean } = {}): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, options);
  ws.on("error", () => {});
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(data);
  return new Promise((resolve) => ws.once("close", (code) => resolve(code)));
}

describe("the default message limits", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startEcho());
  });
  after(() => server.close());

  it("close a message over 1 MiB with 1009", async () => {
    assert.equal(await closeCodeFor(port, Buffer.alloc(MiB + 1)), 1009);
    assert.equal(await echoOnce(port), "still here");
  });

  it("accept a message of exactly 1 MiB", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    await new Promise((resolve) => ws.once("open", resolve));
    ws.send(Buffer.alloc(MiB, 1));
    const echo = await new Promise<Buffer>((resolve) => ws.once("message", (data) => resolve(data as Buffer)));
    assert.equal(echo.length, MiB);
    ws.close();
  });

  it("do not negotiate permessage-deflate", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: true });
    await new Promise((resolve) => ws.once("open", resolve));
    assert.equal(ws.extensions, "");
    ws.close();
  });

  it("bound a message's fragments: 20,000 one-byte fragments close with 1008", async () => {
    const peer = await RawPeer.connect(port, { path: "/echo" });
    const parts = [frame({ opcode: 2, payload: "x", fin: false })];
    for (let i = 0; i < 20_000; i++) parts.push(frame({ opcode: 0, payload: "x", fin: false }));
    peer.write(Buffer.concat(parts));
    assert.equal(await peer.closeCode(), 1008);
    peer.destroy();
    assert.equal(await echoOnce(port), "still here");
  });

  it("still accept a message in 1,000 fragments", async () => {
    const peer = await RawPeer.connect(port, { path: "/echo" });
    const parts = [frame({ opcode: 1, payload: "a", fin: false })];
    for (let i = 0; i < 998; i++) parts.push(frame({ opcode: 0, payload: "b", fin: false }));
    parts.push(frame({ opcode: 0, payload: "c" }));
    peer.write(Buffer.concat(parts));
    const echo = await peer.next();
    assert.equal(echo?.payload.toString(), `a${"b".repeat(998)}c`);
    peer.destroy();
  });
});

describe("permessage-deflate, when enabled", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startEcho({ perMessageDeflate: true }));
  });
  after(() => server.close());

  it("is negotiated and compressed messages are echoed", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: true });
    await new Promise((resolve) => ws.once("open", resolve));
    assert.match(ws.extensions, /permessage-deflate/);
    ws.send("a".repeat(10_000));
    const echo = await new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
    assert.equal(echo, "a".repeat(10_000));
    ws.close();
  });

  it("applies maxPayload after inflation: a 50 MiB zero bomb closes with 1009 and memory stays flat", async () => {
    const bomb = deflateRawSync(Buffer.alloc(50 * MiB), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4); // without the 00 00 ff ff tail, as the extension sends it
    assert.ok(bomb.length < 100 * 1024, `the bomb is small on the wire (${bomb.length} bytes)`);
    const peer = await RawPeer.connect(port, { path: "/echo", headers: ["Sec-WebSocket-Extensions: permessage-deflate"] });
    assert.match(peer.response, /permessage-deflate/);
    const before = process.memoryUsage();
    let peak = before.rss;
    let peakBuffers = before.arrayBuffers;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.rss);
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
    }, 1);
    peer.write(frame({ opcode: 2, payload: bomb, rsv: 4 }));
    const code = await peer.closeCode();
    clearInterval(sampler);
    peer.destroy();
    assert.equal(code, 1009);
    const grewBy = (peak - before.rss) / MiB;
    const buffersGrewBy = (peakBuffers - before.arrayBuffers) / MiB;
    console.log(`# bomb: rss +${grewBy.toFixed(1)} MiB at peak, buffers +${buffersGrewBy.toFixed(1)} MiB`);
    assert.ok(buffersGrewBy < 16, `buffers grew by ${buffersGrewBy} MiB`);
    assert.ok(grewBy < 40, `rss grew by ${grewBy} MiB`);
    assert.equal(await echoOnce(port), "still here");
  });
});

describe("UTF-8 validation", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startEcho({ perMessageDeflate: true }));
  });
  after(() => server.close());

  it("is on with compression too: invalid UTF-8 inside a compressed text message closes with 1007", async () => {
    const peer = await RawPeer.connect(port, { path: "/echo", headers: ["Sec-WebSocket-Extensions: permessage-deflate"] });
    const payload = deflateRawSync(Buffer.from([0x61, 0xc3, 0x28]), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    peer.write(frame({ opcode: 1, payload, rsv: 4 }));
    assert.equal(await peer.closeCode(), 1007);
    peer.destroy();
  });
});
