import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, it } from "node:test";
import middie from "@fastify/middie";
import express from "express";
import fastify from "fastify";
import Koa from "koa";
import { createServer, HttpMiddlewareMixin, type Middleware, mixins, Namespace, type Socket } from "../src/index.js";
import { attempt, authSetup, closed, cookieOf, nextMessage, open, type TestUser, testLogger } from "./helpers/sessions.js";

function listen(http: HttpServer): Promise<number> {
  return new Promise((resolve) => http.listen(0, "127.0.0.1", () => resolve((http.address() as AddressInfo).port)));
}

describe("HttpMiddlewareMixin with express-session and passport-local", () => {
  const { auth, middleware } = authSetup();
  const app = express();
  app.use(express.json());
  app.use(middleware);
  app.post("/login", auth.authenticate("local"), (req, res) => res.json(req.user));
  app.post("/logout", (req, res, next) => {
    const id = (req.user as TestUser).id;
    req.logout((err) => {
      if (err) return next(err);
      ws.closeUser(id);
      res.json({ ok: true });
    });
  });
  app.get("/sid", (req, res) => res.json({ sid: req.sessionID }));
  app.get("/counter", (req, res) => res.json({ counter: (req.session as unknown as { counter?: number }).counter ?? 0 }));
  const http = createHttpServer(app);

  @Namespace("/me/")
  class Me extends mixins(HttpMiddlewareMixin) {
    static onConnect(socket: Socket) {
      socket.send(JSON.stringify({ user: socket.user ?? null, hasCookies: Object.keys(socket.cookies).length > 0 }));
    }
    static async onMessage(socket: Socket) {
      const session = socket.session as { counter?: number; save(cb: (err?: unknown) => void): void };
      session.counter = (session.counter ?? 0) + 1;
      await new Promise<void>((resolve, reject) => session.save((err) => (err ? reject(err) : resolve())));
      socket.send("saved");
    }
  }
  const ws = createServer({ server: http, handlers: [Me], middleware, logger: testLogger() });
  let base = "";
  let wsBase = "";
  before(async () => {
    const port = await listen(http);
    base = `http://127.0.0.1:${port}`;
    wsBase = `ws://127.0.0.1:${port}`;
  });
  after(async () => {
    await ws.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  async function login(username: string, password: string): Promise<string> {
    const res = await fetch(`${base}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(res.status, 200);
    return cookieOf(res);
  }

  it("gives the socket the user who logged in over HTTP, when the cookie comes along", async () => {
    const cookie = await login("alice", "wonderland");
    const client = await open(`${wsBase}/me/`, { cookie });
    const hello = JSON.parse(await nextMessage(client));
    assert.deepEqual(hello, { user: { id: "u1", name: "Alice" }, hasCookies: true });
    client.close();
  });

  it("leaves socket.user undefined without a cookie", async () => {
    const client = await open(`${wsBase}/me/`);
    assert.deepEqual(JSON.parse(await nextMessage(client)), { user: null, hasCookies: false });
    client.close();
  });

  it("lets the next HTTP request see a session change saved from a socket", async () => {
    const cookie = await login("bob", "builder");
    const client = await open(`${wsBase}/me/`, { cookie });
    await nextMessage(client);
    client.send("count");
    assert.equal(await nextMessage(client), "saved");
    client.send("count");
    assert.equal(await nextMessage(client), "saved");
    const res = await fetch(`${base}/counter`, { headers: { cookie } });
    assert.deepEqual(await res.json(), { counter: 2 });
    client.close();
  });

  it("closes every open socket of a user with 4401 when that user logs out, and no one else's", async () => {
    const aliceCookie = await login("alice", "wonderland");
    const otherTab = await login("alice", "wonderland");
    const bobCookie = await login("bob", "builder");
    const a1 = await open(`${wsBase}/me/`, { cookie: aliceCookie });
    const a2 = await open(`${wsBase}/me/`, { cookie: otherTab });
    const b = await open(`${wsBase}/me/`, { cookie: bobCookie });
    await Promise.all([nextMessage(a1), nextMessage(a2), nextMessage(b)]);
    const ends = [closed(a1), closed(a2)];
    const res = await fetch(`${base}/logout`, { method: "POST", headers: { cookie: aliceCookie } });
    assert.equal(res.status, 200);
    assert.deepEqual(await Promise.all(ends), [
      { code: 4401, reason: "logged out" },
      { code: 4401, reason: "logged out" },
    ]);
    b.send("still here");
    assert.equal(await nextMessage(b), "saved");
    b.close();
  });

  it("closes the sockets of one session with 4401 on closeSession, and not those of the user's other session", async () => {
    const first = await login("bob", "builder");
    const second = await login("bob", "builder");
    const { sid } = (await (await fetch(`${base}/sid`, { headers: { cookie: first } })).json()) as { sid: string };
    const a = await open(`${wsBase}/me/`, { cookie: first });
    const b = await open(`${wsBase}/me/`, { cookie: second });
    await Promise.all([nextMessage(a), nextMessage(b)]);
    const end = closed(a);
    ws.closeSession(sid);
    assert.deepEqual(await end, { code: 4401, reason: "session ended" });
    b.send("still here");
    assert.equal(await nextMessage(b), "saved");
    b.close();
  });
});

describe("a middleware that refuses the upgrade", () => {
  const hooks: string[] = [];
  const body401: Middleware = (_req, res) => {
    res.statusCode = 401;
    res.setHeader("content-type", "text/plain");
    res.end("who are you?");
  };
  const fail503: Middleware = (_req, _res, next) => next(Object.assign(new Error("database down"), { status: 503 }));
  const never: Middleware = () => {};
  const throws: Middleware = () => {
    throw Object.assign(new Error("banned"), { statusCode: 403 });
  };
  const rejects: Middleware = async () => {
    await Promise.resolve();
    throw Object.assign(new Error("not logged in"), { status: 401 });
  };
  const make = (path: string, middleware: Middleware[]) => {
    @Namespace(path)
    class Refused extends mixins(HttpMiddlewareMixin) {
      static onConnect() {
        hooks.push(`connect ${path}`);
      }
      static onClose() {
        hooks.push(`close ${path}`);
      }
    }
    return createServer({ handlers: [Refused], middleware, host: "127.0.0.1", port: 0, handshakeTimeout: 300, logger: testLogger() });
  };
  const servers = {
    answer: make("/a/", [body401]),
    error: make("/e/", [fail503]),
    silent: make("/s/", [never]),
    thrown: make("/t/", [throws]),
    rejected: make("/r/", [rejects]),
  };
  after(() => Promise.all(Object.values(servers).map((s) => s.close())));

  it("answers with the status and body the middleware wrote", async () => {
    const { port } = await servers.answer.listen();
    assert.deepEqual(await attempt(`ws://127.0.0.1:${port}/a/`), { status: 401, body: "who are you?" });
  });

  it("answers with the status of the error a middleware passed to next()", async () => {
    const { port } = await servers.error.listen();
    const result = await attempt(`ws://127.0.0.1:${port}/e/`);
    assert.ok("status" in result);
    assert.equal(result.status, 503);
    assert.equal(result.body, "middleware failed\n");
  });

  it("treats a middleware that throws like next(err), showing the message of a 4xx error", async () => {
    const { port } = await servers.thrown.listen();
    assert.deepEqual(await attempt(`ws://127.0.0.1:${port}/t/`), { status: 403, body: "banned\n" });
  });

  it("treats an async middleware that rejects like next(err), with the error's status and no unhandled rejection", {
    timeout: 20_000,
  }, async () => {
    const unhandled: unknown[] = [];
    const keep = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", keep);
    try {
      const { port } = await servers.rejected.listen();
      assert.deepEqual(await attempt(`ws://127.0.0.1:${port}/r/`), { status: 401, body: "not logged in\n" });
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", keep);
    }
  });

  it("answers 503 when a middleware never calls back within handshakeTimeout", async () => {
    const { port } = await servers.silent.listen();
    const result = await attempt(`ws://127.0.0.1:${port}/s/`);
    assert.ok("status" in result);
    assert.equal(result.status, 503);
    assert.match(result.body, /timed out/);
  });

  it("closes the connection itself after refusing, even when the client keeps it open", async () => {
    for (const [server, path] of [
      [servers.answer, "/a/"],
      [servers.silent, "/s/"],
    ] as const) {
      const { port } = await server.listen();
      const tcp = connect(port, "127.0.0.1");
      tcp.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      let answer = "";
      tcp.on("data", (chunk: Buffer) => (answer += chunk.toString()));
      await new Promise((resolve) => tcp.once("close", resolve));
      assert.match(answer, path === "/a/" ? /^HTTP\/1\.1 401 / : /^HTTP\/1\.1 503 /);
    }
  });

  it("runs no handler hook and keeps no socket for a refused upgrade", () => {
    assert.deepEqual(hooks, []);
    for (const server of Object.values(servers)) assert.equal(server.size, 0);
  });
});

describe("HttpMiddlewareMixin in a Fastify application", () => {
  const { sessionMiddleware } = authSetup();
  const app = fastify();
  @Namespace("/whoami/")
  class WhoAmI extends mixins(HttpMiddlewareMixin) {
    static onConnect(socket: Socket) {
      socket.send(String(socket.session?.name ?? "nobody"));
    }
  }
  // The same Connect middleware serves Fastify's routes (through @fastify/middie) and the upgrade.
  const ws = createServer({ server: app.server, handlers: [WhoAmI], middleware: [sessionMiddleware] });
  after(async () => {
    await ws.close();
    await app.close();
  });

  it("sees the session a Fastify route wrote", async () => {
    await app.register(middie);
    app.use(sessionMiddleware);
    app.post<{ Body: { name: string } }>("/hello", async (request) => {
      const session = request.raw as unknown as { session: { name?: string } };
      session.session.name = request.body.name;
      return { ok: true };
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/hello`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Carol" }),
    });
    assert.equal(res.status, 200);
    const cookie = cookieOf(res);
    assert.match(cookie, /^connect\.sid=/);
    const client = await open(`ws://127.0.0.1:${port}/whoami/`, { cookie });
    assert.equal(await nextMessage(client), "Carol");
    client.close();
    const anonymous = await open(`ws://127.0.0.1:${port}/whoami/`);
    assert.equal(await nextMessage(anonymous), "nobody");
    anonymous.close();
  });
});

describe("HttpMiddlewareMixin in a Koa application", () => {
  const { sessionMiddleware } = authSetup();
  const app = new Koa();
  // Koa has no Connect middleware of its own: a three-line bridge lets its routes share express-session.
  app.use((ctx, next) =>
    new Promise<void>((resolve, reject) => sessionMiddleware(ctx.req, ctx.res, (err) => (err ? reject(err) : resolve()))).then(next),
  );
  app.use((ctx) => {
    const { session } = ctx.req as unknown as { session: { name?: string } };
    session.name = "Dave";
    ctx.body = "hello";
  });
  @Namespace("/koa/")
  class KoaWhoAmI extends mixins(HttpMiddlewareMixin) {
    static onConnect(socket: Socket) {
      socket.send(String(socket.session?.name ?? "nobody"));
    }
  }
  const http = app.listen(0, "127.0.0.1");
  const ws = createServer({ server: http, handlers: [KoaWhoAmI], middleware: [sessionMiddleware] });
  after(async () => {
    await ws.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  it("sees the session a Koa middleware wrote, on the server app.listen() returned", async () => {
    await new Promise<void>((resolve) => (http.listening ? resolve() : http.once("listening", () => resolve())));
    const port = (http.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "hello");
    const client = await open(`ws://127.0.0.1:${port}/koa/`, { cookie: cookieOf(res) });
    assert.equal(await nextMessage(client), "Dave");
    client.close();
  });
});
