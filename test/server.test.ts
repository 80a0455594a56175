import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, connect, createServer as createNetServer } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import { WebSocketServer } from "ws";
import { type Adapter, BaseHandler, createMemoryAdapter, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { Client, echoHandler, gate, refusedStatus, start, until } from "./helpers.js";

const sockets: Socket[] = [];
let closedIds: string[] = [];

const Echo = echoHandler("/echo/", {
  connect: (socket) => sockets.push(socket),
  close: (socket) => closedIds.push(socket.id),
});

let burstHandled = gate();
@Namespace("/burst/")
class Burst extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    for (let i = 0; i < Number(message); i++) socket.send(`b${i}`);
    burstHandled.open();
  }
}

function portOf(http: HttpServer): number {
  return (http.address() as AddressInfo).port;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Resolves true when nothing accepts TCP connections on the port any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** Another WebSocket server on the same HTTP server, on its own path, in ws's noServer style. */
function otherWebSocketServer(http: HttpServer, path: string): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => ws.on("message", (data) => ws.send(`other: ${data}`)));
  http.on("upgrade", (req, socket, head) => {
    if (req.url === path) wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  return wss;
}

async function echoes(url: string, expected: (sent: string) => string): Promise<void> {
  const client = await Client.open(url);
  client.send("ping");
  assert.deepEqual(await client.received(1), [expected("ping")]);
  await client.close();
}

describe("attach mode", () => {
  describe("on a plain http server with routes and another WebSocket server", () => {
    const http = createHttpServer((req, res) => {
      res.writeHead(req.url === "/hello" ? 200 : 404, { "content-type": "text/plain" });
      res.end(req.url === "/hello" ? "hello from http" : "not found");
    });
    const other = otherWebSocketServer(http, "/other-ws");
    const server = createServer({ handlers: [Echo], server: http });
    let port: number;
    before(async () => {
      http.listen(0, "127.0.0.1");
      await once(http, "listening");
      port = portOf(http);
    });
    after(async () => {
      await server.close();
      other.close();
      http.close();
    });

    it("shares one port: HTTP routes, the other upgrade path and our namespace all work", async () => {
      assert.deepEqual(await server.listen(), { host: "127.0.0.1", port });
      assert.deepEqual(await get(port, "/hello"), { status: 200, body: "hello from http" });
      assert.equal((await get(port, "/missing")).status, 404);
      await echoes(`ws://127.0.0.1:${port}/other-ws`, (m) => `other: ${m}`);
      await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
    });

    it("leaves http listening after close(), and its own routes working", async () => {
      await server.close();
      assert.equal((await get(port, "/hello")).status, 200);
      await echoes(`ws://127.0.0.1:${port}/other-ws`, (m) => `other: ${m}`);
    });
  });

  describe("on an Express app", () => {
    const app = express();
    app.get("/api/health", (_req, res) => {
      res.json({ ok: true });
    });
    let http: HttpServer;
    let other: WebSocketServer;
    let server: ReturnType<typeof createServer>;
    before(async () => {
      http = app.listen(0, "127.0.0.1");
      await once(http, "listening");
      other = otherWebSocketServer(http, "/live");
      server = createServer({ handlers: [Echo], server: http });
    });
    after(async () => {
      await server.close();
      other.close();
      http.close();
    });

    it("shares one port with Express routes and another upgrade path", async () => {
      const port = portOf(http);
      assert.deepEqual(await get(port, "/api/health"), { status: 200, body: '{"ok":true}' });
      await echoes(`ws://127.0.0.1:${port}/live`, (m) => `other: ${m}`);
      await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
    });
  });

  describe("on Fastify and Koa apps", () => {
    it("shares Fastify's port with its routes", async () => {
      const app = Fastify();
      app.get("/ping", async () => ({ pong: true }));
      await app.listen({ port: 0, host: "127.0.0.1" });
      const server = createServer({ handlers: [Echo], server: app.server });
      const { port } = await server.listen();
      assert.deepEqual(await get(port, "/ping"), { status: 200, body: '{"pong":true}' });
      await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
      assert.equal(await refusedStatus(`ws://127.0.0.1:${port}/nope`), 404);
      await server.close();
      await app.close();
    });

    it("shares Koa's port with its middleware", async () => {
      const app = new Koa();
      app.use((ctx) => {
        ctx.body = `koa ${ctx.path}`;
      });
      const http = app.listen(0, "127.0.0.1");
      const server = createServer({ handlers: [Echo], server: http });
      const { port } = await server.listen();
      assert.deepEqual(await get(port, "/x"), { status: 200, body: "koa /x" });
      await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
      await server.close();
      http.close();
    });
  });

  describe("on an http server whose listen() has not finished yet", () => {
    it("waits for it in listen() and resolves to its address", async () => {
      const http = createHttpServer();
      const server = createServer({ handlers: [Echo], server: http });
      http.listen(0, "127.0.0.1"); // as app.listen() does: returns before the port is bound
      const { port } = await server.listen();
      assert.equal(port, portOf(http));
      await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
      await server.close();
      http.close();
    });
  });

  describe("on an http server with no upgrade listener of its own", () => {
    const http = createHttpServer((_req, res) => res.end("ok"));
    const server = createServer({ handlers: [Echo], server: http });
    before(async () => {
      http.listen(0, "127.0.0.1");
      await once(http, "listening");
    });
    after(async () => {
      await server.close();
      http.close();
    });

    it("refuses unknown upgrade paths with 404", async () => {
      assert.equal(await refusedStatus(`ws://127.0.0.1:${portOf(http)}/nope`), 404);
    });
  });

  describe("with an adapter that has not started, or failed to", () => {
    /** The memory adapter, started only when `started` settles. */
    const delayed = (started: Promise<void>): Adapter => {
      const memory = createMemoryAdapter();
      return {
        start: async (node) => {
          await started;
          await memory.start(node);
        },
        publish: (op) => memory.publish(op),
        join: (room, id) => memory.join(room, id),
        leave: (room, id) => memory.leave(room, id),
        members: (room) => memory.members(room),
        stop: () => memory.stop(),
      };
    };
    const attached = async (adapter: Adapter) => {
      const http = createHttpServer();
      http.listen(0, "127.0.0.1");
      await once(http, "listening");
      const logger = codeLogger();
      const server = createServer({ handlers: [Echo], server: http, adapter, logger });
      after(async () => {
        await server.close();
        http.close();
      });
      return { server, logger, url: `ws://127.0.0.1:${portOf(http)}/echo/` };
    };

    it("refuses upgrades with 503 TSWS_ADAPTER_DOWN until the adapter has started, then accepts them", async () => {
      const started = gate();
      const { server, logger, url } = await attached(delayed(started.promise));
      assert.equal(await refusedStatus(url), 503);
      assert.ok(logger.codes.includes("TSWS_ADAPTER_DOWN"));
      started.open();
      await server.listen();
      await echoes(url, (m) => m);
    });

    it("refuses upgrades with 503 TSWS_ADAPTER_DOWN after the adapter failed to start", async () => {
      const failed = Promise.reject(new Error("no Redis here"));
      failed.catch(() => {});
      const { server, logger, url } = await attached(delayed(failed));
      await assert.rejects(server.listen(), /no Redis here/);
      assert.equal(await refusedStatus(url), 503);
      assert.ok(logger.codes.includes("TSWS_ADAPTER_DOWN"));
    });
  });
});

/** A logger that keeps the stable `code` of every line that has one. */
function codeLogger() {
  const codes: string[] = [];
  const keep = (obj: { code?: unknown }) => {
    if (typeof obj?.code === "string") codes.push(obj.code);
  };
  return { codes, error: keep, warn: keep, info: keep, debug: keep };
}

describe("refusals and forced closes in the log", () => {
  it("carry the stable code of the error catalogue", async () => {
    const logger = codeLogger();
    const server = createServer({
      handlers: [Echo],
      host: "127.0.0.1",
      port: 0,
      logger,
      maxPayload: 16,
      allowedOrigins: ["https://ok.example"],
    });
    const url = await start(server);
    assert.equal(await refusedStatus(`${url}/nope`), 404);
    assert.equal(await refusedStatus(`${url}/echo/`, { headers: { origin: "https://evil.example" } }), 403);
    const client = await Client.open(`${url}/echo/`);
    client.send("x".repeat(17));
    assert.equal((await client.closed).code, 1009);
    await until(() => logger.codes.includes("TSWS_MESSAGE_TOO_BIG"), "the 1009 close is logged");
    const closing = server.close();
    await closing;
    assert.deepEqual(
      logger.codes.filter((c) => c !== "TSWS_MESSAGE_TOO_BIG"),
      ["TSWS_NOT_FOUND", "TSWS_FORBIDDEN_ORIGIN"],
    );
  });
});

describe("standalone listen()", () => {
  const saved = { host: process.env.WEBSOCKET_HOST, port: process.env.WEBSOCKET_PORT };
  const restore = () => {
    for (const [key, value] of [
      ["WEBSOCKET_HOST", saved.host],
      ["WEBSOCKET_PORT", saved.port],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  after(restore);

  it("takes host and port from WEBSOCKET_HOST and WEBSOCKET_PORT (0: a free port)", async () => {
    process.env.WEBSOCKET_HOST = "127.0.0.1";
    process.env.WEBSOCKET_PORT = "0";
    const server = createServer({ handlers: [Echo] });
    restore();
    const { host, port } = await server.listen();
    assert.equal(host, "127.0.0.1");
    assert.ok(port > 0);
    await echoes(`ws://127.0.0.1:${port}/echo/`, (m) => m);
    await server.close();
  });

  it("listens on the exact WEBSOCKET_PORT given", async () => {
    const probe = createNetServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const free = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    process.env.WEBSOCKET_HOST = "127.0.0.2";
    process.env.WEBSOCKET_PORT = String(free);
    const server = createServer({ handlers: [Echo] });
    restore();
    assert.deepEqual(await server.listen(), { host: "127.0.0.2", port: free });
    await server.close();
  });

  it("prefers the options to the environment", async () => {
    process.env.WEBSOCKET_HOST = "127.0.0.2";
    process.env.WEBSOCKET_PORT = "not used";
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
    restore();
    const { host } = await server.listen();
    assert.equal(host, "127.0.0.1");
    await server.close();
  });

  it("answers plain HTTP requests with 426", async () => {
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
    const { port } = await server.listen();
    assert.equal((await get(port, "/echo/")).status, 426);
    await server.close();
  });

  it("rejects when the port is taken, and can try again", async () => {
    const first = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
    const { port } = await first.listen();
    const second = createServer({ handlers: [Echo], host: "127.0.0.1", port });
    await assert.rejects(second.listen(), { code: "TSWS_CANNOT_LISTEN", message: new RegExp(`port ${port} is in use`) });
    await first.close();
    assert.equal((await second.listen()).port, port, "a later listen() may try again");
    await second.close();
  });
});

describe("getSocket and sendTo", () => {
  const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("find an open socket by id, and forget it once closed", async () => {
    sockets.length = 0;
    closedIds = [];
    const client = await Client.open(`${url}/echo/`);
    await until(() => sockets.length === 1, "onConnect");
    const socket = sockets[0] as Socket;
    assert.equal(server.getSocket(socket.id), socket);
    assert.equal(server.size, 1);
    server.sendTo(socket.id, "direct");
    server.sendTo(socket.id, Buffer.from([7]));
    assert.deepEqual(await client.received(2), ["direct", "bytes:07"]);
    await client.close();
    await until(() => closedIds.includes(socket.id), "onClose");
    assert.equal(server.getSocket(socket.id), undefined);
    assert.equal(server.size, 0);
    server.sendTo(socket.id, "nobody"); // an unknown id is not an error
  });

  it("returns undefined as soon as close() was called on the socket, before its closing handshake ends", async () => {
    sockets.length = 0;
    const client = await Client.open(`${url}/echo/`);
    await until(() => sockets.length === 1, "onConnect");
    const socket = sockets[0] as Socket;
    socket.close();
    assert.equal(server.getSocket(socket.id), undefined);
    await client.closed;
  });
});

describe("closeSession and closeUser with a long reason", () => {
  const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  const openTwo = async (mark: (socket: Socket) => void) => {
    sockets.length = 0;
    const clients = [await Client.open(`${url}/echo/`), await Client.open(`${url}/echo/`)];
    await until(() => sockets.length === 2, "onConnect");
    for (const socket of sockets) mark(socket);
    return clients;
  };

  it("closes every socket of the session with the reason cut to 123 bytes at a character boundary", async () => {
    const clients = await openTwo((socket) => {
      socket.session = { id: "long" };
    });
    server.closeSession("long", "é".repeat(100));
    for (const client of clients) assert.deepEqual(await client.closed, { code: 4401, reason: "é".repeat(61) });
  });

  it("closes every socket of the user with a reason of a megabyte cut once", async () => {
    const clients = await openTwo((socket) => {
      socket.user = { id: 7 };
    });
    server.closeUser(7, "z".repeat(1024 * 1024));
    for (const client of clients) assert.deepEqual(await client.closed, { code: 4401, reason: "z".repeat(123) });
  });
});

describe("listen() and close()", () => {
  it("rejects listen() after close()", { timeout: 20_000 }, async () => {
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
    await start(server);
    await server.close();
    await assert.rejects(server.listen(), /the server is closed/);
  });

  it("rejects a listen() that close() overtook, and binds no port", { timeout: 20_000 }, async () => {
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
    const listening = server.listen();
    const closing = server.close();
    await assert.rejects(listening, /the server is closed/);
    await closing;
  });
});

describe("graceful close()", () => {
  it("flushes queued messages, closes sockets with 1001, refuses upgrades with 503 meanwhile, and frees the port", async () => {
    burstHandled = gate();
    const server = createServer({ handlers: [Echo, Burst], host: "127.0.0.1", port: 0 });
    const url = await start(server);
    const port = Number(new URL(url).port);
    const idle = await Client.open(`${url}/echo/`);
    const slow = await Client.open(`${url}/burst/`);
    slow.ws.pause(); // it reads nothing, so its close handshake cannot finish: the drain lasts
    slow.send("500");
    await burstHandled.promise;
    const closing = server.close();
    assert.equal(server.close(), closing, "close() is idempotent");
    assert.deepEqual(await idle.closed, { code: 1001, reason: "server shutting down" });
    assert.equal(await refusedStatus(`${url}/echo/`), 503);
    slow.ws.resume();
    const { code } = await slow.closed;
    assert.equal(code, 1001);
    assert.deepEqual(
      slow.messages,
      Array.from({ length: 500 }, (_, i) => `b${i}`),
    );
    await closing;
    assert.equal(await refused(port), true, "nothing listens on the port any more");
    const again = createServer({ handlers: [Echo], host: "127.0.0.1", port });
    assert.equal((await again.listen()).port, port);
    await again.close();
  });

  it("waits for async onClose hooks before stopping the adapter, then resolves", { timeout: 30_000 }, async () => {
    const order: string[] = [];
    @Namespace("/slow-goodbye/")
    class SlowGoodbye extends BaseHandler {
      static async onClose() {
        await new Promise((resolve) => setTimeout(resolve, 300));
        order.push("onClose finished");
      }
    }
    const memory = createMemoryAdapter();
    const adapter: Adapter = {
      start: (node) => memory.start(node),
      publish: (op) => memory.publish(op),
      join: (room, id) => memory.join(room, id),
      leave: (room, id) => memory.leave(room, id),
      members: (room) => memory.members(room),
      stop: () => {
        order.push("adapter stopped");
        return memory.stop();
      },
    };
    const server = createServer({ handlers: [SlowGoodbye], host: "127.0.0.1", port: 0, adapter });
    const url = await start(server);
    const clients = [await Client.open(`${url}/slow-goodbye/`), await Client.open(`${url}/slow-goodbye/`)];
    await server.close();
    order.push("close() resolved");
    assert.deepEqual(order, ["onClose finished", "onClose finished", "adapter stopped", "close() resolved"]);
    await Promise.all(clients.map((c) => c.closed));
  });

  it("stops waiting for an onClose that never ends after closeTimeout", { timeout: 30_000 }, async () => {
    const never = gate();
    after(() => never.open());
    @Namespace("/stuck-goodbye/")
    class StuckGoodbye extends BaseHandler {
      static onClose() {
        return never.promise;
      }
    }
    const server = createServer({ handlers: [StuckGoodbye], host: "127.0.0.1", port: 0, closeTimeout: 200 });
    const client = await Client.open(`${await start(server)}/stuck-goodbye/`);
    await server.close();
    assert.equal((await client.closed).code, 1001);
  });

  it("terminates sockets that do not finish closing within closeTimeout", async () => {
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0, closeTimeout: 200 });
    const url = await start(server);
    const stuck = await Client.open(`${url}/echo/`);
    stuck.ws.pause();
    await server.close();
    assert.equal(server.size, 0);
    stuck.ws.resume();
    await stuck.closed; // the peer finds the close frame, then the connection is gone
  });
});
