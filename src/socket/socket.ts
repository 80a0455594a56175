import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { parse as parseCookies } from "cookie";
import type { WebSocket } from "ws";
import { closeReasonOf, isValidCloseCode } from "../errors.js";
import { byteSize, type DropMessage, dropChannel, messageChannel, publishMessage } from "../observe/channels.js";
import type { Traffic } from "../observe/traffic.js";
import type { Message, Params, PathParams, RequestInfo, Room, SocketId } from "../types.js";
import { OUTBOUND_DROPPED, type OutboundLimit, Outbox } from "./outbox.js";
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
  /**
   * Where `session` and `user` live: the upgrade request once HTTP middleware put a session or a
   * user on it, so the socket always reads the request's current `req.session` (express-session's
   * `reload()` and `regenerate()` replace it) and `req.user` (passport's `req.login()` sets it).
   */
  readonly identity?: Identity | undefined;
  /** The id of a resumed session (its socket keeps it); a fresh random UUID when absent. */
  readonly id?: SocketId | undefined;
  /** True when the socket continues a resumed session. */
  readonly resumed?: boolean | undefined;
}

/** What holds a socket's session and user: the upgrade request, or an object of the socket's own. */
export interface Identity {
  session?: unknown;
  user?: unknown;
}

/**
 * Types for `socket.user`, `socket.session` and `socket.data`, declared by the application through
 * declaration merging (as express-session's `SessionData`). Each member is optional: left out,
 * `user` is `unknown`, `session` a {@link SessionLike}, `data` a `Record<string, unknown>`.
 * `user` and `session` may be undefined on a socket (no login, no middleware) and `data` starts
 * empty, so its fields are read as optional.
 * @example
 * declare module "tswebsockets" {
 *   interface SocketTypes {
 *     user: { id: string; name: string };
 *     session: import("express-session").Session & Partial<import("express-session").SessionData>;
 *     data: { lastSeen: number };
 *   }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface for applications to augment (declaration merging)
export interface SocketTypes {}

type Declared<K extends string, Fallback> = SocketTypes extends { readonly [P in K]: infer T } ? T : Fallback;

/**
 * The type of `socket.user` (besides `undefined`): `SocketTypes["user"]` when declared, else `unknown`.
 * @example
 * const name = (socket.user as SocketUser | undefined)?.name;
 */
export type SocketUser = Declared<"user", unknown>;
/**
 * The type of `socket.session` (besides `undefined`): `SocketTypes["session"]` when declared, else {@link SessionLike}.
 * @example
 * const session: SocketSession | undefined = socket.session;
 */
export type SocketSession = Declared<"session", SessionLike>;
/**
 * The type of `socket.data`: `Partial<SocketTypes["data"]>` when declared, else `Record<string, unknown>`.
 * @example
 * const data: SocketData = socket.data;
 */
export type SocketData = Partial<Declared<"data", Record<string, unknown>>>;

/** Set by Socket's static block: what the server's own layers reach and handlers never see. */
let internals: {
  outbox(socket: Socket): Outbox<Socket>;
  home(socket: Socket): SocketHome<Socket>;
  noteCloseReason(socket: Socket, reason: string): void;
  data(socket: Socket): SocketData | undefined;
  closeCode(socket: Socket): number | undefined;
};

/**
 * One connected peer, as handlers see it. Sends are queued in order and flushed before a close
 * frame; frames queued in one event-loop turn leave in one write (see {@link Outbox}).
 * @typeParam Path the namespace path, e.g. `"/chat/:room"`: it types `params` (`params.room` is a
 *   `string`). Default `string`: any param name, possibly absent.
 * @example
 * static onMessage(socket: Socket<"/chat/:room">, m: Message) { socket.server.to(socket.params.room).send(m) }
 */
export class Socket<Path extends string = string> {
  /** A unique, unguessable id (a random UUID). */
  // randomUUID() concatenates its string from pieces; copying it flat (toLowerCase makes a new
  // flat string) keeps 64 bytes per socket instead of a tree of cons strings of about 480.
  readonly id: SocketId;
  /**
   * True when this socket continues a session resumed within the `resume.ttl` window (same id,
   * rooms and `data`); false on a fresh session and without `resume`. Read it in `onConnect`.
   */
  readonly resumed: boolean;
  /** The request path after the base URI, without the query string. */
  readonly path: string;
  /** The `@Namespace` pattern the path matched, e.g. "/chat/:room": bounded, so fit for a metric label. */
  readonly namespace: string;
  /** Values of the namespace's `:name` segments (typed by the `Path` type parameter). */
  readonly params: PathParams<Path>;
  readonly #request: RequestInfo;

  readonly #home: SocketHome<Socket>;
  readonly #outbox: Outbox<Socket>;
  /** The upgrade request (once middleware put a session or user on it), or the socket's own holder. */
  #identity: Identity | undefined;
  /** The session and user last indexed for `closeSession`/`closeUser`: a change re-indexes. */
  #indexedSession: unknown;
  #indexedUser: unknown;
  #rooms: Set<Room> | undefined;
  #closeReason: string | undefined;
  /** The close code of the first `close()` this server called, if any. */
  #closeCode: number | undefined;
  #data: SocketData | undefined;
  #cookies: Record<string, string> | undefined;

  constructor(init: SocketInit) {
    this.id = init.id ?? randomUUID().toLowerCase();
    this.resumed = init.resumed === true;
    this.#home = init.home;
    this.#outbox = new Outbox<Socket>(this as unknown as Socket, init.ws, init.raw, init.outbound);
    this.path = init.path;
    this.namespace = init.namespace;
    this.params = init.params as PathParams<Path>;
    this.#request = init.request;
    this.#identity = init.identity;
    this.#indexedSession = init.identity?.session;
    this.#indexedUser = init.identity?.user;
  }

  /** The upgrade request's URL, headers and remote address. */
  get request(): RequestInfo {
    return this.#request;
  }

  /** The server this socket belongs to. */
  get server(): ServerApi<Socket> {
    return this.#home.server;
  }

  /**
   * The session set by HTTP middleware: always the upgrade request's current `req.session`, also
   * after express-session's `reload()` or `regenerate()` replaced it. An express-session `Session`
   * keeps its `req` (its `save()` and `touch()` need it), so the upgrade request stays reachable.
   * Typed by `SocketTypes["session"]` when the application declares it.
   */
  get session(): SocketSession | undefined {
    const session = this.#identity?.session as SocketSession | undefined;
    if (session !== this.#indexedSession) this.#reindex();
    return session;
  }
  set session(value: SocketSession | undefined) {
    this.#holder().session = value;
    this.#reindex();
  }

  /**
   * The user set by HTTP middleware: the upgrade request's current `req.user` (passport), if any; a
   * mixin may set it (`closeUser` follows). Typed by `SocketTypes["user"]` when declared.
   */
  get user(): SocketUser | undefined {
    const user = this.#identity?.user as SocketUser | undefined;
    if (user !== this.#indexedUser) this.#reindex();
    return user;
  }
  set user(value: SocketUser | undefined) {
    this.#holder().user = value;
    this.#reindex();
  }

  #holder(): Identity {
    this.#identity ??= {};
    return this.#identity;
  }

  /** The session or user changed (replaced by the socket or on the request): re-index for closeSession/closeUser. */
  #reindex(): void {
    this.#indexedSession = this.#identity?.session;
    this.#indexedUser = this.#identity?.user;
    this.#home.identityChanged(this as unknown as Socket);
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

  /**
   * A free per-socket store for handlers and mixins (made on first use: most sockets never need
   * one). Typed by `SocketTypes["data"]` when declared, its fields optional (it starts empty).
   */
  get data(): SocketData {
    this.#data ??= {} as SocketData;
    return this.#data;
  }
  set data(value: SocketData) {
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
    const traffic = this.#home.traffic;
    if ((traffic.counting !== 0 || messageChannel.hasSubscribers) && !this.closed) {
      if (traffic.counting !== 0) traffic.countOut(byteSize(data));
      if (messageChannel.hasSubscribers) publishMessage(this.#home.server, this, "out", data);
    }
    const sent = this.#outbox.send(data);
    if (sent === OUTBOUND_DROPPED && dropChannel.hasSubscribers) {
      dropChannel.publish({ server: this.#home.server, reason: "outbound_drop", count: 1 } satisfies DropMessage);
    }
    return sent;
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
    this.#closeCode ??= code;
    this.#outbox.close(code, reason);
  }

  /** Adds this socket to a room (on every node when the server has a cluster adapter). */
  join(room: Room): void {
    if (this.closed) return;
    this.#rooms ??= new Set();
    if (this.#rooms.has(room)) return;
    this.#rooms.add(room);
    this.#home.join(this as unknown as Socket, room);
  }

  /** Removes this socket from a room. */
  leave(room: Room): void {
    if (!this.#rooms?.delete(room)) return;
    this.#home.leave(this as unknown as Socket, room);
  }

  static {
    internals = {
      outbox: (socket) => socket.#outbox,
      home: (socket) => socket.#home,
      noteCloseReason: (socket, reason) => {
        socket.#closeReason ??= reason;
      },
      data: (socket) => socket.#data,
      closeCode: (socket) => socket.#closeCode,
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
 * The server a socket belongs to, as observers know it: `socket.server` of an events namespace is
 * a typed view of it (another object), so diagnostics messages carry this one.
 * @example
 * dropChannel.publish({ server: serverOf(socket), reason: "rate_limit", count: 1 });
 */
export function serverOf(socket: Socket): object {
  return internals.home(socket).server;
}

/**
 * The message totals of a socket's server (see {@link Traffic}).
 * @example
 * const traffic = trafficFor(socket); if (traffic.counting !== 0) traffic.countIn(socket.namespace, 64);
 */
export function trafficFor(socket: Socket): Traffic {
  return internals.home(socket).traffic;
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
 * The close code the server's own `close()` used first on `socket` (the app's, a limit's, a
 * resume's), or undefined when it never called it (the peer or the network ended the connection).
 * @example
 * if (serverCloseCodeOf(socket) === 1012) keepTheSession();
 */
export function serverCloseCodeOf(socket: Socket): number | undefined {
  return internals.closeCode(socket);
}

/**
 * A socket's `data`, or undefined when nothing made it yet (reading `socket.data` makes it).
 * @example
 * const json = JSON.stringify(dataOf(socket) ?? {});
 */
export function dataOf(socket: Socket): SocketData | undefined {
  return internals.data(socket);
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
