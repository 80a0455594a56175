import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type Server as WsServer } from "ws";
import type { Adapter } from "./cluster/adapter.js";
import { BroadcastOperator } from "./cluster/broadcast.js";
import { LocalNode } from "./cluster/local-node.js";
import { createMemoryAdapter } from "./cluster/memory-adapter.js";
import { CloseCode, ConfigError, ConfigErrors, ForcedClose, Refusal } from "./errors.js";
import { composeChain } from "./hooks/chain.js";
import { Connection, type ConnectionOwner } from "./inbound/connection.js";
import { EventQueue, type QueuePolicy } from "./inbound/event-queue.js";
import { hookFailure } from "./inbound/hook-failure.js";
import { Guard } from "./limits/guard.js";
import type { Logger } from "./logger.js";
import { namespaceOf } from "./routing/namespace.js";
import { Router, stripQuery } from "./routing/router.js";
import { type ResolvedOptions, resolveOptions, type ServerOptions } from "./server-options.js";
import type { ServerApi } from "./socket/server-api.js";
import { noteCloseReason, outboxOf, Socket, terminate } from "./socket/socket.js";
import type { Message, Room, SocketId } from "./types.js";
import { originAllowed } from "./upgrade/origin.js";
import { refuse, type Upgrade, UpgradePipeline, type UpgradeStep } from "./upgrade/pipeline.js";
import { answerClientError, checkUpgradeRequest } from "./upgrade/request-checks.js";
import { requestInfo } from "./upgrade/request-info.js";
import { mixinSteps } from "./upgrade/step-source.js";

/** A namespace ready to serve: its upgrade pipeline and what its sockets' queues share. */
interface Endpoint {
  readonly pipeline: UpgradePipeline;
  readonly queue: QueuePolicy;
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
 * Create it with {@link createServer}. The parts live in their own layers (upgrade/, inbound/,
 * cluster/, limits/); this class wires them and holds the public API.
 * @example
 * const server: Server = createServer({ handlers: [Chat] });
 * server.to("lobby").send("maintenance in 5 minutes");
 */
export class Server implements ServerApi<Socket> {
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #router: Router<Endpoint>;
  readonly #wss: WsServer<typeof Connection>;
  readonly #adapter: Adapter;
  readonly #node: LocalNode;
  readonly #ready: Promise<void>;
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
    this.#guard = new Guard(this.#options, this.#logger);
    this.#router = new Router(this.#options.baseUri);
    this.#wss = new WebSocketServer<typeof Connection>({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#options.maxPayload,
      perMessageDeflate: this.#options.perMessageDeflate,
      WebSocket: Connection,
    });
    this.#adapter = this.#options.adapter ?? createMemoryAdapter();
    this.#node = new LocalNode(this, this.#adapter, randomUUID(), this.#logger);
    this.#addEndpoints();
    this.#ready = this.#adapter.start(this.#node);
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
    return new BroadcastOperator(this.#node, [room]);
  }

  /** The open socket with this id on this node; undefined once `close()` was called on it or its peer closed. */
  getSocket(id: SocketId): Socket | undefined {
    const socket = this.#node.get(id);
    return socket === undefined || socket.closed ? undefined : socket;
  }

  /** How many sockets are open on this node. */
  get size(): number {
    return this.#node.size;
  }

  /** How many rooms have at least one member on this node (a room with none is forgotten). */
  get roomCount(): number {
    return this.#node.rooms.size;
  }

  /** Sends to one socket by id, on whichever node holds it. */
  sendTo(id: SocketId, data: Message): void {
    this.#node.dispatch({ type: "sendTo", id, data });
  }

  /** Closes every socket (on every node) whose `session.id` is `sessionId`, with 4401. */
  closeSession(sessionId: string, reason = "session ended"): void {
    this.#node.dispatch({ type: "close", by: "session", value: sessionId, code: CloseCode.sessionEnded, reason });
  }

  /** Closes every socket (on every node) of a user, by `user.id` (or the user itself if a string). */
  closeUser(userId: string | number, reason = "logged out"): void {
    this.#node.dispatch({ type: "close", by: "user", value: String(userId), code: CloseCode.sessionEnded, reason });
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
    const open = [...this.#node.sockets()];
    const closed = open.map((socket) => new Promise<void>((resolve) => outboxOf(socket).onceClosed(resolve)));
    for (const socket of open) socket.close(CloseCode.goingAway, "server shutting down");
    this.#guard.stop();
    const grace = setTimeout(() => {
      for (const socket of this.#node.sockets()) terminate(socket, "server shutting down");
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

  /** Builds each namespace's upgrade pipeline and queue policy, once. */
  #addEndpoints(): void {
    const handlers = this.#options.handlers;
    if (handlers.length === 0) {
      throw new ConfigError(ConfigErrors.noHandlers, "createServer: no handler classes (decorate one with @Namespace or pass `handlers`)");
    }
    const onHookError = hookFailure(this.#logger);
    const context = { middleware: this.#options.middleware, handshakeTimeout: this.#options.handshakeTimeout, logger: this.#logger };
    for (const cls of handlers) {
      const path = namespaceOf(cls);
      if (path === undefined) {
        throw new ConfigError(ConfigErrors.notANamespace, `createServer: handler ${cls.name || "(anonymous)"} has no @Namespace(path)`);
      }
      const chain = composeChain(cls);
      const fromMixins = mixinSteps(chain.mixins, context);
      const steps: UpgradeStep[] = [
        this.#gate,
        ({ req }) => checkUpgradeRequest(req),
        ({ req, raw }) => this.#guard.admit(req, raw),
        this.#originStep(fromMixins.some((s) => s.trustsCookies)),
        ...fromMixins.map((s) => s.step),
      ];
      const queue: QueuePolicy = { chain, maxPending: this.#options.maxPendingMessages, onHookError, onFinished: this.#onFinished };
      const endpoint: Endpoint = { pipeline: new UpgradePipeline(steps, (u) => this.#handshake(u, endpoint), this.#logger), queue };
      this.#router.add(path, endpoint);
    }
  }

  /** The first step of every namespace: no upgrade while shutting down or without a working adapter. */
  #gate = (): ReturnType<UpgradeStep> => {
    if (this.#closing !== undefined) return { kind: Refusal.shuttingDown, message: "server shutting down" };
    if (this.#adapterState === "ready") return undefined;
    const why = this.#adapterState === "failed" ? "the cluster adapter failed to start" : "the cluster adapter is starting";
    return { kind: Refusal.adapterDown, message: why, headers: { "Retry-After": "5" } };
  };

  #originStep(sameSiteOnly: boolean): UpgradeStep {
    const allowed = this.#options.allowedOrigins;
    return ({ req, path }) => {
      if (originAllowed(req, allowed, sameSiteOnly)) return undefined;
      this.#logger.warn(
        { origin: req.headers.origin, host: req.headers.host, path },
        `refused a cross-site WebSocket from origin ${req.headers.origin}; add it to the allowedOrigins option to allow it`,
      );
      return { kind: Refusal.forbiddenOrigin, message: `origin ${req.headers.origin} is not allowed` };
    };
  }

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
      refuse({ req, raw }, { kind: Refusal.notFound, message: `no WebSocket namespace at ${stripQuery(req.url ?? "/")}` }, this.#logger);
      return;
    }
    match.target.pipeline.run({ req, raw, head, path: match.path, params: match.params });
  };

  #handshake(upgrade: Upgrade, endpoint: Endpoint): void {
    // An async step (middleware) may have outlasted the start of a shutdown.
    if (this.#closing !== undefined) {
      refuse(upgrade, { kind: Refusal.shuttingDown, message: "server shutting down" }, this.#logger);
      return;
    }
    const { req, raw, head, path, params } = upgrade;
    this.#wss.handleUpgrade(req, raw, head, (ws) => {
      raw.off("error", socketOnError); // ws handles the socket's errors from now on; one listener less per socket
      const r = req as IncomingMessage & { session?: Socket["session"]; user?: unknown };
      const socket = new Socket({
        ws,
        raw,
        home: this.#node,
        path,
        params,
        request: requestInfo(req, path),
        outbound: this.#guard.outbound,
        session: r.session,
        user: r.user,
      });
      this.#node.add(socket);
      this.#unfinished++;
      const queue = new EventQueue(socket, ws, endpoint.queue);
      ws.attach(socket, queue, this.#connections, this.#guard.watch(socket, ws, raw));
      queue.connect(socket.path);
    });
  }

  /** What every connection's shared listeners call (see {@link Connection}). */
  readonly #connections: ConnectionOwner = {
    // ws closes the socket itself after a protocol error (1002, 1007, 1008, 1009): log it once.
    onError: (socket, error: Error & { code?: string }) => {
      noteCloseReason(socket, error.message);
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
    onClose: (socket, connection) => {
      this.#guard.forget(connection);
      this.#node.remove(socket);
    },
    onPong: (connection) => this.#guard.pong(connection),
  };

  /** A socket's `onClose` has finished. */
  #onFinished = (): void => {
    if (--this.#unfinished === 0) this.#allFinished?.();
  };
}

function socketOnError(this: Duplex): void {
  this.destroy();
}
