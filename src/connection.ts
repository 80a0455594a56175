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
}

// Listeners shared by every connection (ws calls them with `this` set to the connection); set in
// Connection's static block, where they can read its private fields.
let connectionOnMessage: (this: WebSocket, data: Buffer, isBinary: boolean) => void;
let connectionOnError: (this: WebSocket, error: Error) => void;
let connectionOnClose: (this: WebSocket, code: number, reason: Buffer) => void;

/**
 * The ws `WebSocket` class the server creates (ws's documented `WebSocket` option). It carries
 * its Socket, event queue and owner, so one set of listener functions serves every connection:
 * three closures and their context per socket would cost about 220 bytes each time.
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
    this.on("error", connectionOnError);
    this.on("message", connectionOnMessage);
    this.on("close", connectionOnClose);
  }

  static {
    connectionOnMessage = function (this: WebSocket, data: Buffer, isBinary: boolean): void {
      const c = this as Connection;
      if (c.#inbound?.(data.length)) c.#queue?.message(isBinary ? data : data.toString());
    };
    connectionOnError = function (this: WebSocket, error: Error): void {
      const c = this as Connection;
      if (c.#socket !== undefined) c.#owner?.error(c.#socket, error);
    };
    connectionOnClose = function (this: WebSocket, code: number, reason: Buffer): void {
      const c = this as Connection;
      if (c.#socket !== undefined && c.#queue !== undefined) c.#owner?.closed(c.#socket, c.#queue, c, code, reason);
    };
  }
}
