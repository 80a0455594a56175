import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WebSocket } from "ws";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";

/** Collects what a client receives until the server closes the connection. */
function receiveAll(ws: WebSocket): Promise<{ messages: string[]; code: number }> {
  const messages: string[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => messages.push(isBinary ? `bin:${data.length}` : data.toString()));
  return new Promise((resolve) => ws.once("close", (code) => resolve({ messages, code })));
}

const open = (ws: WebSocket) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));

describe("frames written in one event-loop turn (corked, then flushed together)", () => {
  const big = "y".repeat(40_000); // above the size at which a broadcast frame stays in two parts

  @Namespace("/burst")
  class Burst extends BaseHandler {
    static onConnect(socket: Socket): void {
      socket.join("all");
    }
    static onMessage(socket: Socket, message: Message): void {
      if (message === "burst") {
        for (let i = 0; i < 100; i++) socket.send(`m${i}`);
        socket.close(4000, "done");
      } else if (message === "mixed") {
        socket.send("a");
        socket.server.to("all").send("b");
        socket.send(Buffer.alloc(3));
        socket.server.to("all").send(big);
        socket.server.to("all").send(Buffer.alloc(5));
        socket.send("c");
        socket.close(4001, "mixed done");
      }
    }
  }
  const server = createServer({ handlers: [Burst], host: "127.0.0.1", port: 0 });
  after(() => server.close());

  it("delivers every frame, in order, before the close frame that follows them", async () => {
    const { port } = await server.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/burst`);
    await open(ws);
    const done = receiveAll(ws);
    ws.send("burst");
    const { messages, code } = await done;
    assert.deepEqual(
      messages,
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    assert.equal(code, 4000);
  });

  it("keeps broadcasts and direct sends of one turn in the order they were made, small and large", async () => {
    const { port } = await server.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/burst`);
    await open(ws);
    const done = receiveAll(ws);
    ws.send("mixed");
    const { messages, code } = await done;
    assert.deepEqual(messages, ["a", "b", "bin:3", big, "bin:5", "c"]);
    assert.equal(code, 4001);
  });

  it("flushes each of many sockets written in the same turn", async () => {
    const { port } = await server.listen();
    const clients = Array.from({ length: 20 }, () => new WebSocket(`ws://127.0.0.1:${port}/burst`));
    await Promise.all(clients.map(open));
    const received = clients.map((ws) => new Promise<string>((resolve) => ws.once("message", (data: Buffer) => resolve(data.toString()))));
    (clients[0] as WebSocket).send("mixed"); // its broadcast "b" reaches all twenty in one turn
    const [first, ...others] = await Promise.all(received);
    assert.equal(first, "a");
    for (const text of others) assert.equal(text, "b");
    for (const ws of clients) ws.close();
  });
});
