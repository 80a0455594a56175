import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, type Message, Namespace, type Server, type Socket } from "../src/index.js";
import { Client, start } from "./helpers.js";

// Received strings sent on go out as the bytes they came in as (src/socket/text-bytes.ts): what a
// peer receives must be the same text, as a text frame, whether the string is the one just
// received, an older one, a new one, or broadcast to a room.
@Namespace("/relay")
class Relay extends BaseHandler {
  static previous = new Map<Socket, string>();
  static onConnect(socket: Socket) {
    socket.join("room");
  }
  static onMessage(socket: Socket, message: Message) {
    const text = message as string;
    socket.send(text); // the string just received
    socket.send(text.toUpperCase()); // a new string
    const before = Relay.previous.get(socket);
    if (before !== undefined) socket.send(`previous: ${before}`); // built from an older one
    if (before !== undefined) socket.send(before); // an older received string, not the last one
    Relay.previous.set(socket, text);
    socket.server.to("room").send(text);
  }
}

describe("sending received text on", () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer({ handlers: [Relay], host: "127.0.0.1", port: 0 });
    url = await start(server);
  });
  after(() => server.close());

  it("delivers the same text, as text frames, to the sender and the room", async () => {
    const a = await Client.open(`${url}/relay`);
    const b = await Client.open(`${url}/relay`);
    a.send("café ✓ 😀");
    assert.deepEqual(await a.received(3), ["café ✓ 😀", "CAFÉ ✓ 😀", "café ✓ 😀"]);
    assert.deepEqual(await b.received(1), ["café ✓ 😀"]);
    a.send("second");
    assert.deepEqual((await a.received(8)).slice(3), ["second", "SECOND", "previous: café ✓ 😀", "café ✓ 😀", "second"]);
    assert.deepEqual(await b.received(2), ["café ✓ 😀", "second"]);
    await a.close();
    await b.close();
  });
});
