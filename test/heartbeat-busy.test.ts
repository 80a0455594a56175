// Issue 11 item 3: with heartbeatInterval 200 ms / heartbeatTimeout 400 ms, a peer uploading one
// 1 MiB frame slowly, or still reading a large server message, is busy, not dead: the heartbeat
// must not terminate it (main terminated both at ~600 ms). The reader's test runs with a 1.5 s
// timeout and reads for longer than interval + timeout (see there).
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, type Message, namespace, type Server, type Socket } from "../src/index.js";
import { recordingLogger } from "./fixtures/echo.js";
import { frame, RawPeer } from "./fixtures/raw-peer.js";

const MiB = 1024 * 1024;
// More than loopback's socket buffers hold (tcp_rmem's maximum is 32 MiB on some hosts, plus the
// sender's 4 MiB), so the server still has bytes of its own to send while the reader is paced.
const BIG = 64 * MiB;
const closeReasons: (string | undefined)[] = [];

class Upload extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    socket.send(`got ${message.length}`);
  }
  static onClose(socket: Socket) {
    closeReasons.push(socket.closeReason);
  }
}
namespace("/upload/", Upload);

class Download extends BaseHandler {
  static onConnect(socket: Socket) {
    void socket.send(Buffer.alloc(BIG, 7));
  }
  static onClose(socket: Socket) {
    closeReasons.push(socket.closeReason);
  }
}
namespace("/download/", Download);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the heartbeat and a busy peer (interval 200 ms, timeout 400 ms)", () => {
  const logger = recordingLogger();
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({
      handlers: [Upload, Download],
      host: "127.0.0.1",
      port: 0,
      logger,
      heartbeatInterval: 200,
      heartbeatTimeout: 400,
      maxBufferedBytes: 128 * MiB,
    });
    ({ port } = await server.listen());
  });
  after(() => server.close());

  it("keeps a peer that uploads one 1 MiB frame over ~1.6 s, and handles the message", { timeout: 30_000 }, async () => {
    const peer = await RawPeer.connect(port, { path: "/upload/" });
    assert.equal(peer.status, 101);
    const whole = frame({ opcode: 2, payload: Buffer.alloc(MiB, 1) });
    const chunks = 16;
    const size = Math.ceil(whole.length / chunks);
    const started = performance.now();
    for (let i = 0; i < chunks; i++) {
      assert.equal(peer.socket.destroyed, false, `still connected after ${Math.round(performance.now() - started)} ms`);
      peer.write(whole.subarray(i * size, (i + 1) * size));
      await sleep(100);
    }
    assert.ok(performance.now() - started >= 1500, "the upload outlasted interval + timeout several times");
    for (;;) {
      const next = await peer.next();
      assert.ok(next, `the connection ended before the reply (closeReason ${closeReasons.at(-1)})`);
      if (next.opcode === 1) {
        assert.equal(next.payload.toString(), `got ${MiB}`);
        break;
      }
    }
    peer.destroy();
  });

  it("keeps a peer that reads a 64 MiB message slowly (over 2 s), which receives all of it", { timeout: 30_000 }, async () => {
    // Its own server: the same 200 ms interval, and a 1.5 s timeout for the last phase below, where
    // the reader must drain what the kernel holds (up to ~36 MiB) before the timeout: 400 ms cut it
    // in one of this session's three fresh-clone CI runs, when the VM stalled (at 1,847 ms).
    const slowServer = createServer({
      handlers: [Download],
      host: "127.0.0.1",
      port: 0,
      logger,
      heartbeatInterval: 200,
      heartbeatTimeout: 1_500,
      maxBufferedBytes: 128 * MiB,
    });
    const { port } = await slowServer.listen();
    try {
      await readSlowly(port);
    } finally {
      await slowServer.close();
    }
  });
});

/** Opens /download/ on `port` and reads its 64 MiB message as a slow but live reader (below). */
async function readSlowly(port: number): Promise<void> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.setNoDelay(true);
  socket.write(
    "GET /download/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let received = 0;
  let ended = false;
  socket.on("close", () => (ended = true));
  socket.on("error", () => {});
  // Read 2 MiB, pause 200 ms, and so on (about 2.4 s for the first 24 MiB, past interval +
  // timeout): a slow but live reader. The last 40 MiB are read at full speed: once the server has
  // handed everything to the kernel, its ping waits behind what the socket buffers hold, and this
  // raw reader, which never answers pings, has the timeout (from then on) to read it.
  socket.on("data", (chunk: Buffer) => {
    const before = received;
    received += chunk.length;
    if (received < BIG - 40 * MiB && Math.floor(received / (2 * MiB)) > Math.floor(before / (2 * MiB))) {
      socket.pause();
      setTimeout(() => socket.resume(), 200);
    }
  });
  const started = performance.now();
  while (received < BIG && !ended) await sleep(20);
  assert.ok(!ended, `the reader was cut after ${Math.round(performance.now() - started)} ms (closeReason ${closeReasons.at(-1)})`);
  assert.ok(performance.now() - started >= 1700, "reading took longer than interval + timeout");
  socket.destroy();
}
