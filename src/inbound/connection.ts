import { WebSocket } from "ws";
import { noteCloseReason, type Socket } from "../socket/socket.js";
import { decodeText } from "../socket/text-bytes.js";
import type { EventQueue } from "./event-queue.js";

/**
 * Says whether an inbound message of `size` bytes may be handled (the rate limit's check).
 * @example
 * const inbound: InboundCheck = (size) => limiter.allow(size);
 */
export type InboundCheck = (size: number) => boolean;

/**
 * What a server does with its connections' events, shared by all of them.
 * @example
 * connection.attach(socket, queue, { onError: (s, e) => log(s.id, e), onClose: (s) => node.remove(s), onPong: () => {} }, check);
 */
export interface ConnectionOwner {
  /** ws reported a protocol or socket error; a "close" follows. */
  onError(socket: Socket, error: Error): void;
  /** The connection has closed (after the socket's close reason was recorded); the queue is ended next. */
  onClose(socket: Socket, connection: Connection): void;
  /** The peer answered a ping. */
  onPong(connection: Connection): void;
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
      if (this.#inbound?.(data.length)) queue.message(b ? data : decodeText(data));
    } else if (event === "pong") {
      owner.onPong(this);
    } else if (event === "error") {
      owner.onError(socket, a as Error);
      if (this.listenerCount("error") === 0) return true;
    } else if (event === "close") {
      // Every close the server starts records its reason first: none yet means the peer ended it.
      const byPeer = socket.closeReason === undefined;
      const code = a as number;
      const reason = (b as Buffer).toString();
      noteCloseReason(socket, `peer closed (${code}${reason.length > 0 ? `: ${reason}` : ""})`);
      owner.onClose(socket, this);
      queue.end(byPeer);
    }
    return super.emit(event, a, b);
  }
}
