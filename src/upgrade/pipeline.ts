import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { UpgradeRefusal } from "../errors.js";
import type { Logger } from "../logger.js";
import { refuseChannel } from "../observe/channels.js";
import type { Params } from "../types.js";
import { refuseUpgrade } from "./refuse.js";

/**
 * One upgrade request on its way through a namespace's pipeline.
 * @example
 * const upgrade: Upgrade = { req, raw, head, path: "/chat/lobby", params: { room: "lobby" } };
 */
export interface Upgrade {
  readonly req: IncomingMessage;
  readonly raw: Duplex;
  readonly head: Buffer;
  /** The path after the base URI, without the query string. */
  readonly path: string;
  readonly params: Params;
}

/** Destroys a socket that reported an error (its peer reset it, say) while its upgrade was under way. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Gives the TCP socket of an upgrade an error listener, once: from the moment the upgrade leaves
 * the synchronous path (a step returned a promise, a step answered or refused it) until ws takes
 * the socket, an error must not go unheard. An upgrade that runs through in one turn needs none
 * (a socket reports errors on a later turn, and ws listens from its `handleUpgrade` on).
 * @example
 * watchErrors(upgrade.raw); refuseUpgrade(upgrade.raw, 403, "forbidden");
 */
export function watchErrors(raw: Duplex): void {
  if (!raw.listeners("error").includes(destroyOnError)) raw.on("error", destroyOnError);
}

/** A step already answered the request itself (a middleware sent a response): nothing more to do. */
export const ANSWERED: unique symbol = Symbol("tswebsockets.answered");

/** What a step decides: `undefined` goes on to the next step, a refusal refuses, `ANSWERED` stops. */
export type StepResult = UpgradeRefusal | typeof ANSWERED | undefined;

/**
 * One step of the upgrade, before the handshake: a request check, a cap, the origin check, HTTP
 * middleware. Synchronous steps cost no promise.
 * @example
 * const onlyGet: UpgradeStep = ({ req }) => (req.method === "GET" ? undefined : { kind: Refusal.methodNotAllowed, message: "GET only" });
 */
export type UpgradeStep = (upgrade: Upgrade) => StepResult | Promise<StepResult>;

/**
 * A namespace's upgrade path: its steps in order, built once when the server starts, and one
 * place where a request is refused (logged with its stable code, answered with its HTTP status).
 * Steps run synchronously until one returns a promise. A step that throws or rejects costs that
 * one connection, never the process.
 * @example
 * const pipeline = new UpgradePipeline([checkRequest, caps, origin], handshake, logger);
 * pipeline.run({ req, raw, head, path, params });
 */
export class UpgradePipeline {
  readonly #steps: readonly UpgradeStep[];
  readonly #accept: (upgrade: Upgrade) => void;
  readonly #logger: Logger;
  readonly #observed: RefusalSource | undefined;

  /**
   * @param accept called when every step let the request through: it does the handshake
   * @param observed the server and namespace pattern its refusals are published with
   */
  constructor(steps: readonly UpgradeStep[], accept: (upgrade: Upgrade) => void, logger: Logger, observed?: RefusalSource) {
    this.#steps = steps;
    this.#accept = accept;
    this.#logger = logger;
    this.#observed = observed;
  }

  /** Runs the steps for one request, then the handshake or a refusal. */
  run(upgrade: Upgrade): void {
    try {
      this.#from(upgrade, 0);
    } catch (error) {
      this.#failed(upgrade, error);
    }
  }

  #from(upgrade: Upgrade, first: number): void {
    for (let i = first; i < this.#steps.length; i++) {
      const result = (this.#steps[i] as UpgradeStep)(upgrade);
      if (result instanceof Promise) {
        watchErrors(upgrade.raw);
        result.then((settled) => this.#after(upgrade, settled, i + 1)).catch((error: unknown) => this.#failed(upgrade, error));
        return;
      }
      if (result !== undefined) {
        this.#stop(upgrade, result);
        return;
      }
    }
    if (!upgrade.raw.destroyed) this.#accept(upgrade);
  }

  #after(upgrade: Upgrade, result: StepResult, next: number): void {
    if (result !== undefined) this.#stop(upgrade, result);
    else this.#from(upgrade, next);
  }

  #stop(upgrade: Upgrade, result: UpgradeRefusal | typeof ANSWERED): void {
    watchErrors(upgrade.raw); // a middleware's own answer too: its write may still fail
    if (result !== ANSWERED) refuse(upgrade, result, this.#logger, this.#observed);
  }

  #failed(upgrade: Upgrade, error: unknown): void {
    this.#logger.error({ err: error }, "the upgrade failed unexpectedly; dropping the connection");
    watchErrors(upgrade.raw);
    upgrade.raw.destroy();
  }
}

/**
 * Who refused: published with each refusal on the `tswebsockets:refuse` diagnostics channel.
 * @example
 * const source: RefusalSource = { server, namespace: "/chat/:room" };
 */
export interface RefusalSource {
  readonly server: object;
  readonly namespace?: string | undefined;
}

/**
 * Refuses an upgrade: logs its stable code (at info), publishes it (when observed) and answers
 * with its HTTP status and message.
 * @example
 * refuse(upgrade, { kind: Refusal.notFound, message: "no WebSocket namespace at /x" }, logger, { server });
 */
export function refuse(upgrade: Pick<Upgrade, "req" | "raw">, refusal: UpgradeRefusal, logger: Logger, source?: RefusalSource): void {
  watchErrors(upgrade.raw);
  const { code, status } = refusal.kind;
  if (source !== undefined && refuseChannel.hasSubscribers) {
    refuseChannel.publish({ server: source.server, status, code, namespace: source.namespace, message: refusal.message });
  }
  logger.info(
    { code, status, url: upgrade.req.url, remoteAddress: upgrade.req.socket.remoteAddress },
    `upgrade refused: ${refusal.message}`,
  );
  refuseUpgrade(upgrade.raw, status, refusal.message, refusal.headers);
}
