import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "../server.js";
import type { Socket } from "../socket/socket.js";
import { pageHtml } from "./page-html.js";
import { Recorder } from "./recorder.js";

/**
 * Options of {@link adminPage}.
 * @example
 * const options: AdminOptions = { authorize: (req) => (req as { user?: { admin?: boolean } }).user?.admin === true };
 */
export interface AdminOptions {
  /**
   * Decides whether this request may see the page: the application's own check (a passport user,
   * a session flag). Anything but `true` answers 403. Required: there is no default password.
   */
  readonly authorize: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Allows the actions (close a user's sockets, send to a room); default false: read-only. */
  readonly actions?: boolean;
  /** How often the live view is refreshed, in ms (default 1000). */
  readonly intervalMs?: number;
  /** How many recent refusals and forced closes are kept (default 50). */
  readonly keep?: number;
}

/**
 * A Connect-style handler, with `stop()` to release what it subscribed to.
 * @example
 * const admin: AdminHandler = adminPage(server, { authorize }); app.use("/admin/ws", admin);
 */
export interface AdminHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  stop(): void;
}

const MAX_BODY = 16 * 1024;

/**
 * A live admin page for one server, to mount on the application's own HTTP server (same origin,
 * behind the application's own authorization): nodes, connections per namespace, largest rooms,
 * a socket or user looked up, the last refusals and forced closes with their codes, message
 * rates. Read-only unless `actions: true`; actions are POSTs that must come from the page's own
 * origin (the `Origin` header's host equals `Host`) with a JSON body, so another site cannot
 * trigger them. The page is one inline HTML document; figures arrive over Server-Sent Events.
 * Mounted with a prefix (`app.use("/admin/ws", …)`), it serves `/`, `/stream`, `/lookup` and
 * `/actions/*` under it; Express's `req.originalUrl` tells it where it is mounted.
 * @example
 * import { adminPage } from "tswebsockets/admin";
 * app.use("/admin/ws", adminPage(server, { authorize: (req) => req.user?.role === "admin" }));
 */
export function adminPage(server: Server, options: AdminOptions): AdminHandler {
  if (typeof options?.authorize !== "function") throw new TypeError("adminPage: options.authorize must be a function (req) => boolean");
  const recorder = new Recorder(server, options.keep ?? 50);
  const interval = options.intervalMs ?? 1000;
  const actions = options.actions === true;

  const snapshot = () => ({
    node: server.nodeId,
    time: Date.now(),
    connections: server.size,
    namespaces: [...server.connectionsByNamespace()].map(([namespace, count]) => ({ namespace, count })),
    rooms: server.roomCount,
    largestRooms: server.largestRooms(10),
    adapter: server.adapterStats ?? null,
    rates: recorder.rates(),
    refusals: recorder.refusals.slice(0, 20),
    forcedCloses: recorder.forcedCloses.slice(0, 20),
  });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if ((await options.authorize(req)) !== true)
      return send(res, 403, "text/plain", "Forbidden: the application's authorization refused this request.\n");
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (req.method === "GET" || req.method === "HEAD") {
      if (path === "/") return send(res, 200, "text/html; charset=utf-8", pageHtml(mountBase(req), actions, interval));
      if (path === "/stream") return stream(req, res);
      if (path === "/lookup") return sendJson(res, 200, lookup(server, url.searchParams));
      return send(res, 404, "text/plain", "Not found\n");
    }
    if (req.method === "POST" && path.startsWith("/actions/")) {
      if (!actions) return send(res, 403, "text/plain", "Forbidden: actions are disabled (adminPage option actions: true enables them).\n");
      if (!sameOrigin(req)) return send(res, 403, "text/plain", "Forbidden: an action must come from this page's own origin.\n");
      if (!String(req.headers["content-type"]).startsWith("application/json")) return send(res, 415, "text/plain", "Send a JSON body.\n");
      const body = await readJson(req);
      if (body === undefined) return send(res, 400, "text/plain", `Send a JSON object of at most ${MAX_BODY} bytes.\n`);
      return act(path, body, res);
    }
    res.setHeader("Allow", "GET, HEAD, POST");
    return send(res, 405, "text/plain", "Method not allowed\n");
  };

  const stream = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    recorder.watch();
    const tick = () => res.write(`data: ${JSON.stringify(snapshot())}\n\n`);
    tick();
    const timer = setInterval(tick, interval);
    req.on("close", () => {
      clearInterval(timer);
      recorder.unwatch();
    });
  };

  const act = (path: string, body: Record<string, unknown>, res: ServerResponse) => {
    if (path === "/actions/close-user" && (typeof body.user === "string" || typeof body.user === "number") && body.user !== "") {
      server.closeUser(body.user, "closed by an administrator");
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/actions/send" && typeof body.room === "string" && body.room !== "" && typeof body.message === "string") {
      server.to(body.room).send(body.message);
      return sendJson(res, 200, { ok: true });
    }
    return send(res, 400, "text/plain", 'Expected POST actions/close-user { "user" } or actions/send { "room", "message" }.\n');
  };

  const handler = ((req, res, next) => {
    route(req, res).catch((error: unknown) => {
      if (next !== undefined) next(error);
      else if (!res.headersSent) send(res, 500, "text/plain", "Internal error\n");
    });
  }) as AdminHandler;
  handler.stop = () => recorder.stop();
  return handler;
}

/** A socket or a user's sockets, as the lookup box shows them. */
function lookup(server: Server, query: URLSearchParams): { sockets: ReturnType<typeof describeSocket>[] } {
  const id = query.get("socket");
  const user = query.get("user");
  if (id) {
    const socket = server.getSocket(id);
    return { sockets: socket === undefined ? [] : [describeSocket(socket)] };
  }
  return { sockets: user ? server.socketsOfUser(user).map(describeSocket) : [] };
}

function describeSocket(socket: Socket) {
  const user = socket.user as { id?: unknown } | string | number | undefined;
  return {
    id: socket.id,
    namespace: socket.namespace,
    path: socket.path,
    rooms: [...socket.rooms],
    remoteAddress: socket.request.remoteAddress,
    user: typeof user === "object" && user !== null ? String(user.id ?? "") : user === undefined ? null : String(user),
    droppedMessages: socket.droppedMessages,
  };
}

/** Where the page is mounted: Express strips the prefix from `req.url` and keeps it in `originalUrl`. */
function mountBase(req: IncomingMessage): string {
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const full = original.split("?")[0] as string;
  const rest = (req.url ?? "/").split("?")[0] as string;
  const base = full.endsWith(rest) ? full.slice(0, full.length - rest.length) : full;
  return base.replace(/\/+$/, "");
}

/** Same origin: a browser always sends Origin on a POST; its host must be the one the page came from. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || req.headers.host === undefined) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > MAX_BODY) return resolve(undefined);
      try {
        const value: unknown = JSON.parse(Buffer.concat(chunks).toString());
        resolve(typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined);
      } catch {
        resolve(undefined);
      }
    });
    req.on("error", () => resolve(undefined));
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json", JSON.stringify(value));
}
