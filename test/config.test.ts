import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { describe, it } from "node:test";
import { BaseHandler, ConfigError, createMemoryAdapter, createServer, Namespace, type ServerOptions } from "../src/index.js";
import { resolveOptions } from "../src/server-options.js";

@Namespace("/valid/")
class Valid extends BaseHandler {}

/** Asserts that createServer throws a TypeError whose message names `name`. */
function throwsNaming(options: Record<string, unknown>, name: string): void {
  assert.throws(
    () => createServer({ handlers: [Valid], ...options } as ServerOptions),
    (e: unknown) => e instanceof TypeError && e.message.includes(`"${name}"`),
    `${name}: ${JSON.stringify(options[name])}`,
  );
}

describe("options", () => {
  const wrong: Record<string, unknown[]> = {
    handlers: ["Valid", [Valid, "x"], Valid],
    host: [5, null, ["localhost"]],
    port: [-1, 65536, 1.5, "8001", Number.NaN, null],
    baseUri: ["ws", 1, null],
    server: [{}, "http", 8080],
    middleware: [() => {}, [1], "cors"],
    adapter: [{}, { start() {} }, "redis"],
    logger: [console.log, { error() {} }, null],
    maxPendingMessages: [0, -5, 2.5, "10"],
    maxPayload: [0, 1.5, "1mb"],
    closeTimeout: [-1, 0.5, "10s"],
    handshakeTimeout: [0, "10s", Number.POSITIVE_INFINITY],
    allowedOrigins: ["https://example.com", [5], ["example.com"], ["https://example.com/path"], ["*"]],
  };

  for (const [name, values] of Object.entries(wrong)) {
    it(`refuses a wrong ${name} with a TypeError naming it`, () => {
      for (const value of values) throwsNaming({ [name]: value }, name);
    });
  }

  it("refuses an unknown option, naming it", () => {
    throwsNaming({ prot: 8001 }, "prot");
  });

  it("refuses options that are not an object", () => {
    assert.throws(() => createServer(null as unknown as ServerOptions), TypeError);
    assert.throws(() => createServer("x" as unknown as ServerOptions), TypeError);
  });

  it("accepts every option with a valid value", async () => {
    const server = createServer({
      handlers: [Valid],
      host: "127.0.0.1",
      port: 0,
      baseUri: "/ws",
      server: createHttpServer(),
      middleware: [(_req, _res, next) => next()],
      adapter: createMemoryAdapter(),
      logger: { error() {}, warn() {}, info() {}, debug() {} },
      maxPendingMessages: 1,
      maxPayload: 1,
      closeTimeout: 0,
      handshakeTimeout: 1,
      allowedOrigins: ["https://example.com", "http://localhost:3000", "https://*.example.org"],
    });
    await server.close();
  });

  it("accepts undefined for any option (the default)", async () => {
    const server = createServer({ handlers: [Valid], host: undefined, port: undefined, logger: undefined });
    await server.close();
  });

  it("refuses an empty handler list with a ConfigError", () => {
    assert.throws(() => createServer({ handlers: [] }), ConfigError);
  });
});

describe("defaults and the environment", () => {
  it("default to localhost:8001 with no base URI", () => {
    const resolved = resolveOptions({}, {});
    assert.equal(resolved.host, "localhost");
    assert.equal(resolved.port, 8001);
    assert.equal(resolved.baseUri, "");
    assert.equal(resolved.maxPendingMessages, 1024);
  });

  it("read WEBSOCKET_HOST, WEBSOCKET_PORT and WEBSOCKET_BASE_URI", () => {
    const resolved = resolveOptions({}, { WEBSOCKET_HOST: "127.0.0.3", WEBSOCKET_PORT: "9000", WEBSOCKET_BASE_URI: "/ws" });
    assert.deepEqual([resolved.host, resolved.port, resolved.baseUri], ["127.0.0.3", 9000, "/ws"]);
  });

  it("refuse a bad WEBSOCKET_PORT, naming it", () => {
    for (const port of ["abc", "", "-1", "70000", "80.5", " 80"]) {
      assert.throws(
        () => resolveOptions({}, { WEBSOCKET_PORT: port }),
        (e: unknown) => e instanceof TypeError && e.message.includes("WEBSOCKET_PORT"),
        JSON.stringify(port),
      );
    }
  });

  it("refuse a bad WEBSOCKET_BASE_URI, naming it", () => {
    assert.throws(
      () => resolveOptions({}, { WEBSOCKET_BASE_URI: "ws" }),
      (e: unknown) => e instanceof TypeError && e.message.includes("WEBSOCKET_BASE_URI"),
    );
  });

  it("ignore a bad WEBSOCKET_PORT when the port option is given", () => {
    assert.equal(resolveOptions({ port: 0 }, { WEBSOCKET_PORT: "abc" }).port, 0);
  });
});

describe("resolveOptions: handlers", () => {
  it("defaults to every decorated class, resolved in one place", () => {
    assert.ok(resolveOptions({}).handlers.includes(Valid));
    assert.deepEqual(resolveOptions({ handlers: [Valid] }).handlers, [Valid]);
  });
});
