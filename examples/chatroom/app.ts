// The chat room demo as an importable app: an Express application (login, rooms, chat pages) and
// tswebsockets attached to the same HTTP server, sharing express-session and passport.
import { existsSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import express, { type NextFunction, type Request, type Response } from "express";
import session from "express-session";
import { type Adapter, consoleLogger, createServer, type Logger, type Middleware, type Server } from "../../src/index.js";
import { ChatRoom, type ChatUser, peopleIn } from "./chat-handler.js";
import { Echo } from "./echo-handler.js";
import { chatPage, loginPage, roomsPage } from "./pages.js";
import { createAuth, ROOMS } from "./users.js";

/** What {@link startChat} accepts; everything has an embedded default. */
export interface ChatOptions {
  /** Port for the web app and the WebSockets; 0 picks a free one. Default 8000. */
  port?: number;
  /** Address to bind. Default "localhost". */
  host?: string;
  /** An express-session store shared by every node (e.g. connect-redis). Default: in memory. */
  sessionStore?: session.Store;
  /** A tswebsockets adapter shared by every node (e.g. the Redis adapter). Default: in memory. */
  adapter?: Adapter;
  /** Signs the session cookie; every node must use the same. Default: `SESSION_SECRET` or a demo value. */
  sessionSecret?: string;
  logger?: Logger;
}

/** A running chat app. */
export interface Chat {
  /** e.g. "http://localhost:8000" */
  readonly url: string;
  readonly port: number;
  readonly http: HttpServer;
  readonly sockets: Server;
  /** Closes the WebSockets (1001, so pages reconnect), then the web server. */
  close(): Promise<void>;
}

const publicDir = fileURLToPath(new URL("./public/", import.meta.url));
/** The chat page's script: client/chat-page.ts bundled by `npm run build:demo` (`npm start` runs it first). */
const pageBundle = new URL("./public/chat-page.js", import.meta.url);

/**
 * Starts the chat room demo and resolves once it listens.
 * @example
 * const chat = await startChat({ port: 0, host: "127.0.0.1" });
 * console.log(chat.url); await chat.close();
 */
export async function startChat(options: ChatOptions = {}): Promise<Chat> {
  if (!existsSync(pageBundle)) {
    (options.logger ?? consoleLogger).warn(
      { missing: fileURLToPath(pageBundle) },
      "the chat page's script is not built: run `npm run build:demo` (`npm start` does it for you)",
    );
  }
  const auth = createAuth();
  const sessionMiddleware = session({
    name: "chat.sid",
    secret: options.sessionSecret ?? process.env.SESSION_SECRET ?? "tswebsockets demo secret",
    store: options.sessionStore,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax", maxAge: 7 * 24 * 3600 * 1000 },
  });
  // The same two middleware run for every page and on every WebSocket upgrade.
  const middleware = [sessionMiddleware, auth.session()] as unknown as Middleware[];

  const app = express();
  const http = createHttpServer(app);
  const sockets = createServer({ server: http, handlers: [ChatRoom, Echo], middleware, adapter: options.adapter, logger: options.logger });

  app.disable("x-powered-by");
  app.use("/static", express.static(publicDir, { maxAge: "1h" }));
  app.use(express.urlencoded({ extended: false, limit: "4kb" }));
  app.use(middleware as unknown as express.RequestHandler[]);

  const userOf = (req: Request) => req.user as ChatUser | undefined;
  const loggedIn = (req: Request, res: Response, next: NextFunction) => (userOf(req) ? next() : res.redirect("/login"));

  app.get("/", (req, res) => res.redirect(userOf(req) ? "/rooms" : "/login"));
  app.get("/login", (req, res) => {
    const notice = req.query.notice;
    res.type("html").send(loginPage(notice === "failed" || notice === "bye" || notice === "expired" ? notice : undefined));
  });
  app.post("/login", auth.authenticate("local", { successRedirect: "/rooms", failureRedirect: "/login?notice=failed" }));
  app.post("/logout", (req, res, next) => {
    const user = userOf(req);
    req.logout((err) => {
      if (err) return next(err);
      // Every open chat tab of this user, on every node, closes with 4401 and says so.
      if (user !== undefined) sockets.closeUser(user.id, "logged out");
      res.redirect("/login?notice=bye");
    });
  });
  app.get("/rooms", loggedIn, async (req, res) => {
    // People, not tabs: a user counts once however many of their tabs are in the room, on any node.
    const counts = await Promise.all(ROOMS.map(async (room) => [room, (await peopleIn(sockets, room)).length] as const));
    res.type("html").send(roomsPage(userOf(req) as ChatUser, Object.fromEntries(counts)));
  });
  app.get("/rooms/:room", loggedIn, (req, res) => {
    const room = String(req.params.room);
    if (!ROOMS.includes(room)) return res.status(404).type("text").send("No such room.");
    res.type("html").send(chatPage(userOf(req) as ChatUser, room));
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 8000, options.host ?? "localhost", () => {
      http.off("error", reject);
      resolve();
    });
  });
  await sockets.listen(); // attach mode: waits for the adapter
  const { port } = http.address() as AddressInfo;
  const host = options.host ?? "localhost";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    http,
    sockets,
    close() {
      closing ??= (async () => {
        await sockets.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
