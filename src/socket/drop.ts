/**
 * `DROP`: what a mixin hook returns to stop one event without closing the socket.
 */

/**
 * Returned by a mixin's `onMessage` (or `onEvent`), it stops that one event: later mixins and the
 * handler do not run, and the socket stays open. A dropped request is answered `DROPPED`.
 * @example
 * class Quiet extends BaseMixin {
 *   static onMessage(socket: Socket, m: Message) { return m === "" ? DROP : undefined; }
 * }
 */
export const DROP: unique symbol = Symbol("tswebsockets.drop");

/**
 * The type of {@link DROP}.
 * @example
 * function verdict(ok: boolean): Drop | undefined { return ok ? undefined : DROP; }
 */
export type Drop = typeof DROP;
