import { ConfigError, ConfigErrors } from "../errors.js";
import { DROP } from "../socket/drop.js";
import type { OutboundTransform } from "../socket/outbound.js";
import type { Socket } from "../socket/socket.js";
import type { Message } from "../types.js";
import { type HandlerClass, mixinsOf } from "./handler.js";
import type { MixinClass } from "./mixin.js";

type Hook<A> = (socket: Socket, arg: A) => unknown;

/**
 * Runs a composed chain for one event. Returns undefined when every hook was synchronous, or a
 * promise when one was async: callers only pay for a promise when a hook makes one.
 */
export type Runner<A> = (socket: Socket, arg: A) => undefined | Promise<void>;

/** The composed chains of one handler class, built once when a server starts. */
export interface Chain {
  readonly connect: Runner<string>;
  readonly message: Runner<Message>;
  readonly close: Runner<undefined>;
  /** The mixins' `onOutbound` hooks, right to left; undefined when none has one (today's path). */
  readonly outbound: OutboundTransform<Socket> | undefined;
  readonly mixins: readonly MixinClass[];
}

const HOOKS = ["onConnect", "onMessage", "onClose"] as const;

/**
 * Composes the three chains of a handler class. Throws a {@link ConfigError}
 * (`TSWS_INSTANCE_HOOK`) when the class or a mixin has a hook as an instance method: the library
 * never makes instances, so such a hook would silently never run.
 */
export function composeChain(cls: HandlerClass): Chain {
  const ordered = mixinsOf(cls);
  for (const owner of [...ordered, cls]) refuseInstanceHooks(owner);
  const pick = <A>(name: "onConnect" | "onMessage" | "onClose", transforms: boolean): Runner<A> => {
    const hooks: Hook<A>[] = [];
    for (const m of ordered) {
      const hook = m[name] as Hook<A> | undefined;
      if (typeof hook === "function") hooks.push(hook.bind(m));
    }
    // The handler's own hook or one it inherits from a parent handler; BaseHandler has none.
    const own = cls[name] as Hook<A> | undefined;
    const mixinCount = hooks.length;
    if (typeof own === "function") hooks.push(own.bind(cls));
    return compose(hooks, transforms ? mixinCount : 0);
  };
  return {
    connect: pick<string>("onConnect", false),
    message: pick<Message>("onMessage", true),
    close: pick<undefined>("onClose", false),
    outbound: composeOutbound(ordered),
    mixins: ordered,
  };
}

function refuseInstanceHooks(owner: object & { name?: string; prototype?: unknown }): void {
  const proto = owner.prototype as Record<string, unknown> | undefined;
  for (const name of HOOKS) {
    if (typeof proto?.[name] !== "function") continue;
    const cls = owner.name || "(anonymous class)";
    throw new ConfigError(
      ConfigErrors.instanceHook,
      `createServer: ${cls}.prototype.${name} is an instance method, which never runs: hooks are static (write \`static ${name}(socket, …)\`)`,
    );
  }
}

type OutboundHook = NonNullable<MixinClass["onOutbound"]>;

/**
 * The mixins' `onOutbound` hooks as one transform, right to left: each sees what the one before
 * left, `DROP` ends the run. A hook must be synchronous (it runs for every receiver of every
 * message, and per-socket order and one write per turn depend on it): an `async` one is a
 * TypeError here, a returned promise a TypeError when it happens.
 */
function composeOutbound(ordered: readonly MixinClass[]): OutboundTransform<Socket> | undefined {
  const hooks: OutboundHook[] = [];
  for (const m of ordered) {
    const hook = m.onOutbound;
    if (typeof hook !== "function") continue;
    if (hook.constructor.name === "AsyncFunction") {
      throw new TypeError(
        `${m.name}.onOutbound must be synchronous: compute what it needs beforehand (e.g. into socket.data at join time)`,
      );
    }
    hooks.push(hook.bind(m) as OutboundHook);
  }
  if (hooks.length === 0) return undefined;
  return (socket, message) => {
    let current = message;
    let changed = false;
    for (const hook of hooks) {
      const verdict = hook(socket, current);
      if (verdict === undefined) continue;
      if (verdict === DROP) return DROP;
      if (verdict instanceof Promise) throw new TypeError("onOutbound returned a promise: outbound hooks must be synchronous");
      current = verdict;
      changed = true;
    }
    return changed ? current : undefined;
  };
}

/**
 * One runner over a fixed list of hooks (koa-compose's idea, without `next`): the first
 * `transformers` hooks may return a replacement for the argument, or {@link DROP} to end the run
 * there (a comparison per hook: the synchronous path still allocates nothing).
 */
function compose<A>(hooks: readonly Hook<A>[], transformers: number): Runner<A> {
  const step = (socket: Socket, arg: A, from: number): undefined | Promise<void> => {
    for (let i = from; i < hooks.length; i++) {
      const result = (hooks[i] as Hook<A>)(socket, arg);
      if (result instanceof Promise) {
        return result.then((value: unknown) => {
          if (i < transformers && value === DROP) return undefined;
          const next = i < transformers && value !== undefined ? (value as A) : arg;
          return step(socket, next, i + 1);
        });
      }
      if (i < transformers && result !== undefined) {
        if (result === DROP) return undefined;
        arg = result as A;
      }
    }
    return undefined;
  };
  return (socket, arg) => step(socket, arg, 0);
}
