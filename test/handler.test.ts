import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WebSocket } from "ws";
import { BaseHandler, BaseMixin, createServer, type Message, mixins, Namespace, type Socket } from "../src/index.js";

describe("a handler with three mixins", () => {
  const order: string[] = [];
  class A extends BaseMixin {
    static override onMessage = (_s: Socket, m: Message) => {
      order.push("A");
      return `${m}a`;
    };
  }
  class B extends BaseMixin {
    static override onMessage = async (_s: Socket, m: Message) => {
      order.push("B");
      return `${m}b`;
    };
  }
  class C extends BaseMixin {
    static override onMessage = (_s: Socket, _m: Message) => {
      order.push("C");
    };
  }
  @Namespace("/three/")
  class Three extends mixins(A, B, C) {
    static override onMessage(socket: Socket, message: Message) {
      order.push("handler");
      socket.send(message);
    }
  }
  const server = createServer({ handlers: [Three], host: "127.0.0.1", port: 0 });
  after(() => server.close());

  it("runs mixins right to left, then the handler, with transforms composed", async () => {
    const { port } = await server.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/three/`);
    await new Promise((r) => ws.once("open", r));
    ws.send("x");
    const [reply] = await new Promise<[Buffer]>((r) => ws.once("message", (...a) => r(a as unknown as [Buffer])));
    assert.equal(reply.toString(), "xba");
    assert.deepEqual(order, ["C", "B", "A", "handler"]);
    ws.close();
  });
});

describe("BaseHandler", () => {
  it("does nothing by default", () => {
    assert.equal(BaseHandler.onConnect({} as Socket, "/"), undefined);
  });
});
