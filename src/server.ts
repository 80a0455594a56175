import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer, type Server as WsServer } from "ws";
import type { Adapter, ClusterNode, ClusterOp } from "./adapters/adapter.js";
import { createMemoryAdapter } from "./adapters/memory.js";
import { BroadcastOperator, deliverLocal } from "./broadcast.js";
import { type ResolvedOptions, resolveOptions, type ServerOptions } from "./config.js";
import { Connection, type ConnectionOwner } from "./connection.js";
import { CloseCode, ConfigError } from "./errors.js";
import { EventQueue } from "./event-queue.js";
import { type Chain, composeChain, type HandlerClass } from "./handler.js";
import { HttpMiddlewareMixin, runMiddleware } from "./http-middleware.js";
import type { Logger } from "./logger.js";
import { MixinFail } from "./mixin.js";
import { decoratedHandlers, namespaceOf, Router } from "./namespace.js";
import { Rooms } from "./rooms.js";
import { Socket } from "./socket.js";
import type { Message, Room, SocketId } from "./types.js";
import { originAllowed, refuseUpgrade } from "./upgrade.js";

/** A handler class ready to serve: its composed chains and what its upgrade needs. */
interface Endpoint {
  readonly cls: HandlerClass;
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
  #http: HttpServer | undefined;
  #standalone = false;
  #closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.#options = resolveOptions(options);
    this.#logger = this.#options.logger;
    this.#router = new Router(this.#options.baseUri);
    const handlers = options.handlers ?? decoratedHandlers();
    if (handlers.length === 0)
      throw new ConfigError("TSWS_NO_HANDLERS", "createServer: no handler classes (decorate one with @Namespace or pass `handlers`)");
    for (const cls of handlers) {
      const path = namespaceOf(cls);
      if (path === undefined)
        throw new ConfigError("TSWS_NOT_A_NAMESPACE", `createServer: handler ${cls.name || "(anonymous)"} has no @Namespace(path)`);
      const chain = composeChain(cls);
      const usesMiddleware = chain.mixins.some((m) => m === HttpMiddlewareMixin || m.prototype instanceof HttpMiddlewareMixin);
      this.#router.add(path, { cls, chain, usesMiddleware });
    }
    this.#wss = new WebSocketServer<typeof Connection>({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#options.maxPayload,
      perMessageDeflate: false,
      WebSocket: Connection,
    });
    this.#adapter = this.#options.adapter ?? createMemoryAdapter();
    this.rooms = new Rooms(this.#adapter);
    this.#ready = this.#adapter.start(this.#clusterNode());
    this.#ready.catch((error: unknown) => this.#logger.error({ err: error }, "the adapter failed to start"));
    if (this.#options.server) this.#attach(this.#options.server);
  }

  /**
   * Starts listening in standalone mode on `host`/`port` and resolves to the bound address. In
   * attach mode (`server` option) it only waits for the adapter and returns that server's address.
   */
  async listen(): Promise<{ host: string; port: number }> {
    await this.#ready;
    if (this.#http === undefined) {
      this.#standalone = true;
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
        res.end("This is a WebSocket server: connect with a WebSocket client.\n");
      });
      this.#attach(http);
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(this.#options.port, this.#options.host, () => {
          http.off("error", reject);
          resolve();
        });
      });
    }
    const address = this.#http?.address() as AddressInfo | null;
    if (!address) throw new Error("listen(): the attached HTTP server is not listening yet");
    return { host: address.address, port: address.port };
  }

  /** Sends to every socket in a room, on every node. */
  to(room: Room): BroadcastOperator {
    return new BroadcastOperator(this.#broadcastTarget, [room]);
  }

  /** The open socket with this id on this node, or undefined. */
  getSocket(id: SocketId): Socket | undefined {
    return this.#sockets.get(id)?.socket;
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
    const grace = setTimeout(() => {
      for (const { ws } of this.#sockets.values()) ws.terminate();
    }, this.#options.closeTimeout);
    await Promise.all(closed);
    clearTimeout(grace);
    if (this.#http !== undefined) {
      this.#http.off("upgrade", this.#onUpgrade);
      if (this.#standalone) {
        const http = this.#http;
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      }
    }
    await this.#ready.catch(() => {});
    await this.#adapter.stop();
  }

  #attach(http: HttpServer): void {
    this.#http = http;
    http.on("upgrade", this.#onUpgrade);
  }

  #onUpgrade = (req: IncomingMessage, raw: Duplex, head: Buffer): void => {
    raw.on("error", socketOnError);
    const match = this.#router.match(req.url ?? "/");
    if (match === undefined) {
      // Attached to an app with upgrade listeners of its own: this path is theirs.
      if (!this.#standalone && (this.#http?.listenerCount("upgrade") ?? 0) > 1) return;
      this.#refuse(raw, req, 404, `no WebSocket namespace at ${pathOf(req)}`);
      return;
    }
    if (this.#closing !== undefined) {
      this.#refuse(raw, req, 503, "server shutting down");
      return;
    }
    const endpoint = match.target;
    if (!originAllowed(req, this.#options.allowedOrigins, endpoint.usesMiddleware)) {
      this.#logger.warn(
        { origin: req.headers.origin, host: req.headers.host, path: match.path },
        `refused a cross-site WebSocket from origin ${req.headers.origin}; add it to the allowedOrigins option to allow it`,
      );
      this.#refuse(raw, req, 403, `origin ${req.headers.origin} is not allowed`);
      return;
    }
    if (!endpoint.usesMiddleware || this.#options.middleware.length === 0) {
      this.#handshake(req, raw, head, endpoint, match.path, match.params);
      return;
    }
    runMiddleware(this.#options.middleware, req, raw, this.#options.handshakeTimeout).then((outcome) => {
      if (outcome.kind === "passed") {
        if (this.#closing !== undefined) this.#refuse(raw, req, 503, "server shutting down");
        else this.#handshake(req, raw, head, endpoint, match.path, match.params);
      } else if (outcome.kind === "timeout") {
        this.#refuse(raw, req, 503, "handshake timed out");
      } else if (outcome.kind === "failed") {
        this.#logger.warn({ err: outcome.error, path: match.path }, "HTTP middleware refused an upgrade");
        this.#refuse(raw, req, outcome.status, outcome.status >= 500 ? "middleware failed" : errorMessage(outcome.error));
      } else {
        this.#logger.info({ status: outcome.status, path: match.path }, "HTTP middleware answered an upgrade");
        raw.end();
        setTimeout(() => raw.destroy(), 1000).unref();
      }
    });
  };

  #refuse(raw: Duplex, req: IncomingMessage, status: number, message: string): void {
    this.#logger.info({ status, url: req.url, remoteAddress: req.socket.remoteAddress }, `upgrade refused: ${message}`);
    refuseUpgrade(raw, status, message);
  }

  #handshake(req: IncomingMessage, raw: Duplex, head: Buffer, endpoint: Endpoint, path: string, params: Record<string, string>): void {
    if (raw.destroyed) return;
    this.#wss.handleUpgrade(req, raw, head, (ws) => {
      raw.off("error", socketOnError); // ws handles the socket's errors from now on; one listener less per socket
      const request = { url: req.url ?? "/", headers: req.headers, remoteAddress: req.socket.remoteAddress ?? "" };
      const socket = new Socket({
        ws,
        raw,
        server: this,
        path,
        params,
        request,
      });
      const r = req as IncomingMessage & { session?: Socket["session"]; user?: unknown };
      socket.session = r.session;
      socket.user = r.user;
      this.#open(socket, ws, endpoint);
    });
  }

  #open(socket: Socket, ws: Connection, endpoint: Endpoint): void {
    this.#sockets.set(socket.id, { socket, ws });
    const queue = new EventQueue(socket, ws, endpoint.chain, this.#options.maxPendingMessages, this.#hookFailed, noop);
    ws.attach(socket, queue, this.#connections);
    queue.connect(socket.path);
  }

  /** What every connection's shared listeners call (see {@link Connection}). */
  readonly #connections: ConnectionOwner = {
    error: (socket, error) => this.#logger.info({ err: error, socket: socket.id }, `socket error: ${error.message}`),
    closed: (socket, queue) => {
      this.#sockets.delete(socket.id);
      this.rooms.leaveAll(socket);
      queue.end();
    },
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

  #closeWhere(op: Extract<ClusterOp, { type: "close" }>): void {
    this.#closeLocal(op);
    this.#adapter.publish(op);
  }

  #closeLocal(op: Extract<ClusterOp, { type: "close" }>): void {
    for (const { socket } of this.#sockets.values()) {
      const key = op.by === "session" ? socket.session?.id : userKey(socket.user);
      if (key === op.value) socket.close(op.code, op.reason);
    }
  }

  #broadcastTarget = {
    rooms: undefined as unknown as Rooms, // set below: `rooms` is assigned in the constructor
    publish: (op: ClusterOp) => this.#adapter.publish(op),
    members: (room: Room) => this.#adapter.members(room),
  };

  #clusterNode(): ClusterNode {
    this.#broadcastTarget.rooms = this.rooms;
    return {
      nodeId: this.#nodeId,
      receive: (op) => {
        if (op.type === "broadcast") deliverLocal(this.rooms, op.rooms, op.except, op.data);
        else if (op.type === "sendTo") this.#sockets.get(op.id)?.socket.send(op.data);
        else this.#closeLocal(op);
      },
      localMembers: (room) => this.rooms.localIds(room),
      hasSocket: (id) => this.#sockets.has(id),
    };
  }
}

/** The key `closeUser` matches: a string or number user, or the user's `id`. */
function userKey(user: unknown): string | undefined {
  if (typeof user === "string" || typeof user === "number") return String(user);
  const id = (user as { id?: unknown } | null | undefined)?.id;
  return id === undefined || id === null ? undefined : String(id);
}

/** Close reasons are limited to 123 bytes and codes to valid ones; never let that throw here. */
function closeSafely(socket: Socket, code: number, reason: string): void {
  const valid = (code >= 3000 && code <= 4999) || [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code);
  let text = reason;
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  socket.close(valid ? code : CloseCode.policyViolation, text);
}

function socketOnError(this: Duplex): void {
  this.destroy();
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
