import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer, type Server as WsServer } from "ws";
import type { Adapter, ClusterNode, ClusterOp } from "./adapters/adapter.js";
import { createMemoryAdapter } from "./adapters/memory.js";
import { BroadcastOperator, type BroadcastTarget, deliverLocal } from "./broadcast.js";
import { type ResolvedOptions, resolveOptions, type ServerOptions } from "./config.js";
import { Connection, type ConnectionOwner } from "./connection.js";
import { CloseCode, ConfigError, closeReasonOf, ForcedClose, isValidCloseCode, messageOf, Refusal, type RefusalKind } from "./errors.js";
import { EventQueue } from "./event-queue.js";
import { Guard } from "./guard.js";
import { type Chain, composeChain } from "./handler.js";
import { HttpMiddlewareMixin, runMiddleware } from "./http-middleware.js";
import type { Logger } from "./logger.js";
import { MixinFail } from "./mixin.js";
import { namespaceOf, Router, stripQuery } from "./namespace.js";
import { answerClientError } from "./request-checks.js";
import { requestInfo } from "./request-info.js";
import { Rooms } from "./rooms.js";
import { Socket } from "./socket.js";
import type { Message, Room, SocketId } from "./types.js";
import { originAllowed, refuseUpgrade } from "./upgrade.js";

/** A handler class ready to serve: its composed chains and what its upgrade needs. */
interface Endpoint {
  readonly chain: Chain;
  /** Runs HTTP middleware and trusts cookies: same-site origins only by default. */
  readonly usesMiddleware: boolean;
}

/**
 * Creates a WebSocket server for the given handler classes.
 * @example
 * const server = createServer({ handlers: [Chat], port: 0 });
 * const { port } = await server.listen();
 */
export function createServer(options: ServerOptions = {}): Server {
  return new Server(options);
}

/**
 * Serves handler classes: routes upgrades to namespaces, runs hooks, owns sockets and rooms.
 * Create it with {@link createServer}.
 * @example
 * const server: Server = createServer({ handlers: [Chat] });
 * server.to("lobby").send("maintenance in 5 minutes");
 */
export class Server {
  /** This node's room index. @internal */
  readonly rooms: Rooms;
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #router: Router<Endpoint>;
  readonly #wss: WsServer<typeof Connection>;
  readonly #adapter: Adapter;
  readonly #sockets = new Map<SocketId, { socket: Socket; ws: WebSocket }>();
  readonly #nodeId = randomUUID();
  readonly #ready: Promise<void>;
  readonly #broadcastTarget: BroadcastTarget;
  readonly #guard: Guard;
  #http: HttpServer | undefined;
  #standalone = false;
  #closing: Promise<void> | undefined;
  /** Sockets whose `onClose` has not finished yet; `close()` waits for them before stopping the adapter. */
  #unfinished = 0;
  #allFinished: (() => void) | undefined;
  /** Upgrades are accepted only once the adapter has started (attach mode listens before that). */
  #adapterState: "starting" | "ready" | "failed" = "starting";

  constructor(options: ServerOptions) {
    this.#options = resolveOptions(options);
    this.#logger = this.#options.logger;
    this.#router = new Router(this.#options.baseUri);
    const handlers = this.#options.handlers;
    if (handlers.length === 0)
      throw new ConfigError("TSWS_NO_HANDLERS", "createServer: no handler classes (decorate one with @Namespace or pass `handlers`)");
    for (const cls of handlers) {
      const path = namespaceOf(cls);
      if (path === undefined)
        throw new ConfigError("TSWS_NOT_A_NAMESPACE", `createServer: handler ${cls.name || "(anonymous)"} has no @Namespace(path)`);
      const chain = composeChain(cls);
      const usesMiddleware = chain.mixins.some((m) => m === HttpMiddlewareMixin || m.prototype instanceof HttpMiddlewareMixin);
      this.#router.add(path, { chain, usesMiddleware });
    }
    this.#wss = new WebSocketServer<typeof Connection>({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#options.maxPayload,
      perMessageDeflate: this.#options.perMessageDeflate,
      WebSocket: Connection,
    });
    this.#guard = new Guard(this.#options, this.#logger);
    this.#adapter = this.#options.adapter ?? createMemoryAdapter();
    this.rooms = new Rooms(this.#adapter);
    this.#broadcastTarget = {
      rooms: this.rooms,
      publish: (op) => this.#adapter.publish(op),
      members: (room) => this.#adapter.members(room),
    };
    this.#ready = this.#adapter.start(this.#clusterNode());
    this.#ready.then(
      () => {
        this.#adapterState = "ready";
      },
      (error: unknown) => {
        this.#adapterState = "failed";
        this.#logger.error({ err: error }, "the adapter failed to start; upgrades are refused with 503");
      },
    );
    if (this.#options.server) this.#attach(this.#options.server);
  }

  /**
   * Starts listening in standalone mode on `host`/`port` and resolves to the bound address. In
   * attach mode (`server` option) it waits for the adapter and for that server to be listening
   * (`app.listen()` returns before the port is bound), then returns its address.
   */
  async listen(): Promise<{ host: string; port: number }> {
    await this.#ready;
    // Also when close() was called while the adapter started: a port bound now would never be released.
    if (this.#closing !== undefined) throw new TypeError("listen(): the server is closed");
    let http = this.#http;
    if (http === undefined) {
      this.#standalone = true;
      // Slow or partial request headers are dropped after the handshake timeout (Node's default is minutes).
      const timeout = this.#options.handshakeTimeout;
      const timeouts = { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.min(timeout, 1000) };
      http = createHttpServer(timeouts, (_req, res) => {
        res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
        res.end("This is a WebSocket server: connect with a WebSocket client.\n");
      });
      http.on("clientError", answerClientError(this.#logger));
      // After listen() resolves, an accept failure (EMFILE…) must be logged, not thrown.
      http.on("error", (error) => this.#logger.error({ err: error }, `the HTTP server failed: ${error.message}`));
      this.#attach(http);
      http.listen(this.#options.port, this.#options.host);
    }
    try {
      if (!http.listening) await once(http, "listening");
    } catch (error) {
      // Port taken, say: forget this HTTP server so that a later listen() can try again.
      if (this.#standalone) this.#detach();
      throw error;
    }
    const address = http.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Sends to every socket in a room, on every node. */
  to(room: Room): BroadcastOperator {
    return new BroadcastOperator(this.#broadcastTarget, [room]);
  }

  /** The open socket with this id on this node; undefined once `close()` was called on it or its peer closed. */
  getSocket(id: SocketId): Socket | undefined {
    const entry = this.#sockets.get(id);
    return entry === undefined || entry.socket.closed ? undefined : entry.socket;
  }

  /** How many sockets are open on this node. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Sends to one socket by id, on whichever node holds it. */
  sendTo(id: SocketId, data: Message): void {
    const local = this.#sockets.get(id);
    if (local !== undefined) local.socket.send(data);
    else this.#adapter.publish({ type: "sendTo", id, data });
  }

  /** Closes every socket (on every node) whose `session.id` is `sessionId`, with 4401. */
  closeSession(sessionId: string, reason = "session ended"): void {
    this.#closeWhere({ type: "close", by: "session", value: sessionId, code: CloseCode.sessionEnded, reason });
  }

  /** Closes every socket (on every node) of a user, by `user.id` (or the user itself if a string). */
  closeUser(userId: string | number, reason = "logged out"): void {
    this.#closeWhere({ type: "close", by: "user", value: String(userId), code: CloseCode.sessionEnded, reason });
  }

  /**
   * Shuts down gracefully: new upgrades get 503, every socket is closed with 1001 once its queue
   * has flushed, stragglers are terminated after `closeTimeout`, the port is released.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const open = [...this.#sockets.values()];
    const closed = open.map(({ ws }) => new Promise<void>((resolve) => ws.once("close", () => resolve())));
    for (const { socket } of open) socket.close(CloseCode.goingAway, "server shutting down");
    this.#guard.stop();
    const grace = setTimeout(() => {
      for (const { ws } of this.#sockets.values()) ws.terminate();
    }, this.#options.closeTimeout);
    await Promise.all(closed);
    clearTimeout(grace);
    const http = this.#http;
    const standalone = this.#standalone;
    this.#detach();
    if (http !== undefined && standalone) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
    // An async onClose may still broadcast ("user left"): the adapter must outlive it.
    await this.#hooksFinished();
    await this.#ready.catch(() => {});
    await this.#adapter.stop();
  }

  /** Resolves once every socket's `onClose` has finished, or after `closeTimeout`. */
  #hooksFinished(): Promise<void> {
    if (this.#unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#logger.warn({ sockets: this.#unfinished }, "close(): onClose hooks still running after closeTimeout; stopping anyway");
        resolve();
      }, this.#options.closeTimeout);
      this.#allFinished = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The `closed` callback of every socket's EventQueue: its `onClose` has finished. */
  #queueFinished = (): void => {
    if (--this.#unfinished === 0) this.#allFinished?.();
  };

  #attach(http: HttpServer): void {
    this.#http = http;
    http.on("upgrade", this.#onUpgrade);
  }

  #detach(): void {
    this.#http?.off("upgrade", this.#onUpgrade);
    this.#http = undefined;
    this.#standalone = false;
  }

  #onUpgrade = (req: IncomingMessage, raw: Duplex, head: Buffer): void => {
    const match = this.#router.match(req.url ?? "/");
    // Attached to an app with upgrade listeners of its own: an unknown path (and its socket) is theirs.
    if (match === undefined && !this.#standalone && (this.#http?.listenerCount("upgrade") ?? 0) > 1) return;
    raw.on("error", socketOnError);
    if (match === undefined) {
      this.#refuse(raw, req, Refusal.notFound, `no WebSocket namespace at ${stripQuery(req.url ?? "/")}`);
      return;
    }
    if (this.#closing !== undefined) {
      this.#refuse(raw, req, Refusal.shuttingDown, "server shutting down");
      return;
    }
    if (this.#adapterState !== "ready") {
      const why = this.#adapterState === "failed" ? "the cluster adapter failed to start" : "the cluster adapter is starting";
      this.#refuse(raw, req, Refusal.adapterDown, why, { "Retry-After": "5" });
      return;
    }
    const refusal = this.#guard.admit(req, raw);
    if (refusal !== undefined) {
      this.#refuse(raw, req, refusal.kind, refusal.message, refusal.headers);
      return;
    }
    const endpoint = match.target;
    if (!originAllowed(req, this.#options.allowedOrigins, endpoint.usesMiddleware)) {
      this.#logger.warn(
        { origin: req.headers.origin, host: req.headers.host, path: match.path },
        `refused a cross-site WebSocket from origin ${req.headers.origin}; add it to the allowedOrigins option to allow it`,
      );
      this.#refuse(raw, req, Refusal.forbiddenOrigin, `origin ${req.headers.origin} is not allowed`);
      return;
    }
    if (!endpoint.usesMiddleware || this.#options.middleware.length === 0) {
      this.#handshake(req, raw, head, endpoint, match.path, match.params);
      return;
    }
    const done = runMiddleware(this.#options.middleware, req, raw, this.#options.handshakeTimeout).then((outcome) => {
      if (outcome.kind === "passed") {
        if (this.#closing !== undefined) this.#refuse(raw, req, Refusal.shuttingDown, "server shutting down");
        else this.#handshake(req, raw, head, endpoint, match.path, match.params);
      } else if (outcome.kind === "timeout") {
        this.#refuse(raw, req, Refusal.handshakeTimeout, "handshake timed out (middleware did not finish)");
      } else if (outcome.kind === "failed") {
        this.#logger.warn({ err: outcome.error, path: match.path }, "HTTP middleware refused an upgrade");
        const kind = { code: Refusal.middlewareRefused.code, status: outcome.status };
        this.#refuse(raw, req, kind, outcome.status >= 500 ? "middleware failed" : messageOf(outcome.error));
      } else {
        this.#logger.info({ status: outcome.status, path: match.path }, "HTTP middleware answered an upgrade");
        raw.end();
        setTimeout(() => raw.destroy(), 1000).unref();
      }
    });
    done.catch(this.#upgradeFailed(raw));
  };

  /** A bug on the upgrade path must cost one connection, never the process (no unhandled rejection). */
  #upgradeFailed(raw: Duplex): (error: unknown) => void {
    return (error) => {
      this.#logger.error({ err: error }, "the upgrade failed unexpectedly; dropping the connection");
      raw.destroy();
    };
  }

  #refuse(raw: Duplex, req: IncomingMessage, kind: RefusalKind, message: string, headers?: Record<string, string>): void {
    const { code, status } = kind;
    this.#logger.info({ code, status, url: req.url, remoteAddress: req.socket.remoteAddress }, `upgrade refused: ${message}`);
    refuseUpgrade(raw, status, message, headers);
  }

  #handshake(req: IncomingMessage, raw: Duplex, head: Buffer, endpoint: Endpoint, path: string, params: Record<string, string>): void {
    if (raw.destroyed) return;
    this.#wss.handleUpgrade(req, raw, head, (ws) => {
      raw.off("error", socketOnError); // ws handles the socket's errors from now on; one listener less per socket
      const socket = new Socket({
        ws,
        raw,
        server: this,
        path,
        params,
        request: requestInfo(req),
        outbound: this.#guard.outbound,
      });
      const r = req as IncomingMessage & { session?: Socket["session"]; user?: unknown };
      socket.session = r.session;
      socket.user = r.user;
      this.#open(socket, ws, endpoint);
    });
  }

  #open(socket: Socket, ws: Connection, endpoint: Endpoint): void {
    this.#sockets.set(socket.id, { socket, ws });
    this.#unfinished++;
    const queue = new EventQueue(socket, ws, endpoint.chain, this.#options.maxPendingMessages, this.#hookFailed, this.#queueFinished);
    ws.attach(socket, queue, this.#connections, this.#guard.watch(socket, ws));
    queue.connect(socket.path);
  }

  /** What every connection's shared listeners call (see {@link Connection}). */
  readonly #connections: ConnectionOwner = {
    // ws closes the socket itself after a protocol error (1002, 1007, 1008, 1009): log it once.
    error: (socket, error: Error & { code?: string }) => {
      socket.noteCloseReason(error.message);
      const kind =
        error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
          ? ForcedClose.messageTooBig
          : error.code === "WS_ERR_INVALID_UTF8"
            ? ForcedClose.invalidPayload
            : ForcedClose.protocolError;
      this.#logger.info(
        { err: error, code: kind.code, closeCode: kind.closeCode, socket: socket.id },
        `socket closed: ${kind.reason} (${error.message})`,
      );
    },
    closed: (socket, queue, ws, code, reason) => {
      socket.noteCloseReason(`peer closed (${code}${reason.length > 0 ? `: ${reason}` : ""})`);
      this.#guard.forget(ws);
      this.#sockets.delete(socket.id);
      this.rooms.leaveAll(socket);
      queue.end();
    },
    pong: (ws) => this.#guard.pong(ws),
  };

  /** A hook threw: MixinFail closes with its code; anything else is logged and closes with 1011. */
  #hookFailed = (socket: Socket, error: unknown): void => {
    if (error instanceof MixinFail) {
      this.#logger.info({ socket: socket.id, code: error.code }, `blocked by a mixin: ${error.reason}`);
      closeSafely(socket, error.code, error.reason);
      return;
    }
    this.#logger.error({ err: error, socket: socket.id, path: socket.path }, "a handler hook failed; closing the socket with 1011");
    closeSafely(socket, CloseCode.internalError, "internal error");
  };

  #closeWhere(given: Extract<ClusterOp, { type: "close" }>): void {
    // Cut once, here: every node receives a reason its sockets can send.
    const op = { ...given, reason: closeReasonOf(given.reason) };
    this.#closeLocal(op);
    this.#adapter.publish(op);
  }

  #closeLocal(op: Extract<ClusterOp, { type: "close" }>): void {
    for (const { socket } of this.#sockets.values()) {
      const key = op.by === "session" ? socket.session?.id : userKey(socket.user);
      if (key === op.value) closeSafely(socket, op.code, op.reason);
    }
  }

  #clusterNode(): ClusterNode {
    return {
      nodeId: this.#nodeId,
      logger: this.#logger,
      receive: (op) => {
        if (op.type === "broadcast") deliverLocal(this.rooms, op.rooms, op.except, op.data);
        else if (op.type === "sendTo") this.#sockets.get(op.id)?.socket.send(op.data);
        else this.#closeLocal(op);
      },
      localMembers: (room) => this.rooms.localIds(room),
    };
  }
}

/** The key `closeUser` matches: a string or number user, or the user's `id`. */
function userKey(user: unknown): string | undefined {
  if (typeof user === "string" || typeof user === "number") return String(user);
  const id = (user as { id?: unknown } | null | undefined)?.id;
  return id === undefined || id === null ? undefined : String(id);
}

/** A code from application code (MixinFail) or another node may be invalid: never let that throw here. */
function closeSafely(socket: Socket, code: number, reason: string): void {
  socket.close(isValidCloseCode(code) ? code : CloseCode.policyViolation, reason);
}

function socketOnError(this: Duplex): void {
  this.destroy();
}
