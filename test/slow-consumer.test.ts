import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { WebSocket } from "ws";
import { BaseHandler, createServer, Namespace, type Server, type ServerOptions, type Socket } from "../src/index.js";
import { recordingLogger } from "./fixtures/echo.js";
import { RawPeer } from "./fixtures/raw-peer.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;

const members: Socket[] = [];
const closeReasons = new Map<string, string | undefined>();

@Namespace("/feed")
class Feed extends BaseHandler {
  static onConnect(socket: Socket) {
    members.push(socket);
    socket.join("feed");
  }
  static onClose(socket: Socket) {
    closeReasons.set(socket.id, socket.closeReason);
  }
}

async function start(options: ServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer({ handlers: [Feed], host: "127.0.0.1", port: 0, logger: recordingLogger(), ...options });
  const { port } = await server.listen();
  return { server, port };
}

/** A numbered message of `size` bytes: the number in its first 4 bytes. */
function numbered(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0x2e);
  b.writeUInt32BE(seq);
  return b;
}

/** Connects a raw peer that stops reading right after the handshake. */
async function stalledPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port, { path: "/feed" });
  peer.socket.pause();
  return peer;
}

describe('slowConsumer: "close" (the default), on a broadcast to 1,000 sockets with one stalled reader', () => {
  let server: Server;
  let port: number;
  const clients: WebSocket[] = [];
  let stalled: RawPeer;
  before(async () => {
    members.length = 0;
    ({ server, port } = await start({ maxBufferedBytes: 64 * 1024, closeTimeout: 300 }));
    stalled = await stalledPeer(port);
    for (let batch = 0; batch < 999; batch += 50) {
      const opened = [];
      for (let i = batch; i < Math.min(999, batch + 50); i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/feed`);
        clients.push(ws);
        opened.push(new Promise((resolve) => ws.once("open", resolve)));
      }
      await Promise.all(opened);
    }
    while (server.size < 1000) await new Promise((resolve) => setTimeout(resolve, 10));
  });
  after(async () => {
    stalled.destroy();
    for (const ws of clients) ws.terminate();
    await server.close();
  });

  it("closes the stalled reader as a slow consumer, keeps memory bounded, and every other member gets every message in order", {
    timeout: 60_000,
  }, async () => {
    const SIZE = 32 * 1024;
    let received = 0;
    let outOfOrder = 0;
    for (const ws of clients) {
      let expected = 0;
      ws.on("message", (data: Buffer) => {
        if (data.readUInt32BE(0) !== expected || data.length !== SIZE) outOfOrder++;
        expected++;
        received++;
      });
    }
    const stalledSocket = members[0] as Socket;
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let sent = 0;
    let afterClose = 0;
    // Each message waits for every fast member, so only the stalled reader can fall behind.
    while (sent < 2000 && afterClose < 20) {
      server.to("feed").send(numbered(sent, SIZE));
      sent++;
      while (received < sent * 999) await new Promise((resolve) => setImmediate(resolve));
      if (stalledSocket.closed) afterClose++;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    while (server.size > 999) await new Promise((resolve) => setTimeout(resolve, 10));
    // A terminated socket's write queue is released over the next few turns: collect until it is.
    let end = process.memoryUsage();
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      gc();
      end = process.memoryUsage();
      if ((end.arrayBuffers - before.arrayBuffers) / MiB < 4) break;
    }
    const buffersGrew = (end.arrayBuffers - before.arrayBuffers) / MiB;
    console.log(
      `# ${sent} messages of ${SIZE / 1024} KiB to 1,000 sockets; rss ${(before.rss / MiB).toFixed(0)} → peak ${(peakRss / MiB).toFixed(0)} MiB, buffers held after: ${buffersGrew.toFixed(1)} MiB`,
    );
    assert.equal(closeReasons.get(stalledSocket.id), "slow consumer");
    assert.equal(outOfOrder, 0);
    assert.equal(received, sent * 999);
    assert.ok(buffersGrew < 4, `buffers still held: ${buffersGrew} MiB`);
    assert.ok((peakRss - before.rss) / MiB < 300, "rss stays bounded");
  });
});

describe("the drop policies, with one stalled reader", () => {
  for (const policy of ["drop-newest", "drop-oldest"] as const) {
    it(`${policy}: keeps the socket open, counts drops, and delivers what it kept in order`, async () => {
      members.length = 0;
      const { server, port } = await start({ maxBufferedBytes: 64 * 1024, slowConsumer: policy });
      try {
        const peer = await stalledPeer(port);
        while (members.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
        const socket = members[0] as Socket;
        const SIZE = 8 * 1024;
        const TOTAL = 2000; // 16 MiB: far more than the kernel's buffers and the mark
        for (let i = 0; i < TOTAL; i++) {
          socket.send(numbered(i, SIZE));
          if (i % 64 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
        assert.equal(socket.closed, false);
        assert.ok(socket.droppedMessages > 0, "some messages were dropped");
        peer.socket.resume();
        const seen: number[] = [];
        while (seen.length < TOTAL - socket.droppedMessages) {
          const frame = await peer.next();
          assert.ok(frame !== undefined);
          seen.push(frame.payload.readUInt32BE(0));
        }
        assert.ok(
          seen.every((n, i) => i === 0 || n > (seen[i - 1] as number)),
          "in order",
        );
        assert.equal(seen[0], 0);
        if (policy === "drop-oldest") assert.equal(seen.at(-1), TOTAL - 1, "the newest message is kept");
        else assert.ok((seen.at(-1) as number) < TOTAL - 1, "the newest messages were dropped");
        console.log(`# ${policy}: ${socket.droppedMessages} of ${TOTAL} dropped, ${seen.length} delivered`);
        peer.destroy();
      } finally {
        await server.close();
      }
    });
  }

  it("drop-oldest: close() sends what its own queue holds before the close frame", async () => {
    members.length = 0;
    const { server, port } = await start({ maxBufferedBytes: 64 * 1024, slowConsumer: "drop-oldest" });
    try {
      const peer = await stalledPeer(port);
      while (members.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      const socket = members[0] as Socket;
      for (let i = 0; i < 1000; i++) {
        socket.send(numbered(i, 8 * 1024));
        if (i % 64 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      socket.close(1000, "done");
      peer.socket.resume();
      let last = -1;
      for (;;) {
        const frame = await peer.next();
        assert.ok(frame !== undefined, "a close frame arrives");
        if (frame.opcode === 8) {
          assert.equal(frame.payload.readUInt16BE(0), 1000);
          break;
        }
        last = frame.payload.readUInt32BE(0);
      }
      assert.equal(last, 999);
      peer.destroy();
    } finally {
      await server.close();
    }
  });
});
