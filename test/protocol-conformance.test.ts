import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Server } from "../src/index.js";
import { echoOnce, startEcho } from "./fixtures/echo.js";
import { closePayload, frame, RawPeer } from "./fixtures/raw-peer.js";

const TEXT = 1;
const BINARY = 2;
const CONTINUATION = 0;
const CLOSE = 8;
const PING = 9;

let server: Server;
let port: number;

before(async () => {
  ({ server, port } = await startEcho());
});
after(() => server.close());

/** Opens a raw peer, writes the frames, and returns the close code the server answered with. */
async function closeCodeAfter(...frames: Buffer[]): Promise<number> {
  const peer = await RawPeer.connect(port, { path: "/echo" });
  assert.equal(peer.status, 101);
  for (const f of frames) peer.write(f);
  const code = await peer.closeCode();
  peer.destroy();
  return code;
}

/** Writes `bytes` one byte per write, yielding to the event loop between the first few. */
async function dribble(peer: RawPeer, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    peer.write(bytes.subarray(i, i + 1));
    if (i < 64 || i % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("protocol conformance (raw frames after a real handshake)", () => {
  const cases: [string, () => Buffer[], number][] = [
    ["a frame with RSV1 set and no extension", () => [frame({ opcode: TEXT, payload: "x", rsv: 4 })], 1002],
    ["a frame with RSV2 set", () => [frame({ opcode: TEXT, payload: "x", rsv: 2 })], 1002],
    ["a frame with RSV3 set", () => [frame({ opcode: BINARY, payload: "x", rsv: 1 })], 1002],
    ["a reserved data opcode (3)", () => [frame({ opcode: 3, payload: "x" })], 1002],
    ["a reserved control opcode (0xB)", () => [frame({ opcode: 0xb })], 1002],
    ["a ping of 126 bytes (over the 125-byte control limit)", () => [frame({ opcode: PING, payload: Buffer.alloc(126) })], 1002],
    ["a fragmented ping", () => [frame({ opcode: PING, payload: "a", fin: false }), frame({ opcode: CONTINUATION, payload: "b" })], 1002],
    ["a continuation without a start", () => [frame({ opcode: CONTINUATION, payload: "x" })], 1002],
    [
      "a new text frame inside a fragmented message",
      () => [frame({ opcode: TEXT, payload: "a", fin: false }), frame({ opcode: TEXT, payload: "b" })],
      1002,
    ],
    [
      "invalid UTF-8 split across fragments",
      () => [
        frame({ opcode: TEXT, payload: Buffer.from([0xce, 0xba, 0xe1]), fin: false }),
        frame({ opcode: CONTINUATION, payload: Buffer.from([0xbd, 0xb9, 0xed, 0xa0, 0x80]) }),
      ],
      1007,
    ],
    ["invalid UTF-8 in a single text frame", () => [frame({ opcode: TEXT, payload: Buffer.from([0xff, 0xfe]) })], 1007],
    ["a close frame with a 1-byte payload", () => [frame({ opcode: CLOSE, payload: Buffer.from([3]) })], 1002],
    [
      "a close frame with invalid UTF-8 in its reason",
      () => [frame({ opcode: CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) })],
      1007,
    ],
    ["an unmasked client frame", () => [frame({ opcode: TEXT, payload: "x", mask: false })], 1002],
  ];
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    cases.push([`a close frame with the invalid code ${code}`, () => [frame({ opcode: CLOSE, payload: closePayload(code) })], 1002]);
  }
  for (const [name, frames, expected] of cases) {
    it(`closes with ${expected} on ${name}, and a fresh client is still echoed`, { timeout: 60_000 }, async () => {
      assert.equal(await closeCodeAfter(...frames()), expected);
      assert.equal(await echoOnce(port), "still here");
    });
  }

  for (const code of [1000, 1001, 3000, 4999]) {
    it(`answers a close frame with the valid code ${code} with the same code`, async () => {
      assert.equal(await closeCodeAfter(frame({ opcode: CLOSE, payload: closePayload(code, "bye") })), code);
    });
  }

  for (const size of [0, 125, 126, 65535, 65536]) {
    it(`echoes a ${size}-byte binary message written one byte at a time`, async () => {
      const peer = await RawPeer.connect(port, { path: "/echo" });
      const payload = Buffer.alloc(size, 0x5a);
      if (size > 0) payload[size - 1] = 0x21;
      await dribble(peer, frame({ opcode: BINARY, payload }));
      const echo = await peer.next();
      assert.equal(echo?.opcode, BINARY);
      assert.equal(echo?.payload.length, size);
      assert.ok(echo?.payload.equals(payload));
      peer.write(frame({ opcode: CLOSE, payload: closePayload(1000) }));
      assert.equal(await peer.closeCode(), 1000);
      peer.destroy();
    });
  }

  it("answers a ping between fragments with a pong, then handles the message", async () => {
    const peer = await RawPeer.connect(port, { path: "/echo" });
    peer.write(frame({ opcode: TEXT, payload: "Hel", fin: false }));
    peer.write(frame({ opcode: PING, payload: "are you there" }));
    peer.write(frame({ opcode: CONTINUATION, payload: "lo" }));
    const pong = await peer.next();
    assert.equal(pong?.opcode, 0xa);
    assert.equal(pong?.payload.toString(), "are you there");
    const echo = await peer.next();
    assert.equal(echo?.opcode, TEXT);
    assert.equal(echo?.payload.toString(), "Hello");
    peer.destroy();
  });
});
