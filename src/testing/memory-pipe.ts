/**
 * Two connected in-memory streams standing in for the two ends of a TCP connection, so the test
 * client reaches the server through Node's HTTP parser and ws' handshake without a port.
 * `stream.duplexPair` arrived in Node 20.17; this one also carries what code reads off a socket
 * (`remoteAddress`, `setNoDelay`...), delivers asynchronously like a network, and keeps
 * backpressure: a write completes only once the other end has taken it.
 */
import { Duplex } from "node:stream";

/**
 * One end of a {@link memoryPipe}. What is written to it is read from the other end.
 * @example
 * const [client, server] = memoryPipe();
 * client.write("hi"); // server emits "data" with <Buffer 68 69>
 */
export class MemoryEnd extends Duplex {
  /** Where the in-memory peer "connects from": loopback, as for a client on the same machine. */
  readonly remoteAddress = "127.0.0.1";
  readonly remoteFamily = "IPv4";
  readonly remotePort = 0;
  #peer: MemoryEnd | undefined;
  /** The callback of the write the peer has not read yet (backpressure, like a full TCP window). */
  #pendingWrite: (() => void) | undefined;

  constructor() {
    // A TCP socket Node's HTTP server accepts ends its writable side when the readable one ends.
    super({ allowHalfOpen: false });
  }

  /** Links two ends; done once by {@link memoryPipe}. */
  static link(a: MemoryEnd, b: MemoryEnd): void {
    a.#peer = b;
    b.#peer = a;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.#peer;
    if (peer === undefined || peer.destroyed) {
      callback(new Error("write after the other end of the in-memory connection closed"));
      return;
    }
    // Delivered on the next tick, never inside write(): over TCP a peer's answer cannot arrive
    // while the writer is still in its send call, and ws relies on that (a close frame answered
    // synchronously would start its close timer twice).
    process.nextTick(() => {
      if (peer.destroyed || peer.push(chunk)) callback();
      else this.#pendingWrite = () => callback();
    });
  }

  override _read(): void {
    const peer = this.#peer;
    if (peer === undefined) return;
    const resume = peer.#pendingWrite;
    peer.#pendingWrite = undefined;
    resume?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#endPeer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Like a dropped TCP connection: the other end reads its end, then closes.
    // A write of either end waiting for this one to read is let go: its bytes are lost, as in TCP.
    this.#endPeer();
    for (const end of [this, this.#peer]) {
      if (end === undefined) continue;
      const pending = end.#pendingWrite;
      end.#pendingWrite = undefined;
      pending?.();
    }
    callback(error);
  }

  /** The other end reads its end, after what was written before (nextTick keeps the order). */
  #endPeer(): void {
    const peer = this.#peer;
    if (peer === undefined) return;
    process.nextTick(() => {
      if (!peer.destroyed && !peer.readableEnded) peer.push(null);
    });
  }

  // What ws and Node's HTTP server call on a net.Socket; nothing to tune in memory.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/**
 * A pair of connected in-memory ends: give one to the client, the other to the server.
 * @example
 * const [clientEnd, serverEnd] = memoryPipe();
 * http.emit("connection", serverEnd);
 */
export function memoryPipe(): [MemoryEnd, MemoryEnd] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  MemoryEnd.link(a, b);
  return [a, b];
}
