import type { Drop } from "../socket/drop.js";
import type { Outbound } from "../socket/outbound.js";
import type { Socket } from "../socket/socket.js";
import type { Message } from "../types.js";

/**
 * The base of a mixin: a class whose static hooks run before the handler's for the same event.
 * A hook may be async. `onMessage` may return a replacement message (`undefined` keeps it) or
 * `DROP` (that one message stops here, the socket stays open); throwing `MixinFail` blocks the
 * event and closes the socket. Mixins of an `events()` handler may also have `onEvent`; any mixin
 * may have `onOutbound`. The hooks are not declared on this class (so writing one needs no
 * `override` under `noImplicitOverride`): {@link MixinClass} types them where a mixin is used.
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
  /** Called for each message, before the handler's `onMessage`; may return a replacement or `DROP`. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook with no return statement keeps the message
  onMessage?(socket: Socket, message: Message): Message | Drop | undefined | void | Promise<Message | Drop | undefined | void>;
  /**
   * Message layer only (`events()`): called for each inbound event and request after its payload
   * passed its schema, right to left; may return replacement data or `DROP` (a dropped request is
   * answered `DROPPED`), throw `EventError` (answers that request) or `MixinFail` (closes).
   */
  onEvent?(socket: Socket, event: InboundEvent): unknown;
  /** Called once when the socket has closed, before the handler's `onClose`. */
  onClose?(socket: Socket): unknown;
  /**
   * Called for every message a socket of this namespace is about to receive (its own sends,
   * `sendTo`, broadcasts from any node, event-layer emits as `{ event, data }`), right to left;
   * never for replies to requests or protocol control frames. Return a replacement, `DROP`, or
   * `undefined` to keep it. Synchronous only. A broadcast whose hooks return `undefined` is still
   * encoded once; a replacement shared by many receivers (see `variant()`) is encoded once too.
   */
  onOutbound?(socket: Socket, message: Outbound): Outbound | Drop | undefined;
}

/**
 * A mixin class: {@link BaseMixin} or a subclass of it, with its static hooks.
 * @example
 * const guards: MixinClass[] = [MembersOnly, HttpMiddlewareMixin]; class Chat extends mixins(...guards) {}
 */
export type MixinClass = typeof BaseMixin & MixinHooks;

/**
 * What an `onEvent` hook sees: the message's name, its validated data, and whether it is a
 * request (which will be answered) or an event.
 * @example
 * static onEvent(socket: Socket, { event, data }: InboundEvent) { if (event === "send") audit(socket.id, data); }
 */
export interface InboundEvent {
  readonly event: string;
  readonly data: unknown;
  readonly kind: "event" | "request";
}
