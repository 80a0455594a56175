// Shared by the session tests: a test logger, a real express-session + passport-local setup, and
// a WebSocket client that reports either the open socket or the HTTP refusal it got.
import type { IncomingMessage } from "node:http";
import session from "express-session";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { WebSocket } from "ws";
import type { Logger, Middleware } from "../../src/index.js";

/** One logged line. */
export interface LogLine {
  level: "error" | "warn" | "info" | "debug";
  msg: string;
  obj: object;
}

/** A logger that keeps every line, so tests can assert on what operators would read. */
export function testLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine["level"]) =>
    (obj: object, msg = "") =>
      void lines.push({ level, msg, obj });
  return { lines, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

export interface TestUser {
  id: string;
  name: string;
}

const users: Record<string, TestUser & { password: string }> = {
  alice: { id: "u1", name: "Alice", password: "wonderland" },
  bob: { id: "u2", name: "Bob", password: "builder" },
};

/** What {@link authSetup} builds. */
export interface AuthSetup {
  auth: passport.Authenticator;
  store: session.MemoryStore;
  sessionMiddleware: Middleware;
  /** express-session, then passport's session strategy: what sets `req.user`. */
  middleware: Middleware[];
}

/** A passport instance with a local strategy over two users, and the session middleware for it. */
export function authSetup(): AuthSetup {
  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, password, done) => {
      const user = users[username];
      done(null, user !== undefined && user.password === password ? { id: user.id, name: user.name } : false);
    }),
  );
  auth.serializeUser((user, done) => done(null, (user as TestUser).id));
  auth.deserializeUser((id: string, done) => {
    const user = Object.values(users).find((u) => u.id === id);
    done(null, user === undefined ? false : { id: user.id, name: user.name });
  });
  const store = new session.MemoryStore();
  const sessionMiddleware = session({ secret: "test secret", resave: false, saveUninitialized: false, store }) as unknown as Middleware;
  const middleware: Middleware[] = [sessionMiddleware, auth.session() as unknown as Middleware];
  return { auth, store, sessionMiddleware, middleware };
}

/** What a WebSocket connection attempt ended with. */
export type Attempt = { ws: WebSocket } | { status: number; body: string };

/** Connects, resolving with the open socket or with the refusal's status and body. */
export function attempt(url: string, headers: Record<string, string> = {}): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    // A frame may arrive in the same chunk as the 101: collect messages from the very start.
    const inbox: Inbox = { messages: [], waiters: [] };
    inboxes.set(ws, inbox);
    ws.on("message", (data: Buffer) => {
      const waiter = inbox.waiters.shift();
      if (waiter) waiter(data.toString());
      else inbox.messages.push(data.toString());
    });
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
}

/** Connects and expects success. */
export async function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const result = await attempt(url, headers);
  if (!("ws" in result)) throw new Error(`expected an open socket, got HTTP ${result.status}: ${result.body}`);
  return result.ws;
}

interface Inbox {
  messages: string[];
  waiters: ((message: string) => void)[];
}
const inboxes = new WeakMap<WebSocket, Inbox>();

/** The next text message of a socket opened by {@link attempt} or {@link open}, in order. */
export function nextMessage(ws: WebSocket): Promise<string> {
  const inbox = inboxes.get(ws);
  if (inbox === undefined) throw new Error("nextMessage: open the socket with attempt() or open()");
  const queued = inbox.messages.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => inbox.waiters.push(resolve));
}

/** Resolves with the close code and reason. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** The `name=value` pairs of a response's Set-Cookie headers, ready for a Cookie header. */
export function cookieOf(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}
