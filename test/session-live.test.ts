// Issue 11 item 2: socket.session is always the upgrade request's current req.session, also after
// express-session's reload() and regenerate() replaced it (real express-session over HTTP).
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import session from "express-session";
import { createServer, HttpMiddlewareMixin, type Message, mixins, namespace, type Socket } from "../src/index.js";
import { closed, cookieOf, nextMessage, open, testLogger } from "./helpers/sessions.js";

type Live = session.Session & { name?: string; lastSeen?: number };

/** Runs an express-session method that takes a callback, as a promise. */
const call = (run: (done: (err?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => run((err) => (err ? reject(err) : resolve())));

class Profile extends mixins(HttpMiddlewareMixin) {
  static async onMessage(socket: Socket, message: Message) {
    const current = () => socket.session as unknown as Live;
    if (message === "reload") await call((done) => current().reload(done));
    if (message === "save") {
      current().lastSeen = 1;
      await call((done) => current().save(done));
    }
    if (message === "regenerate") await call((done) => current().regenerate(done));
    socket.send(JSON.stringify({ id: current().id, name: current().name ?? null }));
  }
}
namespace("/profile/", Profile);

describe("socket.session after the HTTP side changed the session", () => {
  const sessionMiddleware = session({ secret: "test secret", resave: false, saveUninitialized: false });
  const app = express();
  app.use(sessionMiddleware);
  app.get("/name", (req, res) => {
    const s = req.session as Live;
    if (typeof req.query.set === "string") s.name = req.query.set;
    res.send(s.name ?? "");
  });
  const http = createHttpServer(app);
  const sockets = createServer({ server: http, handlers: [Profile], middleware: [sessionMiddleware], logger: testLogger() });
  let base = "";
  before(async () => {
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    base = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    await sockets.listen();
  });
  after(async () => {
    await sockets.close();
    http.close();
  });

  it("reload() shows the name set over HTTP after the socket opened, and a later save() keeps it", async () => {
    const first = await fetch(`http://${base}/name?set=guest`);
    const cookie = cookieOf(first);
    const ws = await open(`ws://${base}/profile/`, { cookie });
    const set = await fetch(`http://${base}/name?set=alice`, { headers: { cookie } });
    assert.equal(await set.text(), "alice");

    ws.send("reload");
    assert.equal(JSON.parse(await nextMessage(ws)).name, "alice", "the socket sees the reloaded session");
    ws.send("save");
    await nextMessage(ws);
    const after = await fetch(`http://${base}/name`, { headers: { cookie } });
    assert.equal(await after.text(), "alice", "save() did not write an old copy over the HTTP change");
    ws.close();
  });

  it("regenerate() gives the socket the new session, and closeSession(new id) closes it", async () => {
    const cookie = cookieOf(await fetch(`http://${base}/name?set=bob`));
    const ws = await open(`ws://${base}/profile/`, { cookie });
    ws.send("name");
    const before = JSON.parse(await nextMessage(ws)) as { id: string };
    ws.send("regenerate");
    const regenerated = JSON.parse(await nextMessage(ws)) as { id: string; name: string | null };
    assert.notEqual(regenerated.id, before.id, "socket.session is the new session");
    assert.equal(regenerated.name, null);
    const gone = closed(ws);
    sockets.closeSession(regenerated.id, "logged out");
    assert.deepEqual(await gone, { code: 4401, reason: "logged out" });
  });
});
