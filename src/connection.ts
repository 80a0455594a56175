import { WebSocket } from "ws";
import type { EventQueue } from "./event-queue.js";
import type { InboundCheck } from "./guard.js";
import type { Socket } from "./socket.js";

/**
 * What the shared connection listeners report to the server that owns the connection.
 * @example
 * connection.attach(socket, queue, { error: (s, e) => log(s.id, e), closed: (s, q) => q.end() });
 */
export interface ConnectionOwner {
  /** ws reported a protocol or socket error; a "close" follows. */
  error(socket: Socket, error: Error): void;
  /** The connection has closed, with the close code and reason the peer sent (1006 and empty if none). */
  closed(socket: Socket, queue: EventQueue, ws: WebSocket, code: number, reason: Buffer): void;
  /** The peer answered a ping. */
  pong(ws: WebSocket): void;
}

/**
 * The ws `WebSocket` class the server creates (ws's documented `WebSocket` option). It carries
 * its Socket, event queue and owner, and takes the events the server needs in `emit` itself:
 * no closure and no listener per connection (three closures cost about 220 bytes, and every
 * listener grows the connection's listener dictionary).
 * @example
 * new WebSocketServer({ noServer: true, WebSocket: Connection })
 */
export class Connection extends WebSocket {
  #socket: Socket | undefined;
  #queue: EventQueue | undefined;
  #owner: ConnectionOwner | undefined;
  #inbound: InboundCheck | undefined;

  /** The Socket this connection serves, once attached. */
  get socket(): Socket | undefined {
    return this.#socket;
  }

  /**
   * Routes this connection's events to its queue and owner; call once, after the handshake.
   * @param inbound the rate check each message passes before it is queued
   */
  attach(socket: Socket, queue: EventQueue, owner: ConnectionOwner, inbound: InboundCheck): void {
    this.#socket = socket;
    this.#queue = queue;
    this.#owner = owner;
    this.#inbound = inbound;
  }

  /**
   * ws reports every event through `emit`: once attached, "message", "error", "close" and "pong"
   * go to the queue and owner first, then to listeners added with `on` as usual (`close()` waits
   * on "close"). An "error" nobody else listens to is handled, not thrown. ws passes at most two
   * arguments with any event; naming them (no rest array) keeps the message path allocation-free.
   */
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const socket = this.#socket;
    const queue = this.#queue;
    const owner = this.#owner;
    if (socket === undefined || queue === undefined || owner === undefined) return super.emit(event, a, b);
    if (event === "message") {
      const data = a as Buffer;
      if (this.#inbound?.(data.length)) queue.message(b ? data : data.toString());
    } else if (event === "pong") {
      owner.pong(this);
    } else if (event === "error") {
      owner.error(socket, a as Error);
      if (this.listenerCount("error") === 0) return true;
    } else if (event === "close") {
      owner.closed(socket, queue, this, a as number, b as Buffer);
    }
    return super.emit(event, a, b);
  }
}
