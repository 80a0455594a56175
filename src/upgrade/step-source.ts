import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { UpgradeStep } from "./pipeline.js";

/**
 * A Connect/Express middleware: `(req, res, next)`. An async one may also reject instead of
 * calling `next(err)`. Declared as a method so its parameters are bivariant: middleware typed for
 * Express's `Request`/`Response` (express-session, `passport.session()`) or any other subtype of
 * `IncomingMessage`/`ServerResponse` is accepted as it is typed.
 * @example
 * const requireUser: Middleware = (req, res, next) => ((req as { user?: unknown }).user ? next() : next(Object.assign(new Error("log in"), { status: 401 })));
 */
export type Middleware = MiddlewareSignature["middleware"];

interface MiddlewareSignature {
  middleware(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): unknown;
}

/**
 * What a mixin's upgrade step is built from: the server's options it may need.
 * @example
 * const ctx: StepContext = { middleware: [sessionParser], handshakeTimeout: 10_000, logger };
 */
export interface StepContext {
  readonly middleware: readonly Middleware[];
  readonly handshakeTimeout: number;
  readonly logger: Logger;
}

/**
 * An upgrade step a mixin adds to every namespace it is mixed into, built once per namespace.
 * `trustsCookies`: the step authenticates by cookies, so cross-site origins are refused unless
 * `allowedOrigins` lists them.
 */
export interface MixinStep {
  readonly step: UpgradeStep;
  readonly trustsCookies: boolean;
}

/** The static key under which a mixin class offers its upgrade step (a symbol: no name clash with hooks). */
export const upgradeStep: unique symbol = Symbol("tswebsockets.upgradeStep");

/**
 * The upgrade steps offered by a handler's mixins, in the order the mixins run.
 * @example
 * const steps = mixinSteps(chain.mixins, { middleware, handshakeTimeout, logger });
 */
export function mixinSteps(mixins: readonly object[], context: StepContext): MixinStep[] {
  const steps: MixinStep[] = [];
  for (const m of mixins) {
    const make = (m as { [upgradeStep]?: (context: StepContext) => MixinStep | undefined })[upgradeStep];
    const built = make?.(context);
    if (built !== undefined) steps.push(built);
  }
  return steps;
}
