import type { Socket } from "../socket/socket.js";
import type { Message } from "../types.js";
import type { MixinClass } from "./mixin.js";

const MIXINS = Symbol("tswebsockets.mixins");

/**
 * The base of a handler without mixins. Write the static hooks you need (`onConnect`,
 * `onMessage`, `onClose`); each may be async. Events of one socket are handled one at a time, in
 * order. The hooks are not declared on this class, so writing one needs no `override` under
 * `noImplicitOverride`; {@link HandlerClass} types them where a handler is registered.
 * @example
 * class Echo extends BaseHandler { static onMessage(socket: Socket, m: Message) { socket.send(m) } }
 * namespace("/echo/", Echo);
 */
export class BaseHandler {}

/**
 * The static hooks a handler may have, each optional and possibly async. Method syntax on purpose:
 * a hook written for a narrower socket (`Socket<"/chat/:room">`) still fits.
 * @example
 * const hooks: HandlerHooks = { onMessage(socket, m) { socket.send(m) } };
 */
export interface HandlerHooks {
  /** Called once the handshake is complete and the socket is open, after the mixins' `onConnect`. */
  onConnect?(socket: Socket, path: string): unknown;
  /** Called for each message, after the mixins' `onMessage`, with the message they left. */
  onMessage?(socket: Socket, message: Message): unknown;
  /** Called last and exactly once for every socket that was open, however it closed. */
  onClose?(socket: Socket): unknown;
}

/**
 * A handler class: {@link BaseHandler} or a subclass of it, with its static hooks.
 * @example
 * const handlers: HandlerClass[] = [Chat, Echo]; createServer({ handlers });
 */
export type HandlerClass = typeof BaseHandler & HandlerHooks;

/**
 * A {@link BaseHandler} subclass whose hooks are preceded by the mixins' hooks, right to left:
 * with `mixins(A, B, C)`, C's hook runs first, then B's, then A's, then the handler's.
 * @example
 * class Chat extends mixins(Shout, MembersOnly, HttpMiddlewareMixin) {}
 */
export function mixins(...list: MixinClass[]): typeof BaseHandler {
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
