/**
 * The broadcast operator of an events namespace: the server's own operator plus `emit`. The data
 * is checked once and encoded once into a tsws.v1 event frame; that text then takes the usual
 * broadcast path (one WebSocket frame for every local receiver, the same text to other nodes).
 */
import { type AnyContract, lookup } from "../contract/define-contract.js";
import { validate } from "../contract/validate.js";
import type { Logger } from "../logger.js";
import { encodeEvent } from "../protocol/frames.js";
import type { Broadcaster } from "../socket/server-api.js";
import type { Message, Room, SocketId } from "../types.js";
import { checked } from "./event-socket.js";
import type { EventBroadcaster } from "./types.js";

/**
 * Wraps a {@link Broadcaster}; `to()` and `except()` return new operators, as the wrapped one does.
 * @example
 * new EventOperator(chat, logger, server.to("lobby")).emit("message", { id: "1", from: "a", text: "hi" });
 */
export class EventOperator implements EventBroadcaster<AnyContract> {
  readonly #contract: AnyContract;
  readonly #logger: Logger;
  readonly #inner: Broadcaster;

  constructor(contract: AnyContract, logger: Logger, inner: Broadcaster) {
    this.#contract = contract;
    this.#logger = logger;
    this.#inner = inner;
  }

  to(room: Room): EventOperator {
    return new EventOperator(this.#contract, this.#logger, this.#inner.to(room));
  }

  except(socket: { readonly id: SocketId } | SocketId): EventOperator {
    return new EventOperator(this.#contract, this.#logger, this.#inner.except(socket));
  }

  send(data: Message): void {
    this.#inner.send(data);
  }

  members(): Promise<SocketId[]> {
    return this.#inner.members();
  }

  emit(event: string, data?: unknown): void {
    const definition = lookup(this.#contract, "server", event);
    if (definition?.kind !== "event") throw new TypeError(`to(...).emit("${event}"): the contract declares no server event of that name`);
    checked(validate(definition.schema, data), `to(...).emit("${event}")`, this.#logger, () => this.#inner.send(encodeEvent(event, data)));
  }
}
