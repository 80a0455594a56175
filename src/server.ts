import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type Server as WsServer } from "ws";
import type { Adapter, AdapterStats } from "./cluster/adapter.js";
import { BroadcastOperator } from "./cluster/broadcast.js";
import { LocalNode } from "./cluster/local-node.js";
import { createMemoryAdapter } from "./cluster/memory-adapter.js";
import { CloseCode, ConfigError, ConfigErrors, ForcedClose, messageOf, Refusal } from "./errors.js";
import { composeChain } from "./hooks/chain.js";
import { type SocketProtocol, socketProtocolOf } from "./hooks/socket-protocol.js";
import { Connection, type ConnectionOwner } from "./inbound/connection.js";
import { EventQueue, type QueuePolicy } from "./inbound/event-queue.js";
import { hookFailure } from "./inbound/hook-failure.js";
import { Guard } from "./limits/guard.js";
import type { Logger } from "./logger.js";
import { adapterChannel, connectChannel, publishForcedClose } from "./observe/channels.js";
import { namespaceOf } from "./routing/namespace.js";
import { Router, stripQuery } from "./routing/router.js";
import { type ResolvedOptions, resolveOptions, type ServerOptions } from "./server-options.js";
import type { OutboundLimit } from "./socket/outbox.js";
import type { ServerApi } from "./socket/server-api.js";
import { type Identity, noteCloseReason, outboxOf, Socket, type SocketInit, terminate } from "./socket/socket.js";
import type { Message, Room, SocketId } from "./types.js";
import { originAllowed } from "./upgrade/origin.js";
import { destroyOnError, refuse, type Upgrade, UpgradePipeline, type UpgradeStep } from "./upgrade/pipeline.js";
import { answerClientError, checkUpgradeRequest } from "./upgrade/request-checks.js";
import { requestInfo } from "./upgrade/request-info.js";
import { mixinSteps } from "./upgrade/step-source.js";

/** A namespace ready to serve: its upgrade pipeline and what its sockets' queues share. */
interface Endpoint {
  /** The `@Namespace` pattern. */
  readonly namespace: string;
  readonly pipeline: UpgradePipeline;
  readonly queue: QueuePolicy;
  /** What the namespace speaks beyond raw messages (the message layer), if anything. */
  readonly protocol: SocketProtocol | undefined;
  /** The server's outbound limit with this namespace's `onOutbound` hooks (one object per namespace). */
  readonly outbound: OutboundLimit<Socket>;
}

/** Set by Server's static block: the one way to its private members from outside the class. */
let entrance: (server: Server) => Entrance;

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
  /**
   * The subprotocol the handshake under way may select: ws asks handleProtocols with only the
   * request, synchronously inside `handleUpgrade` (no `verifyClient`), so one field set around
   * that call is enough (no map entry per handshake).
   */
  #offering: string | undefined;
  #http: HttpServer | undefined;
  #standalone = false;
  #closing: Promise<void> | undefined;
  /** Sockets whose `onClose` has not finished yet; `close()` waits for them before stopping the adapter. */
  #unfinished = 0;
  #allFinished: (() => void) | undefined;
  /** Upgrades are accepted only once the adapter has started (attach mode listens before that). */
  #adapterState: "starting" | "ready" | "failed" = "starting";
  readonly #namespaces: string[] = [];

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
      handleProtocols: this.#selectProtocol,
    });
    this.#adapter = this.#options.adapter ?? createMemoryAdapter();
    this.#node = new LocalNode(this, this.#adapter, randomUUID(), this.#logger);
    this.#addEndpoints();
    this.#ready = this.#adapter.start(this.#node);
    this.#ready.then(
      () => {
        this.#adapterState = "ready";
        if (adapterChannel.hasSubscribers) adapterChannel.publish({ server: this, state: "ready" });
      },
      (error: unknown) => {
        this.#adapterState = "failed";
        if (adapterChannel.hasSubscribers) adapterChannel.publish({ server: this, state: "failed", error });
        this.#logger.error({ err: error }, "the adapter failed to start; upgrades are refused with 503");
      },
    );
    if (this.#options.server) this.#attach(this.#options.server);
  }

  /**
   * Starts listening in standalone mode on `host`/`port` and resolves to the bound address. A port
   * in use (or not allowed) rejects with one {@link ConfigError} (`TSWS_CANNOT_LISTEN`) that says
   * what to do, and nothing is logged besides. In attach mode (`server` option) it waits for
   * the adapter and for that server to be listening (`app.listen()` returns before the port is
   * bound), then returns its address; if that server is still not listening after
   * {@link ATTACH_LISTEN_TIMEOUT} ms (`await sockets.listen()` written before `http.listen()`), it
   * rejects with `TSWS_NOT_LISTENING` instead of waiting forever.
   */
  async listen(): Promise<{ host: string; port: number }> {
    await this.#ready;
    // Also when close() was called while the adapter started: a port bound now would never be released.
    if (this.#closing !== undefined) throw new TypeError("listen(): the server is closed");
    const http = this.#http;
    if (http === undefined) return this.#listenStandalone();
    if (!http.listening) await listening(http);
    const address = http.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  async #listenStandalone(): Promise<{ host: string; port: number }> {
    this.#standalone = true;
    // Slow or partial request headers are dropped after the handshake timeout (Node's default is minutes).
    const timeout = this.#options.handshakeTimeout;
    const timeouts = { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.min(timeout, 1000) };
    const http = createHttpServer(timeouts, (_req, res) => {
      res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
      res.end("This is a WebSocket server: connect with a WebSocket client.\n");
    });
    http.on("clientError", answerClientError(this.#logger));
    this.#attach(http);
    const { host, port } = this.#options;
    try {
      http.listen(port, host);
      await once(http, "listening");
    } catch (error) {
      // Port taken, say: forget this HTTP server so that a later listen() can try again. The
      // rejection is the one report (no log line besides it: the caller decides).
      this.#detach();
      throw cannotListen(error, host, port);
    }
    // After listen() resolves, an accept failure (EMFILE…) must be logged, not thrown.
    http.on("error", (error) => this.#logger.error({ err: error }, `the HTTP server failed: ${error.message}`));
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

  /** This server's node id: a random UUID per instance, by which the adapter knows this node. */
  get nodeId(): string {
    return this.#node.nodeId;
  }

  /** Every open socket on this node (a live iterator: do not keep it across event-loop turns). */
  sockets(): IterableIterator<Socket> {
    return this.#node.sockets();
  }

  /**
   * This node's open sockets of one user, by the key {@link closeUser} matches (`user.id`, or the
   * user itself when it is a string or number); an empty array when there are none.
   * @example
   * server.socketsOfUser(42).map((s) => s.id);
   */
  socketsOfUser(userId: string | number): Socket[] {
    return [...(this.#node.socketsOfUser(String(userId)) ?? [])];
  }

  /**
   * How many sockets are open on this node per `@Namespace` pattern (every registered pattern,
   * zero included), counted when called.
   * @example
   * server.connectionsByNamespace(); // Map { "/chat/:room" => 120, "/echo" => 0 }
   */
  connectionsByNamespace(): Map<string, number> {
    const counts = new Map<string, number>(this.#namespaces.map((n) => [n, 0]));
    for (const socket of this.#node.sockets()) counts.set(socket.namespace, (counts.get(socket.namespace) ?? 0) + 1);
    return counts;
  }

  /**
   * The `limit` rooms with the most members on this node, largest first (ties in no set order).
   * @example
   * server.largestRooms(3); // [{ room: "lobby", size: 120 }, { room: "ops", size: 4 }]
   */
  largestRooms(limit = 10): { room: Room; size: number }[] {
    const top: { room: Room; size: number }[] = [];
    for (const [room, size] of this.#node.rooms.sizes()) {
      if (top.length === limit && (top[limit - 1] as { size: number }).size >= size) continue;
      let i = Math.min(top.length, limit - 1);
      while (i > 0 && (top[i - 1] as { size: number }).size < size) i--;
      top.splice(i, 0, { room, size });
      if (top.length > limit) top.pop();
    }
    return top;
  }

  /** The adapter's counters and state, when it keeps any (the Redis adapter does; the in-memory one does not). */
  get adapterStats(): AdapterStats | undefined {
    return this.#adapter.stats;
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
    await this.#node.shutdown();
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
    const deflate = this.#options.perMessageDeflate ? { maxPayload: this.#options.maxPayload } : undefined;
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
        ({ req }) => checkUpgradeRequest(req, deflate),
        ({ req, raw }) => this.#guard.admit(req, raw),
        this.#originStep(fromMixins.some((s) => s.trustsCookies)),
        ...fromMixins.map((s) => s.step),
      ];
      const queue: QueuePolicy = { chain, maxPending: this.#options.maxPendingMessages, onHookError, onFinished: this.#onFinished };
      const protocol = socketProtocolOf(cls, {
        logger: this.#logger,
        server: this,
        resume: this.#options.resume,
        closeTimeout: this.#options.closeTimeout,
      });
      const prepare = protocol?.prepare;
      if (prepare !== undefined) steps.push(({ req }) => prepare(req));
      const pipeline = new UpgradePipeline(steps, (u) => this.#handshake(u, endpoint), this.#logger, { server: this, namespace: path });
      const guarded = this.#guard.outbound;
      const shaped = chain.outbound === undefined ? guarded : { ...guarded, transform: chain.outbound };
      // A protocol that must hear of drops (resumable sessions: a stream message dropped) is told after the guard.
      const dropped = protocol?.dropped;
      const outbound: OutboundLimit<Socket> =
        dropped === undefined
          ? shaped
          : {
              ...shaped,
              onDrop: (socket, total, data) => {
                guarded.onDrop(socket, total, data);
                dropped(socket, data);
              },
            };
      const endpoint: Endpoint = { namespace: path, pipeline, queue, protocol, outbound };
      this.#router.add(path, endpoint);
      this.#namespaces.push(path);
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
    this.#upgrade(req, raw, head, this.#standalone ? undefined : this.#http);
  };

  /** @param shared the application's HTTP server in attach mode, whose other upgrade listeners get unknown paths */
  #upgrade(req: IncomingMessage, raw: Duplex, head: Buffer, shared: HttpServer | undefined): void {
    const match = this.#router.match(req.url ?? "/");
    // Attached to an app with upgrade listeners of its own: an unknown path (and its socket) is theirs.
    if (match === undefined && shared !== undefined && shared.listenerCount("upgrade") > 1) return;
    // No error listener here: the pipeline adds one when the upgrade leaves the synchronous path
    // or is refused (see watchErrors); one that runs through in this turn is ws' from handleUpgrade on.
    if (match === undefined) {
      refuse({ req, raw }, { kind: Refusal.notFound, message: `no WebSocket namespace at ${stripQuery(req.url ?? "/")}` }, this.#logger, {
        server: this,
      });
      return;
    }
    match.target.pipeline.run({ req, raw, head, path: match.path, params: match.params });
  }

  #handshake(upgrade: Upgrade, endpoint: Endpoint): void {
    // An async step (middleware) may have outlasted the start of a shutdown.
    if (this.#closing !== undefined) {
      refuse(upgrade, { kind: Refusal.shuttingDown, message: "server shutting down" }, this.#logger, {
        server: this,
        namespace: endpoint.namespace,
      });
      return;
    }
    const raw = upgrade.raw;
    this.#offering = endpoint.protocol?.subprotocol;
    // The 101 answer and what the socket's first turn sends (a welcome frame, onConnect's frames)
    // leave in one write: ws writes the answer and calls back synchronously; the socket's outbox
    // corks again and uncorks on the next tick.
    raw.cork();
    try {
      this.#accept(upgrade, endpoint);
    } finally {
      this.#offering = undefined;
      raw.uncork();
    }
  }

  /** ws' handshake and the socket of an accepted upgrade (called with the TCP socket corked). */
  #accept(upgrade: Upgrade, endpoint: Endpoint): void {
    const { req, raw, head, path, params } = upgrade;
    const protocol = endpoint.protocol;
    this.#wss.handleUpgrade(req, raw, head, (ws) => {
      raw.off("error", destroyOnError); // if an async step added it: ws handles the socket's errors from now on
      // With a session, the request is kept anyway (express-session's Session holds it): reading
      // it live keeps socket.session current after reload()/regenerate(). Without one, keep only the user.
      const r = req as IncomingMessage & Identity;
      const init: SocketInit = {
        ws,
        raw,
        home: this.#node,
        path,
        namespace: endpoint.namespace,
        params,
        request: requestInfo(req, path),
        outbound: endpoint.outbound,
        identity: r.session !== undefined ? r : r.user !== undefined ? { user: r.user } : undefined,
      };
      const socket = protocol === undefined ? new Socket(init) : protocol.createSocket(init, req);
      this.#node.add(socket);
      this.#unfinished++;
      const queue = new EventQueue(socket, ws, endpoint.queue);
      ws.attach(socket, queue, this.#connections, this.#guard.watch(socket, ws, raw), protocol?.claim, protocol?.closed);
      // Observers (metrics, spans) hear of the connect; a store bound to the channel is active in onConnect.
      if (connectChannel.hasSubscribers)
        connectChannel.runStores({ server: this, socket, headers: req.headers }, () => queue.connect(path));
      else queue.connect(path);
    });
  }

  /**
   * ws's handleProtocols: a namespace with a protocol selects its subprotocol when the client
   * offers it; otherwise the first offered protocol that is not one of ours (ws's own default,
   * minus ours, so a raw namespace never pretends to speak tsws.v1).
   */
  #selectProtocol = (offered: Set<string>): string | false => {
    const ours = this.#offering;
    if (ours !== undefined && offered.has(ours)) return ours;
    for (const name of offered) if (!name.startsWith("tsws")) return name;
    return false;
  };

  /** What every connection's shared listeners call (see {@link Connection}). */
  readonly #connections: ConnectionOwner = {
    // ws closes the socket itself after a protocol error (1002, 1007, 1008, 1009) or a ping flood
    // (Connection.terminate reports it here): log it once.
    onError: (socket, error: Error & { code?: string }) => {
      noteCloseReason(socket, error.message);
      const kind =
        error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
          ? ForcedClose.messageTooBig
          : error.code === "WS_ERR_INVALID_UTF8"
            ? ForcedClose.invalidPayload
            : error.code === ForcedClose.pingFlood.code
              ? ForcedClose.pingFlood
              : ForcedClose.protocolError;
      this.#logger.info(
        { err: error, code: kind.code, closeCode: kind.closeCode, socket: socket.id },
        `socket closed: ${kind.reason} (${error.message})`,
      );
      publishForcedClose(this, socket, kind);
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

  static {
    entrance = (server) => ({
      ready: server.#ready,
      upgrade: (req, raw, head) => server.#upgrade(req, raw, head, undefined),
      subprotocolAt: (url) => server.#router.match(url)?.target.protocol?.subprotocol,
    });
  }
}

/**
 * A way into a server that bypasses its HTTP server but nothing after it: what
 * `tswebsockets/testing` feeds in-memory connections to. Not a member of {@link Server}, so the
 * public class stays as documented.
 */
export interface Entrance {
  /** Settles once the adapter has started (upgrades before that are refused with 503). */
  readonly ready: Promise<void>;
  /** Handles an upgrade request parsed by any HTTP server: routing, the namespace's pipeline, ws' handshake. */
  upgrade(req: IncomingMessage, raw: Duplex, head: Buffer): void;
  /** The subprotocol the namespace at `url` speaks (`tsws.v1` for the message layer), or undefined for a raw one. */
  subprotocolAt(url: string): string | undefined;
}

/**
 * The {@link Entrance} of a server, for the optional entry points (the test client); applications
 * attach the server to their HTTP server instead.
 * @example
 * const http = createHttpServer();
 * http.on("upgrade", entranceOf(server).upgrade); // a private, never-listening HTTP server
 */
export function entranceOf(server: Server): Entrance {
  return entrance(server);
}

/**
 * How long `listen()` in attach mode waits for the application's HTTP server to be listening
 * before it rejects with `TSWS_NOT_LISTENING`, in milliseconds. Binding takes far less; a server
 * that is not listening by then was most likely never told to (`http.listen()` comes after the
 * awaited `sockets.listen()`).
 * @example
 * http.listen(8000); await sockets.listen(); // the order that works
 */
export const ATTACH_LISTEN_TIMEOUT = 3000;

/** Resolves once an attached HTTP server listens; rejects after ATTACH_LISTEN_TIMEOUT or on its error. */
function listening(http: HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      http.off("listening", onListening);
      http.off("error", done);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onListening = () => done();
    const timer = setTimeout(() => {
      const message =
        `listen(): the HTTP server passed as \`server\` is not listening after ${ATTACH_LISTEN_TIMEOUT} ms. ` +
        "In attach mode sockets.listen() only waits for it: call http.listen(port) (or app.listen()) first, " +
        "or do not await sockets.listen() before it";
      done(new ConfigError(ConfigErrors.notListening, message));
    }, ATTACH_LISTEN_TIMEOUT);
    http.once("listening", onListening);
    // The application's own error listeners (if any) still see the error; this one only settles.
    http.once("error", done);
  });
}

/**
 * One clear error for a failed bind, naming the address and what to do. Node's error becomes its
 * `cause` only when it is not one of the known ones: an uncaught rejection then prints one trace.
 */
function cannotListen(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: unknown }).code;
  const where = `${host}:${port}`;
  const message =
    code === "EADDRINUSE"
      ? `listen(): port ${port} is in use on ${host}: pick another \`port\` (0 picks a free one) or stop the other process`
      : code === "EACCES"
        ? `listen(): not allowed to listen on ${where} (ports below 1024 need privileges): pick another \`port\``
        : code === "EADDRNOTAVAIL" || code === "ENOTFOUND"
          ? `listen(): ${host} is not an address of this machine: pick another \`host\``
          : `listen(): could not listen on ${where}: ${messageOf(error)}`;
  const failure = new ConfigError(ConfigErrors.cannotListen, message);
  if (message.includes("could not listen")) Object.defineProperty(failure, "cause", { value: error, configurable: true, writable: true });
  return failure;
}
