// Issue 11 item 7: a raw client that floods pings and never reads is dropped by ws itself
// (maxPendingAutoPongs); the server must attribute and log that close, and `rateLimit` must count
// control frames. Main recorded "peer closed (1006)" and logged nothing; pings passed any rate limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, ForcedClose, namespace, type Server, type Socket } from "../src/index.js";
import { frame, RawPeer } from "./fixtures/raw-peer.js";
import { type LogLine, testLogger } from "./helpers/sessions.js";

const reasons: (string | undefined)[] = [];
let closedOnce: () => void = () => {};

class Quiet extends BaseHandler {
  static onClose(socket: Socket) {
    reasons.push(socket.closeReason);
    closedOnce();
  }
}
namespace("/quiet/", Quiet);

const ping = frame({ opcode: 9, payload: Buffer.alloc(125, 1) });

describe("control frames", () => {
  const logger = testLogger();
  let server: Server;
  let limited: Server;
  let port: number;
  let limitedPort: number;
  before(async () => {
    server = createServer({ handlers: [Quiet], host: "127.0.0.1", port: 0, logger, heartbeatInterval: 0 });
    ({ port } = await server.listen());
    limited = createServer({ handlers: [Quiet], host: "127.0.0.1", port: 0, logger, rateLimit: { messagesPerSecond: 20 } });
    ({ port: limitedPort } = await limited.listen());
  });
  after(async () => {
    await server.close();
    await limited.close();
  });

  it("a ping flood from a peer that never reads is closed as TSWS_PING_FLOOD, logged once", { timeout: 30_000 }, async () => {
    const closed = new Promise<void>((resolve) => (closedOnce = resolve));
    const peer = await RawPeer.connect(port, { path: "/quiet/" });
    peer.socket.pause(); // never reads: the pongs pile up on the server
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    for (let i = 0; i < 2000 && !peer.socket.destroyed; i++) {
      peer.write(batch);
      if (peer.socket.writableNeedDrain) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed;
    assert.equal(reasons.at(-1), ForcedClose.pingFlood.reason, "socket.closeReason says why");
    const logged = logger.lines.filter((l: LogLine) => (l.obj as { code?: string }).code === ForcedClose.pingFlood.code);
    assert.equal(logged.length, 1, "logged once");
    assert.match(logged[0]?.msg ?? "", /^socket closed: ping flood/);
    peer.destroy();
  });

  it("pings count against rateLimit: 50 pings at once close a 20/s socket with 1008 rate limit", { timeout: 30_000 }, async () => {
    const closed = new Promise<void>((resolve) => (closedOnce = resolve));
    const peer = await RawPeer.connect(limitedPort, { path: "/quiet/" });
    // 50 pings: past the 20/s allowance, below ws's own limit of 60 unsent pongs.
    peer.write(Buffer.concat(Array.from({ length: 50 }, () => ping)));
    assert.equal(await peer.closeCode(), 1008);
    await closed;
    assert.equal(reasons.at(-1), ForcedClose.rateLimit.reason);
    peer.destroy();
  });
});
