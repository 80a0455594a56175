// tswebsockets/admin mounted on an Express app, driven by headless Chromium (Debian's, over
// playwright-core): refused without the app's authorization, live figures follow real sockets,
// actions only from the page's own origin. Skipped, with a reason, where /usr/bin/chromium is missing.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import { type Browser, chromium } from "playwright-core";
import { type AdminHandler, adminPage } from "../src/admin/index.js";
import { BaseHandler, createServer, Namespace, type Server, type Socket } from "../src/index.js";
import { Client, quietLogger, refusedStatus, until } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"];
// Written on every run to an ignored folder; docs/screenshot-admin.png is a copy of one run.
const SCREENSHOT = new URL("../test-output/screenshot-admin.png", import.meta.url);

@Namespace("/chat/:room")
class Chat extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join(socket.params.room as string);
  }
}

describe("the admin page", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let http: HttpServer;
  let server: Server;
  let admin: AdminHandler;
  let browser: Browser;
  let origin: string;
  const clients: Client[] = [];

  before(async () => {
    const app = express();
    http = createHttpServer(app);
    server = createServer({ handlers: [Chat], server: http, allowedOrigins: ["http://app.example"], logger: quietLogger() });
    // The app's own authorization: here a cookie stands for a logged-in administrator.
    admin = adminPage(server, { authorize: (req) => req.headers.cookie?.includes("role=admin") === true, actions: true, intervalMs: 200 });
    app.use("/admin/ws", admin);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    await server.listen();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 60_000 });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await browser?.close();
    admin?.stop();
    await server?.close();
    await new Promise((resolve) => http?.close(resolve));
  });

  it("answers 403 without the application's authorization", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${origin}/admin/ws`);
    assert.equal(response?.status(), 403);
    assert.match(await page.content(), /Forbidden/);
    await context.close();
  });

  it("shows live figures that follow sockets as they connect, and records refusals", async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    context.setDefaultTimeout(20_000);
    await context.addCookies([{ name: "role", value: "admin", url: origin }]);
    const page = await context.newPage();
    const response = await page.goto(`${origin}/admin/ws`);
    assert.equal(response?.status(), 200);
    await page.locator("#connections", { hasText: /^0$/ }).waitFor();

    const ws = origin.replace("http", "ws");
    for (let i = 0; i < 5; i++) clients.push(await Client.open(`${ws}/chat/${i < 3 ? "lobby" : "ops"}`));
    await page.locator("#connections", { hasText: /^5$/ }).waitFor();
    await page.locator("#largest td", { hasText: "lobby" }).waitFor();
    assert.equal(await refusedStatus(`${ws}/chat/lobby`, { headers: { Origin: "http://evil.example" } }), 403);
    await page.locator("#refusals td", { hasText: "TSWS_FORBIDDEN_ORIGIN" }).waitFor();

    clients.push(await Client.open(`${ws}/chat/ops`));
    await page.locator("#connections", { hasText: /^6$/ }).waitFor();
    const id = [...server.sockets()][0]?.id as string;
    await page.fill("#lookup input[name=q]", id);
    await page.click("#lookup button[value=socket]");
    await page.locator("#found td", { hasText: id }).waitFor();

    mkdirSync(new URL(".", SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });

    await page.fill("#send input[name=room]", "ops");
    await page.fill("#send input[name=message]", "maintenance at noon");
    await page.click("#send button");
    await until(() => clients[3]?.messages.includes("maintenance at noon") === true, "the room to get the admin's message");
    await context.close();
  });

  it("refuses an action from another origin and when actions are off", async () => {
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${origin}/admin/ws/actions/${path}`, {
        method: "POST",
        headers: { cookie: "role=admin", "content-type": "application/json", ...headers },
        body: JSON.stringify({ room: "ops", message: "x" }),
      });
    assert.equal((await post("send", { origin: "http://evil.example" })).status, 403);
    assert.equal((await post("send", {})).status, 403);
    assert.equal((await post("send", { origin })).status, 200);
    const readOnly = adminPage(server, { authorize: () => true });
    const app = express().use("/a", readOnly);
    const other = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => other.once("listening", resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const response = await fetch(`${url}/a/actions/send`, {
      method: "POST",
      headers: { origin: url, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(response.status, 403);
    readOnly.stop();
    await new Promise((resolve) => other.close(resolve));
  });
});
