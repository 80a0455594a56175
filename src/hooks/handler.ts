import type { Socket } from "../socket/socket.js";
import type { Message } from "../types.js";
import type { MixinClass } from "./mixin.js";

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
