import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { parse as parseCookies } from "cookie";
import type { WebSocket } from "ws";
import { closeReasonOf, isValidCloseCode } from "./errors.js";
import type { RequestInfo } from "./request-info.js";
import type { Server } from "./server.js";
import { Backlog, type OutboundLimit } from "./slow-consumer.js";
import type { Message, Params, Room, SocketId } from "./types.js";

/** Everything a socket is made from, handed over by the server once the handshake is done. */
export interface SocketInit {
  readonly ws: WebSocket;
  /** The TCP socket the handshake was made on; corked to coalesce this turn's frames. */
  readonly raw: Duplex;
  readonly server: Server;
  readonly path: string;
  readonly params: Params;
  readonly request: RequestInfo;
  /** The high-water mark of the outbound buffer and what happens past it. */
  readonly outbound: OutboundLimit;
}

const OPEN = 1;
/** Set by Socket's static block: lets the batch flush reach a private method without a closure per send. */
let uncork: (socket: Socket) => void;
/**
 * Sockets corked in this event-loop turn. One nextTick uncorks them all: a broadcast to a
 * thousand sockets schedules one callback, not a thousand.
 */
let corked: Socket[] = [];

function uncorkAll(): void {
  const batch = corked;
  corked = []; // a send made while flushing corks again and schedules its own flush
  for (const socket of batch) uncork(socket);
}
const READY: Promise<void> = Promise.resolve();

/**
 * One connected peer, as handlers see it. Sends are queued in order and flushed before a close
 * frame; frames queued in one event-loop turn leave in one write.
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
  /** Values of the namespace's `:name` segments. */
  readonly params: Params;
  /** The upgrade request's URL, headers and remote address. */
  readonly request: RequestInfo;
  /**
   * The session set by HTTP middleware (`req.session`), if any. An express-session `Session`
   * keeps its `req` (its `save()` and `touch()` need it), so the upgrade request stays reachable.
   */
  session: SessionLike | undefined = undefined;
  /** The user set by HTTP middleware (`req.user`), if any. */
  user: unknown = undefined;
  /** The server this socket belongs to. */
  readonly server: Server;

  readonly #ws: WebSocket;
  readonly #raw: Duplex;
  /** True when frames may be written straight to the TCP socket (no extension transforms them). */
  readonly #plainFrames: boolean;
  #corked = false;
  /** Whether the socket was past its high-water mark when this event-loop turn's sends began. */
  #congested = false;
  #rooms: Set<Room> | undefined;
  #drain: Promise<void> | undefined;
  readonly #outbound: OutboundLimit;
  #backlog: Backlog | undefined;
  #dropped = 0;
  #closeReason: string | undefined;
  #data: Record<string, unknown> | undefined;
  #cookies: Record<string, string> | undefined;

  constructor(init: SocketInit) {
    this.#ws = init.ws;
    this.#raw = init.raw;
    this.server = init.server;
    this.path = init.path;
    this.params = init.params;
    this.request = init.request;
    this.#plainFrames = init.ws.extensions === "";
    this.#outbound = init.outbound;
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
    return this.#dropped;
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
    return this.#ws.readyState !== OPEN;
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
    if (this.closed) return READY;
    this.#cork();
    if (this.#congested || this.#backlog !== undefined) return this.#overflow(data);
    this.#ws.send(data);
    return this.#afterWrite();
  }

  /**
   * Writes a frame encoded once for many receivers (see `to(room).send`). Falls back to a normal
   * send when an extension (permessage-deflate) must transform each frame.
   * @internal
   */
  sendFrame(frame: readonly Buffer[], data: Message): void {
    if (this.closed) return;
    this.#cork();
    if (!this.#plainFrames || this.#congested || this.#backlog !== undefined) {
      this.send(data);
      return;
    }
    for (const part of frame) this.#raw.write(part);
    this.#afterWrite();
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
    this.#cork();
    this.#backlog?.release(); // what the drop-oldest queue holds leaves before the close frame
    this.#ws.close(code, reason);
  }

  /** Adds this socket to a room (on every node when the server has a cluster adapter). */
  join(room: Room): void {
    if (this.closed) return;
    this.#rooms ??= new Set();
    if (this.#rooms.has(room)) return;
    this.#rooms.add(room);
    this.server.rooms.join(this, room);
  }

  /** Removes this socket from a room. */
  leave(room: Room): void {
    if (!this.#rooms?.delete(room)) return;
    this.server.rooms.leave(this, room);
  }

  /**
   * Records why the socket is closing, unless a reason is already known (the first one wins).
   * @internal
   */
  noteCloseReason(reason: string): void {
    this.#closeReason ??= reason;
  }

  /**
   * Drops the connection without a closing handshake (the peer is gone or not reading).
   * @internal
   */
  terminate(reason: string): void {
    this.#closeReason ??= reason;
    this.#ws.terminate();
  }

  /** Past the high-water mark: apply the server's slow-consumer policy. */
  #overflow(data: Message): Promise<void> {
    const limit = this.#outbound;
    if (limit.policy === "close") {
      limit.onSlow(this);
      return READY;
    }
    if (limit.policy === "drop-newest") {
      limit.onDrop(this, ++this.#dropped);
    } else {
      this.#backlog ??= new Backlog(
        this.#ws,
        this.#raw,
        limit.maxBufferedBytes,
        () => limit.onDrop(this, ++this.#dropped),
        () => {
          this.#backlog = undefined;
        },
      );
      this.#backlog.push(data);
    }
    return this.#afterWrite();
  }

  /** Frames sent in one event-loop turn are held and leave together in one write. */
  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    // Measured once per turn, before this turn's frames: a burst queued within one turn is the
    // handler's own doing and is let through; a peer that has not taken the last turns' is slow.
    this.#congested = this.#ws.bufferedAmount > this.#outbound.maxBufferedBytes;
    this.#raw.cork();
    if (corked.push(this) === 1) process.nextTick(uncorkAll);
  }

  #uncork(): void {
    this.#corked = false;
    this.#raw.uncork();
  }

  #afterWrite(): Promise<void> {
    if (!this.#raw.writableNeedDrain) return READY;
    this.#drain ??= new Promise<void>((resolve) => {
      const done = () => {
        this.#raw.off("drain", done);
        this.#raw.off("close", done);
        this.#drain = undefined;
        resolve();
      };
      this.#raw.on("drain", done);
      this.#raw.on("close", done);
    });
    return this.#drain;
  }

  static {
    uncork = (socket: Socket) => socket.#uncork();
  }
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
