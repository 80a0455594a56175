import type { MixinClass } from "./mixin.js";
import type { Socket } from "./socket.js";
import type { Message } from "./types.js";

const MIXINS = Symbol("tswebsockets.mixins");

/**
 * The base of a handler without mixins. Override the static hooks you need; each does nothing
 * by default and may be async. Events of one socket are handled one at a time, in order.
 * @example
 * \@Namespace("/echo/")
 * class Echo extends BaseHandler { static onMessage(socket: Socket, m: Message) { socket.send(m) } }
 */
export class BaseHandler {
  /** Called once the handshake is complete and the socket is open. */
  static onConnect(_socket: Socket, _path: string): unknown {
    return undefined;
  }
  /** Called for each message, after the mixins' `onMessage`, with the message they left. */
  static onMessage(_socket: Socket, _message: Message): unknown {
    return undefined;
  }
  /** Called last and exactly once for every socket that was open, however it closed. */
  static onClose(_socket: Socket): unknown {
    return undefined;
  }
}

/**
 * A handler class: {@link BaseHandler} or a subclass of it.
 * @example
 * const handlers: HandlerClass[] = [Chat, Echo]; createServer({ handlers });
 */
export type HandlerClass = typeof BaseHandler;

/**
 * A {@link BaseHandler} subclass whose hooks are preceded by the mixins' hooks, right to left:
 * with `mixins(A, B, C)`, C's hook runs first, then B's, then A's, then the handler's.
 * @example
 * class Chat extends mixins(Shout, MembersOnly, HttpMiddlewareMixin) {}
 */
export function mixins(...list: MixinClass[]): HandlerClass {
  for (const m of list) {
    if (typeof m !== "function") throw new TypeError(`mixins(...): every argument must be a mixin class, got ${typeof m}`);
  }
  return class extends BaseHandler {
    static readonly [MIXINS]: readonly MixinClass[] = Object.freeze([...list]);
  };
}

/** The mixins of a handler class in the order they run (right to left), nearest `mixins()` wins. */
export function mixinsOf(cls: HandlerClass): readonly MixinClass[] {
  const list = (cls as unknown as { [MIXINS]?: readonly MixinClass[] })[MIXINS] ?? [];
  return [...list].reverse();
}

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

/** Composes the three chains of a handler class. */
export function composeChain(cls: HandlerClass): Chain {
  const ordered = mixinsOf(cls);
  const pick = <A>(name: "onConnect" | "onMessage" | "onClose", transforms: boolean): Runner<A> => {
    const hooks: Hook<A>[] = [];
    for (const m of ordered) {
      const hook = m[name] as Hook<A> | undefined;
      if (typeof hook === "function") hooks.push(hook.bind(m));
    }
    const own = cls[name] as Hook<A>;
    const mixinCount = hooks.length;
    if (own !== BaseHandler[name]) hooks.push(own.bind(cls));
    return compose(hooks, transforms ? mixinCount : 0);
  };
  return {
    connect: pick<string>("onConnect", false),
    message: pick<Message>("onMessage", true),
    close: pick<undefined>("onClose", false),
    mixins: ordered,
  };
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
