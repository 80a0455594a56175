import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, describe, it } from "node:test";
import { BaseHandler, createServer, HttpMiddlewareMixin, type Middleware, mixins, Namespace, type Socket } from "../src/index.js";
import { originAllowed } from "../src/upgrade/origin.js";
import { attempt, nextMessage, open, testLogger } from "./helpers/sessions.js";

const request = (host: string, origin?: string) =>
  ({ headers: origin === undefined ? { host } : { host, origin } }) as unknown as IncomingMessage;

describe("originAllowed", () => {
  it("lets a request without Origin through, whatever the rules", () => {
    assert.equal(originAllowed(request("app.test"), ["https://other.test"], true), true);
  });

  it("compares host and port with the Host header when only the same site may connect", () => {
    assert.equal(originAllowed(request("app.test:8000", "http://app.test:8000"), undefined, true), true);
    assert.equal(originAllowed(request("app.test:8000", "https://app.test:8000"), undefined, true), true);
    assert.equal(originAllowed(request("app.test:8000", "http://app.test:9000"), undefined, true), false);
    assert.equal(originAllowed(request("app.test", "https://evil.test"), undefined, true), false);
    assert.equal(originAllowed(request("app.test", "null"), undefined, true), false);
  });

  it("treats an explicit default port like no port, in Host and in allowedOrigins", () => {
    assert.equal(originAllowed(request("app.test:443", "https://app.test"), undefined, true), true);
    assert.equal(originAllowed(request("app.test:80", "http://app.test"), undefined, true), true);
    assert.equal(originAllowed(request("app.test", "https://app.test:443"), undefined, true), true);
    assert.equal(originAllowed(request("app.test:80", "https://app.test"), undefined, true), false);
    assert.equal(originAllowed(request("api.test", "https://admin.example.com"), ["https://admin.example.com:443"], true), true);
    assert.equal(originAllowed(request("api.test", "https://a.example.org"), ["https://*.example.org:443"], true), true);
    assert.equal(originAllowed(request("api.test", "https://a.example.org:8443"), ["https://*.example.org"], true), false);
  });

  it("accepts any origin when no rule asks for the same site", () => {
    assert.equal(originAllowed(request("app.test", "https://evil.test"), undefined, false), true);
  });

  it("matches allowedOrigins exactly, or any subdomain for a wildcard", () => {
    const allowed = ["https://admin.example.com", "https://*.example.org"];
    assert.equal(originAllowed(request("api.test", "https://admin.example.com"), allowed, false), true);
    assert.equal(originAllowed(request("api.test", "http://admin.example.com"), allowed, false), false);
    assert.equal(originAllowed(request("api.test", "https://a.example.org"), allowed, true), true);
    assert.equal(originAllowed(request("api.test", "https://a.b.example.org"), allowed, true), true);
    assert.equal(originAllowed(request("api.test", "https://example.org"), allowed, true), false);
    assert.equal(originAllowed(request("api.test", "https://evilexample.org"), allowed, true), false);
    assert.equal(originAllowed(request("api.test", "http://a.example.org"), allowed, true), false);
  });

  it("still lets the request's own host in when allowedOrigins lists others", () => {
    assert.equal(originAllowed(request("api.test", "https://api.test"), ["https://admin.example.com"], true), true);
  });
});

describe("origin checks during the upgrade", () => {
  // A middleware standing in for a session: it marks the request as logged in, as a valid cookie would.
  const loggedIn: Middleware = (req, _res, next) => {
    (req as IncomingMessage & { user?: unknown }).user = { id: "u1" };
    next();
  };
  @Namespace("/private/")
  class Private extends mixins(HttpMiddlewareMixin) {
    static onConnect(socket: Socket) {
      socket.send(JSON.stringify(socket.user));
    }
  }
  @Namespace("/public/")
  class Public extends BaseHandler {
    static onConnect(socket: Socket) {
      socket.send("welcome");
    }
  }
  const logger = testLogger();
  const server = createServer({ handlers: [Private, Public], middleware: [loggedIn], host: "127.0.0.1", port: 0, logger });
  const listed = testLogger();
  const strict = createServer({
    handlers: [Private, Public],
    middleware: [loggedIn],
    host: "127.0.0.1",
    port: 0,
    logger: listed,
    allowedOrigins: ["https://*.example.com"],
  });
  after(() => Promise.all([server.close(), strict.close()]));

  it("refuses a cross-site Origin on a handler that trusts cookies with 403, and logs how to allow it", async () => {
    const { port } = await server.listen();
    const result = await attempt(`ws://127.0.0.1:${port}/private/`, { origin: "https://evil.test", cookie: "connect.sid=valid" });
    assert.deepEqual(result, { status: 403, body: "origin https://evil.test is not allowed\n" });
    const line = logger.lines.find((l) => l.level === "warn" && l.msg.includes("https://evil.test"));
    assert.ok(line, "a warning names the refused origin");
    assert.match(line.msg, /allowedOrigins/);
    assert.equal(server.size, 0);
  });

  it("lets the same origin and a request without Origin through", async () => {
    const { port } = await server.listen();
    const same = await open(`ws://127.0.0.1:${port}/private/`, { origin: `http://127.0.0.1:${port}` });
    assert.equal(await nextMessage(same), '{"id":"u1"}');
    same.close();
    const noOrigin = await open(`ws://127.0.0.1:${port}/private/`);
    assert.equal(await nextMessage(noOrigin), '{"id":"u1"}');
    noOrigin.close();
  });

  it("lets any origin reach a handler without the mixin when allowedOrigins is not set", async () => {
    const { port } = await server.listen();
    const client = await open(`ws://127.0.0.1:${port}/public/`, { origin: "https://elsewhere.test" });
    assert.equal(await nextMessage(client), "welcome");
    client.close();
  });

  it("applies allowedOrigins, with wildcard subdomains, to every handler once it is set", async () => {
    const { port } = await strict.listen();
    const sub = await open(`ws://127.0.0.1:${port}/private/`, { origin: "https://chat.example.com" });
    assert.equal(await nextMessage(sub), '{"id":"u1"}');
    sub.close();
    for (const path of ["/private/", "/public/"]) {
      const result = await attempt(`ws://127.0.0.1:${port}${path}`, { origin: "https://elsewhere.test" });
      assert.ok("status" in result);
      assert.equal(result.status, 403);
    }
    assert.ok(listed.lines.some((l) => l.msg.includes("https://elsewhere.test")));
  });
});
