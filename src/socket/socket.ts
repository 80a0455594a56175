import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { parse as parseCookies } from "cookie";
import type { WebSocket } from "ws";
import { closeReasonOf, isValidCloseCode } from "../errors.js";
import { messageChannel, publishMessage } from "../observe/channels.js";
import type { Message, Params, RequestInfo, Room, SocketId } from "../types.js";
import { type OutboundLimit, Outbox } from "./outbox.js";
import type { ServerApi, SocketHome } from "./server-api.js";

/** Everything a socket is made from, handed over by the server once the handshake is done. */
export interface SocketInit {
  readonly ws: WebSocket;
  /** The TCP socket the handshake was made on; corked to coalesce this turn's frames. */
  readonly raw: Duplex;
  /** The server and this node's room index. */
  readonly home: SocketHome<Socket>;
  readonly path: string;
  /** The `@Namespace` pattern the path matched, e.g. "/chat/:room". */
  readonly namespace: string;
  readonly params: Params;
  readonly request: RequestInfo;
  /** The high-water mark of the outbound buffer and what happens past it. */
  readonly outbound: OutboundLimit<Socket>;
  /** What HTTP middleware left on the upgrade request (`req.session`, `req.user`). */
  readonly session?: SessionLike | undefined;
  readonly user?: unknown;
}

/** Set by Socket's static block: what the server's own layers reach and handlers never see. */
let internals: {
  outbox(socket: Socket): Outbox<Socket>;
  noteCloseReason(socket: Socket, reason: string): void;
};

/**
 * One connected peer, as handlers see it. Sends are queued in order and flushed before a close
 * frame; frames queued in one event-loop turn leave in one write (see {@link Outbox}).
 * @example
 * static onMessage(socket: Socket, m: Message) { socket.send(`you said ${m}`); socket.join("lobby") }
 */
export class Socket {
  /** A unique, unguessable id (a random UUID). */
  // randomUUID() concatenates its string from pieces; copying it flat (toLowerCase makes a new
  // flat string) keeps 64 bytes per socket instead of a tree of cons strings of about 480.
  readonly id: SocketId = randomUUID().toLowerCase();
  /** The request path after the base URI, without the query string. */
  readonly path: string;
  /** The `@Namespace` pattern the path matched, e.g. "/chat/:room": bounded, so fit for a metric label. */
  readonly namespace: string;
  /** Values of the namespace's `:name` segments. */
  readonly params: Params;
  /** The upgrade request's URL, headers and remote address. */
  readonly request: RequestInfo;

  readonly #home: SocketHome<Socket>;
  readonly #outbox: Outbox<Socket>;
  #session: SessionLike | undefined;
  #user: unknown;
  #rooms: Set<Room> | undefined;
  #closeReason: string | undefined;
  #data: Record<string, unknown> | undefined;
  #cookies: Record<string, string> | undefined;

  constructor(init: SocketInit) {
    this.#home = init.home;
    this.#outbox = new Outbox<Socket>(this, init.ws, init.raw, init.outbound);
    this.path = init.path;
    this.namespace = init.namespace;
    this.params = init.params;
    this.request = init.request;
    this.#session = init.session;
    this.#user = init.user;
  }

  /** The server this socket belongs to. */
  get server(): ServerApi<Socket> {
    return this.#home.server;
  }

  /**
   * The session set by HTTP middleware (`req.session`), if any. An express-session `Session`
   * keeps its `req` (its `save()` and `touch()` need it), so the upgrade request stays reachable.
   */
  get session(): SessionLike | undefined {
    return this.#session;
  }
  set session(value: SessionLike | undefined) {
    this.#session = value;
    this.#home.identityChanged(this);
  }

  /** The user set by HTTP middleware (`req.user`), if any; a mixin may set it (`closeUser` follows). */
  get user(): unknown {
    return this.#user;
  }
  set user(value: unknown) {
    this.#user = value;
    this.#home.identityChanged(this);
  }

  /**
   * Why the socket closed or is closing, e.g. "heartbeat timeout", "slow consumer", "rate limit",
   * "server shutting down", "peer closed (1000)"; undefined while it is open.
   */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /** Messages dropped by the "drop-newest" or "drop-oldest" slow-consumer policy. */
  get droppedMessages(): number {
    return this.#outbox.dropped;
  }

  /** Cookies sent with the upgrade request (parsed on first use). */
  get cookies(): Record<string, string> {
    const header = this.request.headers.cookie;
    this.#cookies ??= typeof header === "string" ? (parseCookies(header) as Record<string, string>) : {};
    return this.#cookies;
  }
  set cookies(value: Record<string, string>) {
    this.#cookies = value;
  }

  /** A free per-socket store for handlers and mixins (made on first use: most sockets never need one). */
  get data(): Record<string, unknown> {
    this.#data ??= {};
    return this.#data;
  }
  set data(value: Record<string, unknown>) {
    this.#data = value;
  }

  /** True from the moment `close()` is called or the peer's close frame arrives. */
  get closed(): boolean {
    return this.#outbox.closed;
  }

  /** The rooms this socket is in (still readable in `onClose`). */
  get rooms(): ReadonlySet<Room> {
    return this.#rooms ?? EMPTY;
  }

  /**
   * Queues a text (string) or binary (Buffer) message. Returns a promise that resolves once the
   * socket's write buffer has drained (at once when it is not full); await it to pace a producer.
   * After the socket has closed, the message is dropped.
   */
  send(data: Message): Promise<void> {
    if (messageChannel.hasSubscribers && !this.closed) publishMessage(this, "out", data);
    return this.#outbox.send(data);
  }

  /**
   * Closes the socket after everything queued so far has been sent. A reason longer than a close
   * frame holds (123 bytes of UTF-8) is cut at a character boundary; an invalid code throws a
   * TypeError and leaves the socket open.
   */
  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    if (!isValidCloseCode(code)) throw new TypeError(`socket.close(code): ${code} is not a valid close code`);
    reason = closeReasonOf(reason);
    this.#closeReason ??= reason || `closed by the server (${code})`;
    this.#outbox.close(code, reason);
  }

  /** Adds this socket to a room (on every node when the server has a cluster adapter). */
  join(room: Room): void {
    if (this.closed) return;
    this.#rooms ??= new Set();
    if (this.#rooms.has(room)) return;
    this.#rooms.add(room);
    this.#home.join(this, room);
  }

  /** Removes this socket from a room. */
  leave(room: Room): void {
    if (!this.#rooms?.delete(room)) return;
    this.#home.leave(this, room);
  }

  static {
    internals = {
      outbox: (socket) => socket.#outbox,
      noteCloseReason: (socket, reason) => {
        socket.#closeReason ??= reason;
      },
    };
  }
}

/**
 * A socket's write path, for the server's own layers (broadcasts write shared frames through it).
 * @example
 * outboxOf(socket).sendFrame(frame, data);
 */
export function outboxOf(socket: Socket): Outbox<Socket> {
  return internals.outbox(socket);
}

/**
 * Records why the socket is closing, unless a reason is already known (the first one wins).
 * @example
 * noteCloseReason(socket, "peer closed (1000)");
 */
export function noteCloseReason(socket: Socket, reason: string): void {
  internals.noteCloseReason(socket, reason);
}

/**
 * Drops the connection without a closing handshake (the peer is gone or not reading).
 * @example
 * terminate(socket, ForcedClose.heartbeatTimeout.reason);
 */
export function terminate(socket: Socket, reason: string): void {
  internals.noteCloseReason(socket, reason);
  internals.outbox(socket).terminate();
}

const EMPTY: ReadonlySet<Room> = new Set();

/**
 * The part of an express-session `Session` the library relies on.
 * @example
 * socket.session!.lastSeen = Date.now(); socket.session!.save?.();
 */
export interface SessionLike {
  readonly id?: string;
  save?(callback?: (err?: unknown) => void): unknown;
  [key: string]: unknown;
}
