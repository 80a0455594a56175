import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, BaseMixin, createServer, type Message, mixins, Namespace, type Socket } from "../src/index.js";
import { Client, gate, quietLogger, start, until } from "./helpers.js";

describe("a handler with three mixins", () => {
  const order: string[] = [];
  class A extends BaseMixin {
    static onConnect = () => void order.push("connect A");
    static onMessage = (_s: Socket, m: Message) => {
      order.push("A");
      return `${m}a`;
    };
    static onClose = () => void order.push("close A");
  }
  class B extends BaseMixin {
    static onConnect = async () => void order.push("connect B");
    static onMessage = async (_s: Socket, m: Message) => {
      order.push("B");
      await new Promise((r) => setImmediate(r));
      return `${m}b`;
    };
    static onClose = async () => void order.push("close B");
  }
  class C extends BaseMixin {
    static onConnect = () => void order.push("connect C");
    static onMessage = (_s: Socket, _m: Message) => {
      order.push("C"); // returns nothing: the message goes on unchanged
    };
    static onClose = () => void order.push("close C");
  }
  class Upper extends BaseMixin {
    static onMessage = (_s: Socket, m: Message) => (typeof m === "string" ? m.toUpperCase() : m);
  }
  let closed!: () => void;
  const handlerClosed = new Promise<void>((r) => (closed = r));
  @Namespace("/three/")
  class Three extends mixins(A, B, C) {
    static onConnect(socket: Socket, path: string) {
      assert.equal(path, socket.path);
      order.push(`connect handler ${path}`);
    }
    static onMessage(socket: Socket, message: Message) {
      order.push("handler");
      socket.send(message);
    }
    static onClose() {
      order.push("close handler");
      closed();
    }
  }
  @Namespace("/upper-last/")
  class UpperLast extends mixins(Upper, B) {
    static onMessage(socket: Socket, message: Message) {
      socket.send(message);
    }
  }
  @Namespace("/upper-first/")
  class UpperFirst extends mixins(B, Upper) {
    static onMessage(socket: Socket, message: Message) {
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
    static async onMessage(socket: Socket, message: Message) {
      if (message === "throw") throw new Error("sync-looking failure in an async hook");
      socket.send(`ok ${message}`);
    }
    static onClose(socket: Socket) {
      closes.push(socket.id);
    }
  }
  @Namespace("/sync-throw/")
  class SyncThrow extends BaseHandler {
    static onMessage(socket: Socket, message: Message) {
      if (message === "throw") throw new TypeError("a bug in a handler");
      socket.send(`ok ${message}`);
    }
  }
  class Rejecting extends BaseMixin {
    static onConnect = () => Promise.reject(new Error("a rejected onConnect"));
  }
  @Namespace("/rejecting-connect/")
  class RejectingConnect extends mixins(Rejecting) {
    static onMessage(socket: Socket) {
      socket.send("should not run");
    }
  }
  let closeRejected = gate();
  @Namespace("/rejecting-close/")
  class RejectingClose extends BaseHandler {
    static async onClose() {
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

describe("BaseHandler and BaseMixin", () => {
  it("declare no hooks (a subclass writes them without `override`), and a class without hooks serves", async () => {
    for (const base of [BaseHandler, BaseMixin]) {
      for (const name of ["onConnect", "onMessage", "onClose"]) assert.equal(Object.hasOwn(base, name), false, `${base.name}.${name}`);
    }
    @Namespace("/no-hooks/")
    class NoHooks extends mixins(BaseMixin) {}
    const server = createServer({ handlers: [NoHooks], host: "127.0.0.1", port: 0, logger: quietLogger() });
    const client = await Client.open(`${await start(server)}/no-hooks/`);
    client.send("ignored");
    await client.close();
    await server.close();
  });
});
