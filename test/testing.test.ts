// tswebsockets/testing: test clients connected in memory (no port: the servers here never listen)
// through the real upgrade path: routing, request checks, origin, express-session and passport
// middleware, ws' handshake. The login step is real HTTP to an Express app on 127.0.0.1:0.
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import {
  BaseHandler,
  createServer,
  EventError,
  type EventSocket,
  events,
  HttpMiddlewareMixin,
  handle,
  type Message,
  type Middleware,
  Namespace,
  type Socket,
} from "../src/index.js";
import { RequestError, testClient, UpgradeRefused } from "../src/testing/index.js";
import { authSetup, cookieOf, testLogger } from "./helpers/sessions.js";

const chat = defineContract({
  client: {
    shout: event(z.object({ room: z.string(), text: z.string(), exceptMe: z.boolean().optional() })),
    join: request(z.object({ room: z.string() }), z.null()),
    send: request(z.object({ text: z.string().min(1) }), z.object({ id: z.string() }), {
      errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }) },
    }),
    ask: request(z.object({ question: z.string() }), z.object({ answer: z.string() })),
    slow: request(z.object({}), z.object({ done: z.boolean() })),
    kick: event(z.object({ reason: z.string() })),
  },
  server: {
    message: event(z.object({ text: z.string() })),
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});

/** Releases the "slow" handlers still waiting, so that closing never waits for them. */
const releases = new Set<() => void>();

@Namespace("/chat/:room")
class Chat extends events(chat) {
  static onConnect(socket: EventSocket<typeof chat>) {
    const room = socket.params.room ?? "";
    socket.join(room);
    socket.emit("message", { text: `welcome to ${room}` });
  }
  static events = handle(chat, {
    shout(socket, { room, text, exceptMe }) {
      const to = socket.server.to(room);
      (exceptMe ? to.except(socket) : to).emit("message", { text });
    },
    join(socket, { room }) {
      socket.join(room);
      return null;
    },
    send(_socket, { text }) {
      if (text === "too fast") throw new EventError("RATE_LIMITED", { retryAfterMs: 500 });
      return { id: `id:${text}` };
    },
    async ask(socket, { question }) {
      try {
        return { answer: String(await socket.request("confirm", { question }, { timeoutMs: 1000 })) };
      } catch (error) {
        return { answer: error instanceof RequestError ? error.code : "?" };
      }
    },
    slow() {
      return new Promise((resolve) => {
        const release = () => {
          releases.delete(release);
          resolve({ done: true });
        };
        releases.add(release);
      });
    },
    kick(socket, { reason }) {
      socket.close(4000, reason);
    },
  });
}

@Namespace("/raw")
class Raw extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    socket.send(typeof message === "string" ? `echo:${message}` : Buffer.concat([Buffer.from([0xff]), message]));
  }
}

describe("testClient: events and requests, in memory", () => {
  const server = createServer({ handlers: [Chat, Raw], logger: testLogger() });
  after(async () => {
    for (const release of releases) release();
    await server.close();
  });

  it("connects without a listening server and keeps events from the moment of connection", async () => {
    const c = await testClient<typeof chat>(server, "/chat/lobby");
    assert.equal(c.protocol, "tsws.v1");
    // Sent by onConnect, before testClient() resolved: still there to read.
    assert.deepEqual(await c.next("message"), { text: "welcome to lobby" });
    assert.equal(server.size, 1);
    await c.close();
  });

  it("delivers events to the room and not to the excepted sender; next() reads them oldest first", async () => {
    const a = await testClient<typeof chat>(server, "/chat/r1");
    const b = await testClient<typeof chat>(server, "/chat/r1");
    a.emit("shout", { room: "r1", text: "one" });
    a.emit("shout", { room: "r1", text: "two" });
    assert.deepEqual(await b.next("message"), { text: "welcome to r1" });
    assert.deepEqual(await b.next("message"), { text: "one" });
    assert.deepEqual(await b.next("message"), { text: "two" });
    a.emit("shout", { room: "r1", text: "not to a", exceptMe: true });
    assert.deepEqual(await b.next("message"), { text: "not to a" });
    assert.deepEqual(await a.next("message"), { text: "welcome to r1" });
    assert.deepEqual(await a.next("message"), { text: "one" });
    assert.deepEqual(await a.next("message"), { text: "two" });
    await a.nothing(30); // "not to a" never came
    // The client's own listeners work too, for what arrives after they are added.
    const heard: string[] = [];
    b.on("message", (m) => heard.push(m.text));
    a.emit("shout", { room: "r1", text: "three" });
    assert.deepEqual(await b.next("message"), { text: "three" });
    assert.deepEqual(heard, ["three"]);
    await Promise.all([a.close(), b.close()]);
  });

  it("answers requests in both directions", async () => {
    const c = await testClient<typeof chat>(server, "/chat/lobby");
    assert.deepEqual(await c.request("send", { text: "hi" }), { id: "id:hi" });
    // Server → client: the server's handler asks the client, which answers through handle().
    c.handle("confirm", ({ question }) => question === "leave?");
    assert.deepEqual(await c.request("ask", { question: "leave?" }), { answer: "true" });
    assert.deepEqual(await c.request("ask", { question: "stay?" }), { answer: "false" });
    await c.close();
  });

  it("rejects with RequestError: declared codes, INVALID_PAYLOAD with the issues, UNKNOWN_EVENT", async () => {
    const c = await testClient<typeof chat>(server, "/chat/lobby");
    await assert.rejects(c.request("send", { text: "too fast" }), (e: unknown) => {
      assert.ok(e instanceof RequestError);
      assert.deepEqual([e.code, e.data], ["RATE_LIMITED", { retryAfterMs: 500 }]);
      return true;
    });
    // An untyped client can send what the contract forbids.
    const loose = await testClient(server, "/chat/lobby");
    await assert.rejects(loose.request("send", { text: "" }), (e: unknown) => {
      assert.ok(e instanceof RequestError && e.code === "INVALID_PAYLOAD");
      const issues = (e.data as { issues: { path: unknown[]; message: string }[] }).issues;
      assert.deepEqual(issues[0]?.path, ["text"]);
      return true;
    });
    await assert.rejects(loose.request("nope", {}), { name: "RequestError", code: "UNKNOWN_EVENT" });
    // The server asks a client that handles nothing: it answers UNKNOWN_EVENT itself.
    assert.deepEqual(await c.request("ask", { question: "anyone?" }), { answer: "UNKNOWN_EVENT" });
    // Both sockets stayed open.
    assert.deepEqual(await loose.request("send", { text: "still here" }), { id: "id:still here" });
    await Promise.all([c.close(), loose.close()]);
  });

  it("nothing() rejects naming what arrived, and resolves when nothing does", async () => {
    const c = await testClient<typeof chat>(server, "/chat/quiet");
    await c.next("message");
    await c.nothing(20);
    const quiet = c.nothing(5000);
    c.emit("shout", { room: "quiet", text: "noise" });
    await assert.rejects(quiet, /nothing\(5000\): event "message" arrived/);
    await c.close();
  });

  it("next() times out naming what is unread, and rejects at once when the connection closes", async () => {
    const c = await testClient<typeof chat>(server, "/chat/lobby");
    await assert.rejects(c.next("confirm" as "message", { timeoutMs: 20 }), /no a "confirm" event within 20 ms; unread: "message" ×1/);
    assert.deepEqual(await c.next("message"), { text: "welcome to lobby" });
    const waiting = c.next("message", { timeoutMs: 60_000 });
    c.emit("kick", { reason: "bye" });
    assert.deepEqual(await c.closed(), { code: 4000, reason: "bye" });
    await assert.rejects(waiting, /next\("message"\): the connection closed \(4000 bye\) first/);
    await assert.rejects(c.next("message", { timeoutMs: 60_000 }), /the connection closed \(4000\) before a "message" event arrived/);
  });

  it("speaks raw messages with send() and receive() on a raw namespace; the event methods throw", async () => {
    const c = await testClient(server, "/raw");
    assert.equal(c.protocol, "");
    c.send("hi");
    c.send(Buffer.from([1, 2]));
    assert.equal(await c.receive(), "echo:hi");
    assert.deepEqual(await c.receive(), Buffer.from([0xff, 1, 2]));
    assert.throws(() => c.emit("x"), /raw\): use send\(\) and receive\(\)/);
    assert.throws(() => c.request("x"), TypeError);
    await c.nothing(20);
    assert.deepEqual(await c.close(4001, "done"), { code: 4001, reason: "done" });
  });

  it("refuses an unknown path with 404, surfacing as a rejected testClient()", async () => {
    await assert.rejects(testClient(server, "/nowhere"), (e: unknown) => {
      assert.ok(e instanceof UpgradeRefused);
      assert.equal(e.status, 404);
      assert.match(e.body, /no WebSocket namespace at \/nowhere/);
      return true;
    });
  });

  it("runs its timers on node:test's mock timers: a 100 ms request timeout without waiting 100 ms", async (t) => {
    const c = await testClient<typeof chat>(server, "/chat/lobby");
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    t.mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const started = performance.now();
      const outcome: { settled?: unknown } = {};
      const pending = c.request("slow", {}, { timeoutMs: 100 }).then(
        () => (outcome.settled = "replied"),
        (error: unknown) => (outcome.settled = error),
      );
      await turns(5); // the request reaches the server, which does not answer
      t.mock.timers.tick(99);
      await turns(5);
      assert.equal(outcome.settled, undefined, "not settled before its 100 ms");
      t.mock.timers.tick(1);
      await turns(5); // a real 100 ms timer would need 100 ms of real time here
      await pending;
      const settled = outcome.settled as unknown; // (assert.equal above narrowed it to undefined)
      assert.ok(settled instanceof RequestError && settled.code === "TIMEOUT", `TIMEOUT, got ${String(settled)}`);
      // next() and nothing() wait on the mocked clock as well.
      const next = assert.rejects(c.next("confirm" as "message", { timeoutMs: 2000 }), /within 2000 ms/);
      t.mock.timers.tick(2000);
      await next;
      t.diagnostic(`real time for the mocked waits: ${(performance.now() - started).toFixed(1)} ms`);
    } finally {
      t.mock.timers.reset();
      for (const release of releases) release();
    }
    assert.deepEqual(await c.request("send", { text: "after" }), { id: "id:after" });
    await c.close();
  });
});

describe("testClient: the upgrade path (express-session and passport, origin)", () => {
  const { auth, middleware } = authSetup();
  const requireUser: Middleware = (req, _res, next) =>
    next((req as { user?: unknown }).user === undefined ? Object.assign(new Error("log in first"), { status: 401 }) : undefined);
  const me = defineContract({ client: {}, server: { hello: event(z.object({ user: z.unknown(), host: z.string() })) } });

  @Namespace("/me")
  class Me extends events(me, HttpMiddlewareMixin) {
    static onConnect(socket: EventSocket<typeof me>) {
      socket.emit("hello", { user: socket.user, host: String(socket.request.headers.host) });
    }
  }
  // This server never listens: its upgrades come only from test clients.
  const server = createServer({ handlers: [Me], middleware: [...middleware, requireUser], logger: testLogger() });
  // Logging in is plain HTTP: an Express app on 127.0.0.1:0 sharing the session store.
  const app = express();
  app.use(express.json());
  app.use(middleware);
  app.post("/login", auth.authenticate("local"), (req, res) => res.json(req.user));
  const http = createHttpServer(app);
  let cookie = "";
  before(async () => {
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const res = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    assert.equal(res.status, 200);
    cookie = cookieOf(res);
  });
  after(async () => {
    await server.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  it("admits the session cookie passed in headers, with Host localhost unless a header says otherwise", async () => {
    const c = await testClient<typeof me>(server, "/me", { headers: { cookie } });
    assert.deepEqual(await c.next("hello"), { user: { id: "u1", name: "Alice" }, host: "localhost" });
    const other = await testClient<typeof me>(server, "/me", { headers: { cookie, host: "chat.example" } });
    assert.deepEqual(await other.next("hello"), { user: { id: "u1", name: "Alice" }, host: "chat.example" });
    await Promise.all([c.close(), other.close()]);
  });

  it("refuses without the cookie with the middleware's status", async () => {
    await assert.rejects(testClient(server, "/me"), { name: "UpgradeRefused", status: 401, body: "log in first" });
    await assert.rejects(testClient(server, "/me", { headers: { cookie: "connect.sid=s%3Aforged.sig" } }), { status: 401 });
    assert.equal(server.size, 0);
  });

  it("refuses a cross-site Origin with 403 and admits the same site", async () => {
    await assert.rejects(testClient(server, "/me", { headers: { cookie, origin: "https://evil.example" } }), (e: unknown) => {
      assert.ok(e instanceof UpgradeRefused);
      assert.equal(e.status, 403);
      assert.match(e.message, /refused with 403: origin https:\/\/evil\.example is not allowed/);
      return true;
    });
    const c = await testClient<typeof me>(server, "/me", { headers: { cookie, origin: "http://localhost" } });
    assert.equal(((await c.next("hello")).user as { id: string }).id, "u1");
    await c.close();
  });
});
