// Issue 11, item 1: every message a peer sent before it closed is handled, in order, then onClose —
// with an async onMessage, with a TCP FIN instead of a close frame, and during an async onConnect.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { closePayload, frame, RawPeer } from "./fixtures/raw-peer.js";
import { gate } from "./helpers.js";

describe("messages a peer sent before closing", () => {
  const seen = new Map<string, string[]>();
  const closed = new Map<string, () => void>();
  const record = (socket: Socket, what: string) => {
    const key = socket.request.headers["x-case"] as string;
    seen.set(key, [...(seen.get(key) ?? []), what]);
  };
  const onClosed = (key: string) => {
    const g = gate();
    closed.set(key, g.open);
    return g.promise;
  };

  @Namespace("/async-message/")
  class AsyncMessage extends BaseHandler {
    // async, awaiting nothing: the case the issue names
    static async onMessage(socket: Socket, message: Message) {
      record(socket, `message ${message}`);
    }
    static onClose(socket: Socket) {
      record(socket, "close");
      closed.get(socket.request.headers["x-case"] as string)?.();
    }
  }

  @Namespace("/slow-message/")
  class SlowMessage extends BaseHandler {
    // a hook still running when the FIN arrives: "2" waits behind it
    static async onMessage(socket: Socket, message: Message) {
      await new Promise((r) => setTimeout(r, 50));
      record(socket, `message ${message}`);
    }
    static onClose(socket: Socket) {
      record(socket, "close");
      closed.get(socket.request.headers["x-case"] as string)?.();
    }
  }

  @Namespace("/async-connect/")
  class AsyncConnect extends BaseHandler {
    static async onConnect(socket: Socket) {
      await new Promise((r) => setTimeout(r, 200));
      record(socket, "connect");
    }
    static onMessage(socket: Socket, message: Message) {
      record(socket, `message ${message}`);
    }
    static onClose(socket: Socket) {
      record(socket, "close");
      closed.get(socket.request.headers["x-case"] as string)?.();
    }
  }

  const server = createServer({ handlers: [AsyncMessage, SlowMessage, AsyncConnect], host: "127.0.0.1", port: 0 });
  let port = 0;
  before(async () => {
    port = (await server.listen()).port;
  });
  after(() => server.close());

  const text = (payload: string) => frame({ opcode: 1, payload });

  it('handles "1" and "2" sent with close(1000) in one read, then onClose', async () => {
    const done = onClosed("frame");
    const peer = await RawPeer.connect(port, { path: "/async-message/", headers: ["X-Case: frame"] });
    peer.write(Buffer.concat([text("1"), text("2"), frame({ opcode: 8, payload: closePayload(1000) })]));
    await done;
    assert.deepEqual(seen.get("frame"), ["message 1", "message 2", "close"]);
    peer.destroy();
  });

  it('handles "1" and "2" followed by a TCP FIN (no close frame) while a hook runs, then onClose', async () => {
    const done = onClosed("fin");
    const peer = await RawPeer.connect(port, { path: "/slow-message/", headers: ["X-Case: fin"] });
    peer.socket.end(Buffer.concat([text("1"), text("2")]));
    await done;
    assert.deepEqual(seen.get("fin"), ["message 1", "message 2", "close"]);
  });

  it("handles five messages sent during an async onConnect, after it, then onClose", async () => {
    const done = onClosed("connect");
    const peer = await RawPeer.connect(port, { path: "/async-connect/", headers: ["X-Case: connect"] });
    peer.write(Buffer.concat([..."abcde"].map((m) => text(m)).concat(frame({ opcode: 8, payload: closePayload(1000) }))));
    await done;
    assert.deepEqual(seen.get("connect"), ["connect", "message a", "message b", "message c", "message d", "message e", "close"]);
    peer.destroy();
  });
});
