import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { BaseHandler, createServer, Namespace, type Server, type Socket } from "../src/index.js";
import { recordingLogger } from "./fixtures/echo.js";
import { RawPeer } from "./fixtures/raw-peer.js";
import { Client, gate, start } from "./helpers.js";

const closes: { id: string; reason: string | undefined; rooms: number }[] = [];

@Namespace("/lobby")
class Lobby extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join("lobby");
  }
  static onClose(socket: Socket) {
    closes.push({ id: socket.id, reason: socket.closeReason, rooms: socket.rooms.size });
  }
}

describe("the heartbeat", () => {
  const logger = recordingLogger();
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({ handlers: [Lobby], host: "127.0.0.1", port: 0, logger, heartbeatInterval: 100, heartbeatTimeout: 1000 });
    ({ port } = await server.listen());
  });
  after(() => server.close());

  it("terminates a peer that never answers pings, cleans its rooms and fires onClose once with the reason", {
    timeout: 60_000,
  }, async () => {
    const peer = await RawPeer.connect(port, { path: "/lobby" });
    assert.equal(peer.status, 101);
    const ping = await peer.next();
    assert.equal(ping?.opcode, 9, "the server pings");
    await peer.ended; // the test's own timeout fails it if the peer is never dropped
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closes.length, 1);
    assert.equal(closes[0]?.reason, "heartbeat timeout");
    assert.equal(server.size, 0);
    assert.equal(server.roomCount, 0);
    assert.equal(logger.lines.filter((line) => line === "socket closed: heartbeat timeout").length, 1);
  });

  it("keeps a peer that answers pings open across many intervals", { timeout: 60_000 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/lobby`);
    let pings = 0;
    ws.on("ping", () => pings++);
    await new Promise((resolve) => ws.once("open", resolve));
    while (pings < 5) await new Promise((resolve) => ws.once("ping", resolve));
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(server.size, 1);
    const closed = new Promise((resolve) => ws.once("close", resolve));
    ws.close();
    await closed;
  });
});

describe("heartbeatInterval: 0", () => {
  it("turns the heartbeat off: no pings are sent", async () => {
    const server = createServer({
      handlers: [Lobby],
      host: "127.0.0.1",
      port: 0,
      logger: recordingLogger(),
      heartbeatInterval: 0,
      heartbeatTimeout: 1,
    });
    const { port } = await server.listen();
    const peer = await RawPeer.connect(port, { path: "/lobby" });
    const first = Promise.race([peer.next(), new Promise((resolve) => setTimeout(() => resolve("nothing"), 300))]);
    assert.equal(await first, "nothing");
    peer.destroy();
    await server.close();
  });
});

describe("the heartbeat of a socket paused behind a busy hook", () => {
  const busy = gate();
  @Namespace("/busy")
  class Busy extends BaseHandler {
    static async onMessage(socket: Socket, message: string | Buffer) {
      if (message === "hold") await busy.promise;
      socket.send(message);
    }
  }
  const server = createServer({
    handlers: [Busy],
    host: "127.0.0.1",
    port: 0,
    logger: recordingLogger(),
    heartbeatInterval: 50,
    heartbeatTimeout: 100,
    maxPendingMessages: 2,
  });
  after(() => {
    busy.open();
    return server.close();
  });

  it("does not terminate a live peer while its messages wait (its pongs are not read yet)", { timeout: 60_000 }, async () => {
    const client = await Client.open(`${await start(server)}/busy`);
    const sent = ["hold", "a", "b", "c", "d", "e"];
    for (const m of sent) client.send(m);
    // Many heartbeat periods pass while the hook holds the queue and reading is paused.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    busy.open();
    assert.deepEqual(await client.received(sent.length), sent);
    await client.close();
  });
});
