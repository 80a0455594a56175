import { WebSocket } from "ws";
import { ForcedClose } from "../errors.js";
import type { MessageClaim } from "../hooks/socket-protocol.js";
import { closeChannel, messageChannel, publishMessage } from "../observe/channels.js";
import type { Traffic } from "../observe/traffic.js";
import { noteCloseReason, type Socket, serverOf, trafficFor } from "../socket/socket.js";
import { decodeText } from "../socket/text-bytes.js";
import type { EventQueue } from "./event-queue.js";
import { quietRedundantEnds } from "./redundant-end.js";

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
  #claim: MessageClaim | undefined;
  #closed: ((socket: Socket) => void) | undefined;
  #traffic: Traffic | undefined;

  /** The Socket this connection serves, once attached. */
  get socket(): Socket | undefined {
    return this.#socket;
  }

  /**
   * Routes this connection's events to its queue and owner; call once, after the handshake.
   * @param inbound the rate check each message passes before it is queued
   * @param claim the namespace protocol's first look at each message (replies skip the queue)
   * @param closed the namespace protocol's word of the close, after the queue's (see `SocketProtocol.closed`)
   */
  attach(
    socket: Socket,
    queue: EventQueue,
    owner: ConnectionOwner,
    inbound: InboundCheck,
    claim?: MessageClaim,
    closed?: (socket: Socket) => void,
  ): void {
    this.#socket = socket;
    this.#queue = queue;
    this.#owner = owner;
    this.#inbound = inbound;
    this.#claim = claim;
    this.#closed = closed;
    this.#traffic = trafficFor(socket);
    quietRedundantEnds(this);
  }

  /**
   * Every close the server makes records its reason before it terminates; a terminate without one
   * is ws acting on its own, which in ws 8 means a peer that sends pings faster than it reads the
   * pongs (`maxPendingAutoPongs`). Attribute it and report it like the server's own forced closes.
   */
  override terminate(): void {
    const socket = this.#socket;
    if (socket !== undefined && socket.closeReason === undefined && this.readyState === WebSocket.OPEN) {
      const kind = ForcedClose.pingFlood;
      noteCloseReason(socket, kind.reason);
      const error = Object.assign(new Error("the peer sent pings faster than it read the pongs"), { code: kind.code });
      this.#owner?.onError(socket, error);
    }
    super.terminate();
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
      const traffic = this.#traffic as Traffic;
      if (traffic.counting !== 0) traffic.countIn(socket.namespace, data.length);
      if (messageChannel.hasSubscribers) publishMessage(serverOf(socket), socket, "in", data);
      if (this.#inbound?.(data.length) && !this.#claim?.(socket, data, b as boolean)) queue.message(b ? data : decodeText(data));
    } else if (event === "ping") {
      // Control frames count against the rate limit too: a ping flood is a flood.
      this.#inbound?.((a as Buffer).length);
    } else if (event === "pong") {
      owner.onPong(this);
      this.#inbound?.((a as Buffer).length);
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
      if (closeChannel.hasSubscribers) closeChannel.publish({ server: serverOf(socket), socket, code, by: byPeer ? "peer" : "server" });
      queue.end(byPeer);
      this.#closed?.(socket);
    }
    return super.emit(event, a, b);
  }
}
