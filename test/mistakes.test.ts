// Mistakes a new user makes (issue 12), each answered by a message that says what to fix.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import {
  BaseHandler,
  BaseMixin,
  ConfigError,
  ConfigErrors,
  createServer,
  type Message,
  mixins,
  namespace,
  type Socket,
} from "../src/index.js";
import { testLogger } from "./helpers/sessions.js";

describe("hooks written as instance methods", () => {
  it("createServer throws TSWS_INSTANCE_HOOK naming the class and the method, and says hooks are static", () => {
    class Chat extends BaseHandler {
      onMessage(socket: Socket, message: Message) {
        socket.send(message);
      }
    }
    namespace("/instance-hook/", Chat);
    assert.throws(
      () => createServer({ handlers: [Chat], logger: testLogger() }),
      (error: ConfigError) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, ConfigErrors.instanceHook);
        assert.equal(
          error.message,
          "createServer: Chat.prototype.onMessage is an instance method, which never runs: hooks are static (write `static onMessage(socket, …)`)",
        );
        return true;
      },
    );
  });

  it("in a mixin too", () => {
    class Audit extends BaseMixin {
      onConnect() {}
    }
    class Room extends mixins(Audit) {}
    namespace("/instance-hook-mixin/", Room);
    assert.throws(
      () => createServer({ handlers: [Room], logger: testLogger() }),
      /Audit\.prototype\.onConnect is an instance method.*hooks are static/,
    );
  });
});

describe("attach mode: await sockets.listen() before http.listen()", () => {
  it("rejects with TSWS_NOT_LISTENING after 3 s, saying to call http.listen() first, instead of waiting forever", async () => {
    class Echo extends BaseHandler {}
    namespace("/attach-order/", Echo);
    const http = createHttpServer();
    const sockets = createServer({ server: http, handlers: [Echo], logger: testLogger() });
    const started = performance.now();
    await assert.rejects(sockets.listen(), (error: ConfigError) => {
      assert.equal(error.code, ConfigErrors.notListening);
      assert.match(error.message, /is not listening after 3000 ms.*call http\.listen\(port\) \(or app\.listen\(\)\) first/);
      return true;
    });
    assert.ok(performance.now() - started >= 2900, "it waited the documented time");
    // The order that works, on the same objects.
    http.listen(0, "127.0.0.1");
    assert.equal((await sockets.listen()).port, (http.address() as AddressInfo).port);
    await sockets.close();
    http.close();
  });
});

describe("a port already in use", () => {
  it("rejects once with TSWS_CANNOT_LISTEN saying the port is in use and what to do, and logs nothing", async () => {
    const taken = createHttpServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const port = (taken.address() as AddressInfo).port;
    class Echo extends BaseHandler {}
    namespace("/port-in-use/", Echo);
    const logger = testLogger();
    const server = createServer({ handlers: [Echo], host: "127.0.0.1", port, logger });
    await assert.rejects(server.listen(), (error: ConfigError) => {
      assert.equal(error.code, ConfigErrors.cannotListen);
      assert.equal(
        error.message,
        `listen(): port ${port} is in use on 127.0.0.1: pick another \`port\` (0 picks a free one) or stop the other process`,
      );
      assert.equal(error.cause, undefined, "one error, not Node's trace besides it");
      return true;
    });
    assert.deepEqual(logger.lines, [], "reported once: by the rejection, not also by a log line");
    taken.close();
    await server.close();
  });
});

describe("a handler table made for another contract", () => {
  it("is refused when the server starts, naming the class and what to write", async () => {
    const { defineContract, event } = await import("../src/contract/index.js");
    const { events, handle } = await import("../src/index.js");
    const chat = defineContract({ client: { typing: event() } });
    const other = defineContract({ client: { x: event() } });
    class Wrong extends events(chat) {
      static events = handle(other, {});
    }
    namespace("/wrong-table", Wrong);
    assert.throws(
      () => createServer({ handlers: [Wrong] }),
      /Wrong\.events must be handle\(contract, \{\.\.\.\}\) with the contract given to events\(\)/,
    );
  });
});
