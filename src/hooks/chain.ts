import { ConfigError, ConfigErrors } from "../errors.js";
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

/**
 * One runner over a fixed list of hooks (koa-compose's idea, without `next`): the first
 * `transformers` hooks may return a replacement for the argument.
 */
function compose<A>(hooks: readonly Hook<A>[], transformers: number): Runner<A> {
  const step = (socket: Socket, arg: A, from: number): undefined | Promise<void> => {
    for (let i = from; i < hooks.length; i++) {
      const result = (hooks[i] as Hook<A>)(socket, arg);
      if (result instanceof Promise) {
        return result.then((value: unknown) => {
          const next = i < transformers && value !== undefined ? (value as A) : arg;
          return step(socket, next, i + 1);
        });
      }
      if (i < transformers && result !== undefined) arg = result as A;
    }
    return undefined;
  };
  return (socket, arg) => step(socket, arg, 0);
}
