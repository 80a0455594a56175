import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { BaseHandler, BaseMixin, createServer, type Message, mixins, Namespace, type Server, type Socket } from "../src/index.js";
import { recordingLogger } from "./fixtures/echo.js";
import { RawPeer } from "./fixtures/raw-peer.js";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);
after(() => process.off("unhandledRejection", onUnhandled));

class Explodes extends BaseMixin {
  static onMessage(_socket: Socket, message: Message) {
    if (message === "throw") throw new Error("thrown by a mixin");
    if (message === "reject") return Promise.reject(new Error("rejected by a mixin")) as unknown as undefined;
    return undefined;
  }
}

@Namespace("/faulty")
class Faulty extends mixins(Explodes) {
  static async onConnect(socket: Socket) {
    if (socket.request.url.endsWith("?connect=reject")) throw new Error("onConnect rejected");
  }
  static onMessage(socket: Socket, message: Message) {
    if (message === "handler-throw") throw new TypeError("thrown by the handler");
    socket.send(message);
  }
  static async onClose() {
    throw new Error("onClose rejected");
  }
}

@Namespace("/burst")
class Burst extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    for (let i = 0; i < Number(message); i++) socket.send(`${i}`);
  }
}

async function closeCode(ws: WebSocket): Promise<number> {
  const [code] = (await once(ws, "close")) as [number];
  return code;
}

describe("a hook that throws or rejects", () => {
  const logger = recordingLogger();
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({ handlers: [Faulty], host: "127.0.0.1", port: 0, logger });
    ({ port } = await server.listen());
  });
  after(() => server.close());

  for (const [what, url, message] of [
    ["a throwing mixin", "/faulty", "throw"],
    ["a rejecting mixin", "/faulty", "reject"],
    ["a throwing handler", "/faulty", "handler-throw"],
    ["a rejecting onConnect", "/faulty?connect=reject", undefined],
  ] as const) {
    it(`closes only its socket with 1011 for ${what}, never an unhandled rejection`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${url}`);
      await once(ws, "open");
      if (message !== undefined) ws.send(message);
      assert.equal(await closeCode(ws), 1011);
      const healthy = new WebSocket(`ws://127.0.0.1:${port}/faulty`);
      await once(healthy, "open");
      healthy.send("fine");
      const [echo] = (await once(healthy, "message")) as [Buffer];
      assert.equal(String(echo), "fine");
      healthy.close();
      await once(healthy, "close");
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
    });
  }

  it("logs the failures", () => {
    assert.ok(logger.lines.some((line) => line.includes("hook failed")));
  });
});

describe("close()", () => {
  it("flushes every queued message before closing with 1001", async () => {
    const server = createServer({ handlers: [Burst], host: "127.0.0.1", port: 0, logger: recordingLogger() });
    const { port } = await server.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/burst`);
    await once(ws, "open");
    const got: string[] = [];
    ws.on("message", (data) => got.push(String(data)));
    ws.send("5000");
    await once(ws, "message");
    const closing = server.close();
    const code = await closeCode(ws);
    await closing;
    assert.equal(code, 1001);
    assert.equal(got.length, 5000);
    assert.equal(got.at(-1), "4999");
  });
});

describe("SIGTERM to a server process", () => {
  it("refuses new upgrades with 503, flushes queues, closes with 1001, terminates stragglers and exits 0", {
    timeout: 60_000,
  }, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/sigterm-server.ts"], { stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    let wake = () => {};
    child.stdout.on("data", (chunk: Buffer) => {
      lines.push(...String(chunk).split("\n"));
      wake();
    });
    child.once("exit", () => wake());
    const waitFor = async (text: string) => {
      while (!lines.some((line) => line.startsWith(text))) {
        assert.equal(child.exitCode, null, `exited before "${text}"`);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    };
    try {
      await waitFor("listening");
      const port = Number(lines.find((line) => line.startsWith("listening"))?.split(" ")[1]);
      const straggler = await RawPeer.connect(port, { path: "/burst" });
      straggler.socket.pause(); // never reads: it never sees the close frame
      const ws = new WebSocket(`ws://127.0.0.1:${port}/burst`);
      await once(ws, "open");
      const got: string[] = [];
      ws.on("message", (data) => got.push(String(data)));
      ws.send("2000");
      await waitFor("queued");
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const code = await closeCode(ws);
      const late = await RawPeer.connect(port, { path: "/burst" });
      assert.equal(late.status, 503);
      const [exitCode] = (await exited) as [number]; // close() resolves only once the straggler is gone
      straggler.socket.resume();
      await straggler.ended;
      assert.equal(code, 1001);
      assert.equal(got.length, 2000);
      assert.ok(got.at(-1)?.startsWith("1999:"));
      assert.equal(exitCode, 0);
      assert.ok(lines.includes("drained"));
    } finally {
      child.kill("SIGKILL");
    }
  });
});
