import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closeReasonOf } from "../src/errors.js";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { Client, echoHandler, gate, start } from "./helpers.js";

describe("Socket", () => {
  const seen: Socket[] = [];
  let closedInHook: boolean[] = [];
  let onClosed = gate();
  @Namespace("/flood/:count")
  class Flood extends BaseHandler {
    static onMessage(socket: Socket, message: Message) {
      const count = Number(socket.params.count);
      for (let i = 0; i < count; i++) socket.send(`m${i}`);
      socket.close(4000, `sent ${count} after ${message}`);
      closedInHook.push(socket.closed);
      socket.send("dropped: the socket is closing");
    }
  }
  const Echo = echoHandler("/echo/", {
    connect: (socket) => seen.push(socket),
    close: (socket) => {
      closedInHook.push(socket.closed);
      onClosed.open();
    },
  });
  const server = createServer({ handlers: [Flood, Echo], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("flushes 1,000 queued messages in order before the close frame", async () => {
    closedInHook = [];
    const client = await Client.open(`${url}/flood/1000`);
    client.send("go");
    const { code, reason } = await client.closed;
    assert.equal(client.messages.length, 1000);
    assert.deepEqual(
      client.messages,
      Array.from({ length: 1000 }, (_, i) => `m${i}`),
    );
    assert.deepEqual({ code, reason }, { code: 4000, reason: "sent 1000 after go" });
    assert.deepEqual(closedInHook, [true], "closed is true from the moment close() is called");
  });

  it("echoes text as text and bytes as bytes, in order", async () => {
    const client = await Client.open(`${url}/echo/`);
    client.send("héllo");
    client.send(Buffer.from([0, 1, 2, 255]));
    client.send("");
    assert.deepEqual(await client.received(3), ["héllo", "bytes:000102ff", ""]);
    await client.close();
  });

  it("has a unique, unguessable id, its path, the request and its cookies", async () => {
    seen.length = 0;
    const a = await Client.open(`${url}/echo/?token=abc`, { headers: { cookie: "theme=dark; lang=fr", "x-test": "1" } });
    const b = await Client.open(`${url}/echo/`);
    a.send("sync");
    b.send("sync");
    await Promise.all([a.received(1), b.received(1)]);
    const [sa, sb] = seen as [Socket, Socket];
    assert.match(sa.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(sa.id, sb.id);
    assert.equal(sa.path, "/echo/");
    assert.deepEqual(sa.params, {});
    assert.equal(sa.request.url, "/echo/?token=abc");
    assert.equal(sa.request.headers["x-test"], "1");
    assert.equal(sa.request.remoteAddress, "127.0.0.1");
    assert.deepEqual({ ...sa.cookies }, { theme: "dark", lang: "fr" }); // a null-prototype record
    assert.deepEqual(sb.cookies, {});
    assert.equal(sa.server, server);
    assert.equal(sa.closed, false);
    await Promise.all([a.close(), b.close()]);
    assert.equal(sa.closed, true);
    assert.equal(sb.closed, true);
  });

  it("is closed with 1009 when a message is larger than maxPayload", async () => {
    const small = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0, maxPayload: 1024 });
    const client = await Client.open(`${await start(small)}/echo/`);
    client.send("x".repeat(1024));
    await client.received(1);
    client.send("x".repeat(1025));
    assert.equal((await client.closed).code, 1009);
    await small.close();
  });

  it("is closed with 1007, and gets onClose, when a text message is not valid UTF-8", async () => {
    closedInHook = [];
    onClosed = gate();
    const client = await Client.open(`${url}/echo/`);
    client.ws.send(Buffer.from([0x68, 0xff]), { binary: false });
    assert.equal((await client.closed).code, 1007);
    await onClosed.promise;
    assert.deepEqual(closedInHook, [true]);
  });

  it("is closed in onClose, and drops what is sent after closing", async () => {
    closedInHook = [];
    onClosed = gate();
    seen.length = 0;
    const client = await Client.open(`${url}/echo/`);
    client.send("one");
    await client.received(1);
    await client.close();
    await onClosed.promise;
    assert.deepEqual(closedInHook, [true]);
    await (seen[0] as Socket).send("too late"); // resolves, sends nothing, throws nothing
    (seen[0] as Socket).close(); // a second close is a no-op
  });

  /** An echo client and its server-side socket, once a first message went both ways. */
  const openEcho = async () => {
    seen.length = 0;
    const client = await Client.open(`${url}/echo/`);
    client.send("sync");
    await client.received(1);
    return { client, socket: seen[0] as Socket };
  };

  it("cuts a reason longer than 123 bytes once, at a character boundary, and sends it", async () => {
    const { client, socket } = await openEcho();
    socket.close(4000, `${"x".repeat(122)}é${"y".repeat(1_000_000)}`); // é would straddle byte 123
    const { code, reason } = await client.closed;
    assert.equal(code, 4000);
    assert.equal(reason, "x".repeat(122));
    assert.equal(socket.closeReason, "x".repeat(122));
  });

  it("throws on an invalid close code and stays open, its close reason unset", async () => {
    const { client, socket } = await openEcho();
    assert.throws(() => socket.close(1005, "reserved"), TypeError);
    assert.equal(socket.closed, false);
    assert.equal(socket.closeReason, undefined);
    client.send("still open");
    assert.deepEqual(await client.received(2), ["sync", "still open"]);
    await client.close();
  });
});

describe("closeReasonOf", () => {
  it("keeps a reason of up to 123 bytes whole, and cuts a longer one to 123 bytes or less without splitting a character", () => {
    assert.equal(closeReasonOf(""), "");
    assert.equal(closeReasonOf("a".repeat(123)), "a".repeat(123));
    assert.equal(closeReasonOf("a".repeat(124)), "a".repeat(123));
    assert.equal(closeReasonOf("é".repeat(100)), "é".repeat(61));
    assert.equal(closeReasonOf("😀".repeat(40)), "😀".repeat(30));
    for (const reason of ["é".repeat(100), "😀".repeat(40), `${"a".repeat(122)}€`, "中".repeat(50)]) {
      const cut = closeReasonOf(reason);
      assert.ok(Buffer.byteLength(cut) <= 123 && Buffer.byteLength(cut) >= 120, reason);
      assert.ok(reason.startsWith(cut), "a prefix of the reason, with no replacement character");
    }
  });
});
