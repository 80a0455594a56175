import type { Socket } from "../socket/socket.js";
import type { Message } from "../types.js";

/**
 * The base of a mixin: a class whose static hooks run before the handler's for the same event.
 * A hook may be async. `onMessage` may return a replacement message (`undefined` keeps it);
 * throwing `MixinFail` blocks the event and closes the socket. The hooks are not declared on this
 * class (so writing one needs no `override` under `noImplicitOverride`): {@link MixinClass}
 * types them where a mixin is used.
 * @example
 * class Shout extends BaseMixin {
 *   static onMessage(socket: Socket, m: Message) { return typeof m === "string" ? m.toUpperCase() : m }
 * }
 */
export class BaseMixin {}

/**
 * The static hooks a mixin may have, each optional. Method syntax on purpose: a hook written for a
 * narrower socket (`Socket<"/chat/:room">`) still fits.
 * @example
 * const hooks: MixinHooks = { onConnect(socket) { socket.data.seen = Date.now() } };
 */
export interface MixinHooks {
  /** Called when a socket has connected, before the handler's `onConnect`. */
  onConnect?(socket: Socket, path: string): unknown;
  /** Called for each message, before the handler's `onMessage`; may return a replacement. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook with no return statement keeps the message
  onMessage?(socket: Socket, message: Message): Message | undefined | void | Promise<Message | undefined | void>;
  /** Called once when the socket has closed, before the handler's `onClose`. */
  onClose?(socket: Socket): unknown;
}

/**
 * A mixin class: {@link BaseMixin} or a subclass of it, with its static hooks.
 * @example
 * const guards: MixinClass[] = [MembersOnly, HttpMiddlewareMixin]; class Chat extends mixins(...guards) {}
 */
export type MixinClass = typeof BaseMixin & MixinHooks;
