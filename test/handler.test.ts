import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, BaseMixin, createServer, type Message, mixins, Namespace, type Socket } from "../src/index.js";
import { Client, gate, quietLogger, start, until } from "./helpers.js";

describe("a handler with three mixins", () => {
  const order: string[] = [];
  class A extends BaseMixin {
    static override onConnect = () => void order.push("connect A");
    static override onMessage = (_s: Socket, m: Message) => {
      order.push("A");
      return `${m}a`;
    };
    static override onClose = () => void order.push("close A");
  }
  class B extends BaseMixin {
    static override onConnect = async () => void order.push("connect B");
    static override onMessage = async (_s: Socket, m: Message) => {
      order.push("B");
      await new Promise((r) => setImmediate(r));
      return `${m}b`;
    };
    static override onClose = async () => void order.push("close B");
  }
  class C extends BaseMixin {
    static override onConnect = () => void order.push("connect C");
    static override onMessage = (_s: Socket, _m: Message) => {
      order.push("C"); // returns nothing: the message goes on unchanged
    };
    static override onClose = () => void order.push("close C");
  }
  class Upper extends BaseMixin {
    static override onMessage = (_s: Socket, m: Message) => (typeof m === "string" ? m.toUpperCase() : m);
  }
  let closed!: () => void;
  const handlerClosed = new Promise<void>((r) => (closed = r));
  @Namespace("/three/")
  class Three extends mixins(A, B, C) {
    static override onConnect(socket: Socket, path: string) {
      assert.equal(path, socket.path);
      order.push(`connect handler ${path}`);
    }
    static override onMessage(socket: Socket, message: Message) {
      order.push("handler");
      socket.send(message);
    }
    static override onClose() {
      order.push("close handler");
      closed();
    }
  }
  @Namespace("/upper-last/")
  class UpperLast extends mixins(Upper, B) {
    static override onMessage(socket: Socket, message: Message) {
      socket.send(message);
    }
  }
  @Namespace("/upper-first/")
  class UpperFirst extends mixins(B, Upper) {
    static override onMessage(socket: Socket, message: Message) {
      socket.send(message);
    }
  }
  const server = createServer({ handlers: [Three, UpperLast, UpperFirst], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("runs every hook right to left (C, B, A), then the handler's, for connect, message and close", async () => {
    const client = await Client.open(`${url}/three/`);
    client.send("x");
    assert.deepEqual(await client.received(1), ["xba"]);
    await client.close();
    await handlerClosed;
    assert.deepEqual(order, [
      ...["connect C", "connect B", "connect A", "connect handler /three/"],
      ...["C", "B", "A", "handler"],
      ...["close C", "close B", "close A", "close handler"],
    ]);
  });

  it("composes transforms of sync and async mixins in chain order", async () => {
    const last = await Client.open(`${url}/upper-last/`);
    const first = await Client.open(`${url}/upper-first/`);
    last.send("x");
    first.send("x");
    // mixins(Upper, B): B runs first (x -> xb), then Upper (XB). mixins(B, Upper): X, then Xb.
    assert.deepEqual(await last.received(1), ["XB"]);
    assert.deepEqual(await first.received(1), ["Xb"]);
    await Promise.all([last.close(), first.close()]);
  });
});

describe("a hook that throws or rejects", () => {
  const logger = quietLogger();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const closes: string[] = [];
  @Namespace("/fragile/")
  class Fragile extends BaseHandler {
    static override async onMessage(socket: Socket, message: Message) {
      if (message === "throw") throw new Error("sync-looking failure in an async hook");
      socket.send(`ok ${message}`);
    }
    static override onClose(socket: Socket) {
      closes.push(socket.id);
    }
  }
  @Namespace("/sync-throw/")
  class SyncThrow extends BaseHandler {
    static override onMessage(socket: Socket, message: Message) {
      if (message === "throw") throw new TypeError("a bug in a handler");
      socket.send(`ok ${message}`);
    }
  }
  class Rejecting extends BaseMixin {
    static override onConnect = () => Promise.reject(new Error("a rejected onConnect"));
  }
  @Namespace("/rejecting-connect/")
  class RejectingConnect extends mixins(Rejecting) {
    static override onMessage(socket: Socket) {
      socket.send("should not run");
    }
  }
  let closeRejected = gate();
  @Namespace("/rejecting-close/")
  class RejectingClose extends BaseHandler {
    static override async onClose() {
      setImmediate(closeRejected.open);
      throw new Error("a rejected onClose");
    }
  }
  const server = createServer({ handlers: [Fragile, SyncThrow, RejectingConnect, RejectingClose], host: "127.0.0.1", port: 0, logger });
  let url: string;
  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    url = await start(server);
  });
  after(async () => {
    process.off("unhandledRejection", onUnhandled);
    await server.close();
  });

  for (const path of ["/fragile/", "/sync-throw/"]) {
    it(`closes only the failing socket with 1011 (${path})`, async () => {
      const bystander = await Client.open(`${url}${path}`);
      const victim = await Client.open(`${url}${path}`);
      const errorsBefore = logger.errors.length;
      victim.send("throw");
      assert.deepEqual(await victim.closed, { code: 1011, reason: "internal error" });
      bystander.send("still here");
      assert.deepEqual(await bystander.received(1), ["ok still here"]);
      assert.equal(logger.errors.length, errorsBefore + 1, "the error is logged once");
      await bystander.close();
    });
  }

  it("closes with 1011 when an async onConnect rejects, and the handler never runs", async () => {
    const client = await Client.open(`${url}/rejecting-connect/`);
    client.send("hello");
    assert.equal((await client.closed).code, 1011);
    assert.deepEqual(client.messages, []);
  });

  it("logs an onClose that rejects, and carries on", async () => {
    closeRejected = gate();
    const errorsBefore = logger.errors.length;
    const client = await Client.open(`${url}/rejecting-close/`);
    await client.close();
    await closeRejected.promise;
    await until(() => logger.errors.length === errorsBefore + 1, "the error to be logged");
    assert.equal(server.size, 0);
  });

  it("leaves no unhandled rejection behind", async () => {
    await new Promise((r) => setTimeout(r, 50)); // let any stray rejection reach the process
    assert.deepEqual(unhandled, []);
  });
});

describe("BaseHandler", () => {
  it("has hooks that do nothing by default", () => {
    assert.equal(BaseHandler.onConnect({} as Socket, "/"), undefined);
    assert.equal(BaseHandler.onMessage({} as Socket, "m"), undefined);
    assert.equal(BaseHandler.onClose({} as Socket), undefined);
  });
});
