// quietRedundantEnds (src/inbound/redundant-end.ts) gives ws' receiver and TCP socket an end() that
// skips only what Node's own end() does for nothing (an error built for no callback). Here: the same
// end() calls on a stream with it and one without leave both in the same state, with the same
// events and callback errors, in every state a stream can be in when ws calls end(); and over real
// TCP, connections closed by a closing handshake, by the peer's FIN and by the server still close
// with their codes and run onClose once.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type Socket as TcpSocket, connect as tcpConnect, createServer as tcpServer } from "node:net";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket } from "ws";
import { quietRedundantEnds } from "../src/inbound/redundant-end.js";
import { BaseHandler, createServer, Namespace, type Socket } from "../src/index.js";
import { until } from "./helpers.js";

/** A Writable whose writes complete when `release()` is called (so it can be left ending but unfinished). */
function slowWritable(): { stream: Writable; events: string[]; release: () => void } {
  const events: string[] = [];
  const pending: (() => void)[] = [];
  const stream = new Writable({
    write(_chunk, _encoding, done) {
      pending.push(done);
    },
  });
  for (const name of ["finish", "close", "error"]) stream.on(name, (e?: Error) => events.push(e ? `${name}:${e.message}` : name));
  const release = () => {
    for (const done of pending.splice(0)) done();
  };
  return { stream, events, release };
}

/** What one can observe of a stream and its events. */
function observe(stream: Writable, events: string[]) {
  return {
    ended: stream.writableEnded,
    finished: stream.writableFinished,
    destroyed: stream.destroyed,
    corked: stream.writableCorked,
    errored: stream.errored?.message ?? null,
    events: [...events],
  };
}

/** The code of the error a callback got, after the ticks Node defers it to. */
async function endWithCallback(stream: Writable): Promise<string | null> {
  return new Promise((resolve) => stream.end((error?: Error | null) => resolve((error as { code?: string } | null)?.code ?? null)));
}

type Step = (s: Writable) => void | Promise<void>;

/** States a stream can be in when ws calls end() on it, each reached the same way on both streams. */
const states: [string, Step[]][] = [
  ["open", []],
  ["corked", [(s) => s.cork()]],
  ["ending, a write pending", [(s) => void s.write("x"), (s) => void s.end()]],
  ["finished", [(s) => void s.end(), () => sleep(5)]],
  ["finished and destroyed", [(s) => void s.end(), () => sleep(5), (s) => void s.destroy()]],
  ["destroyed, never ended", [(s) => void s.destroy(), () => sleep(5)]],
  ["errored", [(s) => void s.on("error", () => {}).destroy(new Error("boom")), () => sleep(5)]],
  ["finished, then corked", [(s) => void s.end(), () => sleep(5), (s) => s.cork()]],
];

describe("redundant end() calls made quiet", () => {
  for (const [name, steps] of states) {
    it(`a stream ${name}: end(), end() again and end(callback) do what they did without it`, async () => {
      const plain = slowWritable();
      const quiet = slowWritable();
      quietRedundantEnds({ _receiver: quiet.stream });
      assert.notEqual(quiet.stream.end, Writable.prototype.end, "the quiet end() is installed");
      for (const step of steps) {
        await step(plain.stream);
        await step(quiet.stream);
      }
      for (const { stream, release } of [plain, quiet]) {
        assert.equal(stream.end(), stream, "end() returns the stream");
        stream.end();
        release();
      }
      await sleep(5);
      assert.deepEqual(observe(quiet.stream, quiet.events), observe(plain.stream, plain.events));
      const [plainCode, quietCode] = await Promise.all([endWithCallback(plain.stream), endWithCallback(quiet.stream)]);
      assert.equal(quietCode, plainCode, "the callback gets the same error");
      assert.deepEqual(observe(quiet.stream, quiet.events), observe(plain.stream, plain.events));
    });
  }

  it("leaves alone an object without ws' streams", () => {
    const ws = { _receiver: { end: "not a stream" }, _socket: null };
    quietRedundantEnds(ws);
    assert.equal(ws._receiver.end, "not a stream");
  });

  it("a TCP socket keeps its own end() for data and callbacks", async () => {
    const server = tcpServer((peer) => peer.pipe(peer));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const socket = tcpConnect((server.address() as { port: number }).port, "127.0.0.1");
      await once(socket, "connect");
      quietRedundantEnds({ _socket: socket });
      const echoed: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => echoed.push(chunk));
      const finished = new Promise<void>((resolve) => socket.end("bye", () => resolve()));
      await finished;
      await once(socket, "close");
      assert.equal(Buffer.concat(echoed).toString(), "bye", "the data sent with end() arrived and came back");
      assert.equal(await endWithCallback(socket as unknown as Writable), "ERR_STREAM_ALREADY_FINISHED");
    } finally {
      server.close();
    }
  });
});

describe("connections closed every way still close (real TCP)", () => {
  it("a closing handshake, a FIN without one, and a close by the server: codes and one onClose each", async () => {
    const closes: string[] = [];
    @Namespace("/q")
    class Q extends BaseHandler {
      static onMessage(socket: Socket, text: string) {
        if (text === "close me") socket.close(4000, "asked");
      }
      static onClose(socket: Socket) {
        closes.push(socket.id);
      }
    }
    const server = createServer({ handlers: [Q], host: "127.0.0.1", port: 0, heartbeatInterval: 0 });
    const { port } = await server.listen();
    try {
      const url = `ws://127.0.0.1:${port}/q`;
      const open = async () => {
        const ws = new WebSocket(url);
        await once(ws, "open");
        return ws;
      };
      const clean = await open();
      const cleanClosed = once(clean, "close");
      clean.close(1000, "done");
      assert.equal(((await cleanClosed) as [number])[0], 1000);

      const dropped = await open();
      const raw = (dropped as unknown as { _socket: TcpSocket })._socket;
      raw.end(); // a FIN, no close frame

      const asked = await open();
      const askedClosed = once(asked, "close");
      asked.send("close me");
      const [code, reason] = (await askedClosed) as [number, Buffer];
      assert.deepEqual([code, reason.toString()], [4000, "asked"]);

      await until(() => closes.length >= 3, "onClose for all three");
      await sleep(100);
      assert.equal(closes.length, 3, "once each");
      assert.equal(new Set(closes).size, 3);
    } finally {
      await server.close();
    }
  });
});
