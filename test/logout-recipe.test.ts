// Issue 11 item 8: the README's logout recipe, as written in README.md (extracted from it, not
// copied), run in an Express app with real express-session and passport over HTTP: after logout
// the user's open sockets are closed with 4401 (by closeUser), and a session without a user has
// its sockets closed (by closeSession with the id read before req.logout()).
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import express from "express";
import { createServer, HttpMiddlewareMixin, mixins, namespace, type Server, type Socket } from "../src/index.js";
import { root } from "./helpers/consumer.js";
import { authSetup, closed, cookieOf, nextMessage, open, testLogger } from "./helpers/sessions.js";

/** The README's ```ts block that defines the logout route, exactly as the README has it. */
async function readmeRecipe(): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
  const recipe = blocks.filter((code) => code.includes('app.post("/logout"'));
  assert.equal(recipe.length, 1, "the README has one logout recipe");
  return recipe[0] as string;
}

/** The promise's value, or a failure saying what did not happen within `ms` (a socket left open). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

class Chat extends mixins(HttpMiddlewareMixin) {
  static onConnect(socket: Socket) {
    socket.send(JSON.stringify({ user: socket.user ?? null }));
  }
}
namespace("/logout-recipe/", Chat);

describe("the README's logout recipe", () => {
  const work = join(root, "test-output", `logout-recipe-${process.pid}`);
  const { auth, middleware } = authSetup();
  const app = express();
  app.use(express.json());
  app.use(middleware);
  app.post("/login", auth.authenticate("local"), (_req, res) => res.send("ok"));
  app.get("/visit", (req, res) => {
    (req.session as unknown as { visited: boolean }).visited = true;
    res.send("ok");
  });
  const http = createHttpServer(app);
  const sockets: Server = createServer({ server: http, handlers: [Chat], middleware, logger: testLogger() });
  let base = "";
  before(async () => {
    await mkdir(work, { recursive: true });
    const file = join(work, "recipe.ts");
    const code = await readmeRecipe();
    // The block continues the README's earlier ones: `app` and `sockets` are theirs, given here.
    await writeFile(
      file,
      `import type { Express } from "express";\nimport type { Server } from "tswebsockets";\n` +
        `export function install(app: Express, sockets: Server): void {\n${code}}\n`,
    );
    const { install } = (await import(pathToFileURL(file).href)) as { install(app: express.Express, sockets: Server): void };
    install(app, sockets);
    http.listen(0, "127.0.0.1");
    await sockets.listen();
    base = `127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  after(async () => {
    await sockets.close();
    http.closeAllConnections();
    http.close();
    await rm(work, { recursive: true, force: true });
  });

  const login = async () => {
    const res = await fetch(`http://${base}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    assert.equal(res.status, 200);
    return cookieOf(res);
  };
  const logout = (cookie: string) => fetch(`http://${base}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });

  it("closes the logged-out user's sockets, in every tab, with 4401", async () => {
    const [tab1, tab2] = [await login(), await login()];
    const sockets1 = await open(`ws://${base}/logout-recipe/`, { cookie: tab1 });
    const sockets2 = await open(`ws://${base}/logout-recipe/`, { cookie: tab2 });
    assert.deepEqual(JSON.parse(await nextMessage(sockets1)), { user: { id: "u1", name: "Alice" } });
    await nextMessage(sockets2);
    const ends = [closed(sockets1), closed(sockets2)];
    const res = await logout(tab1);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/login");
    assert.deepEqual(await within(Promise.all(ends), 5000, "the user's sockets were not closed"), [
      { code: 4401, reason: "logged out" },
      { code: 4401, reason: "logged out" },
    ]);
  });

  it("closes the sockets of a session without a user (closeSession with the id read first)", async () => {
    const cookie = cookieOf(await fetch(`http://${base}/visit`));
    const socket = await open(`ws://${base}/logout-recipe/`, { cookie });
    assert.deepEqual(JSON.parse(await nextMessage(socket)), { user: null });
    const end = closed(socket);
    assert.equal((await logout(cookie)).status, 302);
    assert.deepEqual(await within(end, 5000, "the session's socket was not closed"), { code: 4401, reason: "logged out" });
  });
});
