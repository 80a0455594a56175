import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createServer, type ServerOptions } from "../src/index.js";
import { resolveOptions } from "../src/server-options.js";
import { Echo } from "./fixtures/echo.js";

describe("the limit options", () => {
  it("have safe defaults", () => {
    const o = resolveOptions({}, {});
    assert.equal(o.maxPayload, 1024 * 1024);
    assert.equal(o.perMessageDeflate, false);
    assert.equal(o.heartbeatInterval, 25_000);
    assert.equal(o.heartbeatTimeout, 20_000);
    assert.equal(o.maxBufferedBytes, 1024 * 1024);
    assert.equal(o.slowConsumer, "close");
    assert.equal(o.rateLimit, undefined);
    assert.equal(o.maxConnections, 10_000);
    assert.equal(o.maxConnectionsPerAddress, 0);
    assert.equal(o.handshakeTimeout, 10_000);
  });

  const wrong: [keyof ServerOptions, unknown][] = [
    ["perMessageDeflate", "yes"],
    ["heartbeatInterval", -1],
    ["heartbeatInterval", 1.5],
    ["heartbeatTimeout", 0],
    ["maxBufferedBytes", 0],
    ["slowConsumer", "drop"],
    ["rateLimit", { messagesPerSecond: -5 }],
    ["rateLimit", 100],
    ["maxConnections", 0],
    ["maxConnectionsPerAddress", -1],
  ];
  for (const [name, value] of wrong) {
    it(`reject ${name}: ${JSON.stringify(value)} with a TypeError naming the option`, () => {
      assert.throws(
        () => createServer({ handlers: [Echo], [name]: value }),
        (error: unknown) => error instanceof TypeError && error.message.includes(`"${name}"`),
      );
    });
  }

  it("accept every policy and a partial rate limit", () => {
    for (const slowConsumer of ["close", "drop-newest", "drop-oldest"] as const) {
      assert.equal(resolveOptions({ slowConsumer }, {}).slowConsumer, slowConsumer);
    }
    assert.deepEqual(resolveOptions({ rateLimit: { bytesPerSecond: 1024 } }, {}).rateLimit, { bytesPerSecond: 1024 });
  });
});
