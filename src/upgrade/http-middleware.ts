import { type IncomingMessage, ServerResponse } from "node:http";
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import { messageOf, Refusal } from "../errors.js";
import { BaseMixin } from "../hooks/mixin.js";
import { ANSWERED, type StepResult, type Upgrade } from "./pipeline.js";
import { type Middleware, type MixinStep, type StepContext, upgradeStep } from "./step-source.js";

export type { Middleware } from "./step-source.js";

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
export class HttpMiddlewareMixin extends BaseMixin {
  /** The upgrade step this mixin adds: the middleware list, run on the raw upgrade request. */
  static readonly [upgradeStep] = middlewareStep;
}

/** Builds the step that runs the server's middleware; none when the list is empty. */
function middlewareStep({ middleware, handshakeTimeout, logger }: StepContext): MixinStep {
  const step = (upgrade: Upgrade): Promise<StepResult> | undefined => {
    if (middleware.length === 0) return undefined;
    return runMiddleware(middleware, upgrade.req, upgrade.raw, handshakeTimeout).then((outcome): StepResult => {
      if (outcome.kind === "passed") return undefined;
      if (outcome.kind === "timeout") return { kind: Refusal.handshakeTimeout, message: "handshake timed out (middleware did not finish)" };
      if (outcome.kind === "failed") {
        logger.warn({ err: outcome.error, path: upgrade.path }, "HTTP middleware refused an upgrade");
        const kind = { code: Refusal.middlewareRefused.code, status: outcome.status };
        return { kind, message: outcome.status >= 500 ? "middleware failed" : messageOf(outcome.error) };
      }
      logger.info({ status: outcome.status, path: upgrade.path }, "HTTP middleware answered an upgrade");
      upgrade.raw.end();
      setTimeout(() => upgrade.raw.destroy(), 1000).unref();
      return ANSWERED;
    });
  };
  return { step, trustsCookies: true };
}

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
