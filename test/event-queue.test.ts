import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { Socket as NetSocket } from "node:net";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { Client, gate, start, until } from "./helpers.js";

describe("the events of one socket", () => {
  const handled: string[] = [];
  const closes = new Map<string, number>();
  let onCloseSeen = gate();
  @Namespace("/slow-connect/")
  class SlowConnect extends BaseHandler {
    static async onConnect(socket: Socket) {
      await new Promise((r) => setTimeout(r, 200)); // messages pile up meanwhile
      socket.data.ready = true;
    }
    static async onMessage(socket: Socket, message: Message) {
      assert.equal(socket.data.ready, true, "no message before onConnect has finished");
      handled.push(String(message));
      if (Number(message) % 7 === 0) await new Promise((r) => setImmediate(r)); // some async, some not
      socket.send(message);
    }
    static onClose(socket: Socket) {
      closes.set(socket.id, (closes.get(socket.id) ?? 0) + 1);
      onCloseSeen.open();
    }
  }
  const server = createServer({ handlers: [SlowConnect], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("handles 50 messages sent right after open, in order, once a slow onConnect is done", async () => {
    handled.length = 0;
    const client = await Client.open(`${url}/slow-connect/`);
    const sent = Array.from({ length: 50 }, (_, i) => String(i));
    for (const m of sent) client.send(m);
    assert.deepEqual(await client.received(50), sent);
    assert.deepEqual(handled, sent);
    await client.close();
  });

  it("runs onClose exactly once when the peer vanishes without a close frame", async () => {
    onCloseSeen = gate();
    const client = await Client.open(`${url}/slow-connect/`);
    client.send("1");
    await client.received(1);
    const id = [...closes.keys()];
    client.ws.terminate(); // TCP gone, no close frame
    await onCloseSeen.promise;
    await until(() => server.size === 0, "the server to forget the socket");
    await new Promise((r) => setTimeout(r, 50)); // room for a (wrong) second onClose
    const fresh = [...closes.entries()].filter(([k]) => !id.includes(k));
    assert.equal(fresh.length, 1);
    assert.equal(fresh[0]?.[1], 1);
  });
});

describe("a peer that vanishes during an async onConnect", () => {
  const events: string[] = [];
  const connectHeld = gate();
  const connectStarted = gate();
  const closed = gate();
  @Namespace("/held/")
  class Held extends BaseHandler {
    static async onConnect() {
      events.push("connect start");
      connectStarted.open();
      await connectHeld.promise;
      events.push("connect end");
    }
    static onMessage(_socket: Socket, message: Message) {
      events.push(`message ${message}`);
    }
    static onClose() {
      events.push("close");
      closed.open();
    }
  }
  const server = createServer({ handlers: [Held], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("gets onClose once, after onConnect and the messages the peer sent before it vanished", async () => {
    const client = await Client.open(`${url}/held/`);
    client.send("sent before the end");
    await connectStarted.promise;
    client.ws.terminate();
    await until(() => server.size === 0, "the server to see the socket go");
    assert.deepEqual(events, ["connect start"], "onClose waits for the running onConnect");
    connectHeld.open();
    await closed.promise;
    await new Promise((r) => setTimeout(r, 50)); // room for a (wrong) second onClose
    assert.deepEqual(events, ["connect start", "connect end", "message sent before the end", "close"]);
  });
});

describe("the bounded wait queue", () => {
  const limit = 8;
  const size = 16 * 1024;
  const count = 400; // 6.4 MB: far more than the kernel and stream buffers hold
  let hold = gate();
  let first = gate();
  const handled: number[] = [];
  @Namespace("/blocking/")
  class Blocking extends BaseHandler {
    static async onMessage(socket: Socket, message: Message) {
      const n = (message as Buffer).readUInt32BE(0);
      handled.push(n);
      if (n === 0) {
        first.open();
        await hold.promise;
      }
      if (n === count - 1) socket.send(`done ${handled.length}`);
    }
  }
  const http = createHttpServer();
  let raw: NetSocket | undefined;
  http.on("upgrade", (req, socket) => {
    if (req.url === "/blocking/") raw = socket as NetSocket;
  });
  const server = createServer({ handlers: [Blocking], server: http, maxPendingMessages: limit });
  let url: string;
  before(async () => {
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    url = await start(server);
  });
  after(async () => {
    await server.close();
    http.close();
  });

  it("stops reading from a socket whose hook blocks, then catches up with nothing lost", async () => {
    hold = gate();
    first = gate();
    handled.length = 0;
    const client = await Client.open(`${url}/blocking/`);
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(size);
      payload.writeUInt32BE(i, 0);
      client.send(payload);
    }
    await first.promise;
    await until(() => raw?.isPaused() === true, "the server to pause reading");
    // Give a server that does not pause every chance to read on; it must not.
    await new Promise((r) => setTimeout(r, 300));
    const total = count * size;
    assert.ok(raw !== undefined);
    assert.ok(raw.isPaused(), "the raw socket stays paused while the hook blocks");
    assert.ok(raw.bytesRead < total / 4, `read ${raw.bytesRead} of ${total} bytes while blocked`);
    assert.ok(client.ws.bufferedAmount > 0, "the client holds what the server will not read");
    assert.deepEqual(handled, [0], "nothing else ran while the first hook blocked");
    hold.open();
    assert.deepEqual(await client.received(1), [`done ${count}`]);
    assert.deepEqual(
      handled,
      Array.from({ length: count }, (_, i) => i),
    );
    assert.equal(raw.isPaused(), false);
    await client.close();
  });
});
