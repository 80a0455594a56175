import { type IncomingMessage, ServerResponse } from "node:http";
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import { BaseMixin } from "./mixin.js";

/**
 * A Connect/Express middleware: `(req, res, next)`. An async one may also reject instead of
 * calling `next(err)`.
 * @example
 * const requireUser: Middleware = (req, res, next) => ((req as { user?: unknown }).user ? next() : next(Object.assign(new Error("log in"), { status: 401 })));
 */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Runs the server's `middleware` list (express-session, passport, …) on the upgrade request of
 * handlers that include this mixin, before the handshake. Afterwards `socket.session` is
 * `req.session`, `socket.user` is `req.user`. A middleware that answers (e.g. 401) or calls
 * `next(err)` refuses the upgrade with that status. Because such handlers trust cookies, a
 * cross-site `Origin` is refused with 403 unless `allowedOrigins` lists it.
 * @example
 * \@Namespace("/chat/:room")
 * class Chat extends mixins(HttpMiddlewareMixin) {
 *   static onConnect(socket: Socket) { socket.send(`hello ${(socket.user as User).name}`) }
 * }
 * createServer({ handlers: [Chat], middleware: [sessionParser, passport.session()] });
 */
export class HttpMiddlewareMixin extends BaseMixin {}

/** How a middleware run ended: passed through, answered by a middleware, or failed. */
export type MiddlewareOutcome =
  | { readonly kind: "passed" }
  | { readonly kind: "answered"; readonly status: number }
  | { readonly kind: "failed"; readonly status: number; readonly error: unknown }
  | { readonly kind: "timeout" };

/**
 * Runs Connect middleware on an upgrade request. The response object writes to the raw socket,
 * so a middleware that answers sends its real status and body to the client.
 */
export function runMiddleware(
  list: readonly Middleware[],
  req: IncomingMessage,
  socket: Duplex,
  timeoutMs: number,
): Promise<MiddlewareOutcome> {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as NetSocket);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: MiddlewareOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off("finish", answered);
      if (outcome.kind === "passed") res.detachSocket(socket as NetSocket);
      resolve(outcome);
    };
    const answered = () => settle({ kind: "answered", status: res.statusCode });
    const timer = setTimeout(() => settle({ kind: "timeout" }), timeoutMs);
    res.once("finish", answered);
    let index = 0;
    const next = (err?: unknown): void => {
      if (settled) return;
      if (err !== undefined && err !== null) {
        settle({ kind: "failed", status: statusOf(err), error: err });
        return;
      }
      const middleware = list[index++];
      if (middleware === undefined) {
        settle({ kind: "passed" });
        return;
      }
      try {
        // An async middleware (legal under this type, common with Express 5) reports by rejecting.
        const result: unknown = middleware(req, res, next);
        if (result instanceof Promise) result.then(undefined, (error: unknown) => next(error ?? new Error("middleware rejected")));
      } catch (error) {
        next(error ?? new Error("middleware threw"));
      }
    };
    next();
  });
}

function statusOf(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e?.status === "number" ? e.status : e?.statusCode;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}
