import { CloseCode } from "./errors.js";
import type { Socket } from "./socket.js";
import type { Message } from "./types.js";

/**
 * The base of a mixin: a class whose static hooks run before the handler's for the same event.
 * A hook may be async. `onMessage` may return a replacement message (`undefined` keeps it);
 * throwing {@link MixinFail} blocks the event and closes the socket.
 * @example
 * class Shout extends BaseMixin {
 *   static onMessage(socket: Socket, m: Message) { return typeof m === "string" ? m.toUpperCase() : m }
 * }
 */
export class BaseMixin {
  /** Called when a socket has connected, before the handler's `onConnect`. */
  static onConnect?: (socket: Socket, path: string) => unknown;
  /** Called for each message, before the handler's `onMessage`; may return a replacement. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook with no return statement keeps the message
  static onMessage?: (socket: Socket, message: Message) => Message | undefined | void | Promise<Message | undefined | void>;
  /** Called once when the socket has closed, before the handler's `onClose`. */
  static onClose?: (socket: Socket) => unknown;
}

/**
 * A mixin class: {@link BaseMixin} or a subclass of it.
 * @example
 * const guards: MixinClass[] = [MembersOnly, HttpMiddlewareMixin]; class Chat extends mixins(...guards) {}
 */
export type MixinClass = typeof BaseMixin;

/**
 * Thrown by a hook to stop the chain: later mixins and the handler do not run, and the socket is
 * closed with `code` (default 1008, policy violation) and `reason`.
 * @example
 * if (!socket.user) throw new MixinFail("login required");
 * throw new MixinFail("wrong room", 4404);
 */
export class MixinFail extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(reason: string, code: number = CloseCode.policyViolation) {
    super(reason);
    this.name = "MixinFail";
    this.reason = reason;
    this.code = code;
  }
}
