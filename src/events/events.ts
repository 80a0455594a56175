/**
 * `events(contract, ...mixins)`: `mixins(...)` plus the message layer. The layer is the leftmost
 * mixin, so each frame passes the raw `onMessage` mixins first (right to left, as before), then
 * the layer, which handles tsws.v1 frames and lets binary frames and frames of clients that did
 * not negotiate tsws.v1 go on to the handler's raw `onMessage`, unchanged.
 */
import type { AnyContract } from "../contract/define-contract.js";
import { type BaseHandler, type HandlerClass, mixins, mixinsOf } from "../hooks/handler.js";
import { BaseMixin, type MixinClass } from "../hooks/mixin.js";
import { type ProtocolContext, type SocketProtocol, socketProtocol } from "../hooks/socket-protocol.js";
import { SUBPROTOCOL } from "../protocol/frames.js";
import { ResumeRuntime } from "../resume/runtime.js";
import { namespaceOf } from "../routing/namespace.js";
import type { DROP } from "../socket/drop.js";
import type { Socket, SocketInit } from "../socket/socket.js";
import type { Message } from "../types.js";
import { EventLayer } from "./event-layer.js";
import { EventSocketImpl } from "./event-socket.js";
import type { HandlerTable } from "./types.js";

/**
 * The class `events()` returns: a handler base whose subclass declares `static events = handle(contract, {...})`.
 * @example
 * const Base: EventHandlerClass<typeof chat> = events(chat, HttpMiddlewareMixin);
 */
export type EventHandlerClass<C extends AnyContract> = typeof BaseHandler & {
  /** The contract this namespace speaks. */
  readonly contract: C;
};

/** The message layer's place in the raw chain: tsws.v1 text frames stop here, the rest goes on. */
class EventLayerMixin extends BaseMixin {
  static onMessage = (socket: Socket, message: Message) => {
    if (typeof message !== "string" || !(socket instanceof EventSocketImpl) || !socket.negotiated) return undefined;
    return (socket.layer as EventLayer).receive(socket, message) as typeof DROP | Promise<typeof DROP>;
  };
}

/**
 * A handler base for a namespace that speaks the contract: like `mixins(...list)` (right to left,
 * then the handler), plus events and requests dispatched to `static events = handle(contract, {...})`.
 * Clients offering the `tsws.v1` subprotocol get it; mixins may add `onEvent`.
 * @example
 * \@Namespace("/chat/:room")
 * class Chat extends events(chat, HttpMiddlewareMixin) {
 *   static events = handle(chat, { typing(socket, { on }) { socket.server.to(socket.params.room!).except(socket).emit("typing", { on }); } });
 * }
 * @throws TypeError when `contract` is not made by defineContract or a mixin is not a class.
 */
export function events<C extends AnyContract>(contract: C, ...list: MixinClass[]): EventHandlerClass<C> {
  if (typeof contract !== "object" || contract === null || typeof contract.client !== "object" || typeof contract.server !== "object") {
    throw new TypeError("events(contract, ...mixins): the first argument must be a contract made by defineContract()");
  }
  const Base = mixins(EventLayerMixin, ...list);
  class Events extends Base {
    static readonly contract: C = contract;
    static events: HandlerTable<C> | undefined = undefined;
    static [socketProtocol](cls: HandlerClass, context: ProtocolContext): SocketProtocol {
      const table = (cls as { events?: unknown }).events;
      if (table !== undefined && (typeof table !== "object" || table === null || (table as HandlerTable).contract !== contract)) {
        throw new TypeError(
          `${cls.name || "the handler class"}.events must be handle(contract, {...}) with the contract given to events()`,
        );
      }
      const resume =
        context.resume !== undefined && context.server !== undefined
          ? ResumeRuntime.of(context.server, context.resume, context.logger, context.closeTimeout)
          : undefined;
      const layer = new EventLayer(contract, table as HandlerTable | undefined, mixinsOf(cls), context.logger, resume?.sends);
      const make = (init: SocketInit) => new EventSocketImpl(init, layer); // one per namespace, not per socket
      if (resume === undefined) return { subprotocol: SUBPROTOCOL, createSocket: make, claim: layer.claim };
      const ns = namespaceOf(cls);
      if (ns !== undefined) resume.addNamespace(ns, cls);
      return {
        subprotocol: SUBPROTOCOL,
        createSocket: (init, req) => resume.createSocket(init, req, make),
        claim: layer.claim,
        prepare: resume.prepare,
        closed: resume.closed,
        dropped: resume.dropped,
      };
    }
  }
  return Events;
}
