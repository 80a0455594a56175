/**
 * The broadcast operator of an events namespace: the server's own operator plus `emit`. The data
 * is checked once and encoded once into a tsws.v1 event frame; that text then takes the usual
 * broadcast path (one WebSocket frame for every local receiver, the same text to other nodes).
 */
import { type AnyContract, lookup } from "../contract/define-contract.js";
import { validate } from "../contract/validate.js";
import type { Logger } from "../logger.js";
import { encodeEvent } from "../protocol/frames.js";
import { pushBody } from "../resume/history-log.js";
import type { Broadcaster } from "../socket/server-api.js";
import type { Message, Room, SocketId } from "../types.js";
import { checked } from "./event-socket.js";
import type { EventBroadcaster } from "./types.js";

/**
 * Where an events namespace's room broadcasts are numbered when the server has `resume`: the
 * resume layer's runtime. When history cannot be written, the room gets `plain()` (the event
 * frame, encoded only then) live instead.
 * @example
 * const history: RoomHistory = { emitToRoom: (room, except, body, plain) => {}, messageId: () => "m1", notKept: () => {} };
 */
export interface RoomHistory {
  emitToRoom(room: Room, except: readonly SocketId[], body: string, plain: () => string): void;
  /** A fresh id for one emit to several rooms (`PushMeta.id`), unique across nodes. */
  messageId(): string;
  /**
   * A broadcast that history does not keep went out (`what` names its kind): a resumable client
   * away at the time misses it without a gap. The runtime warns once per kind.
   */
  notKept(what: string): void;
}

/**
 * Wraps a {@link Broadcaster}; `to()` and `except()` return new operators, as the wrapped one does.
 * @example
 * new EventOperator(chat, logger, server.to("lobby"), history, ["lobby"]).emit("message", { id: "1", from: "a", text: "hi" });
 */
export class EventOperator implements EventBroadcaster<AnyContract> {
  readonly #contract: AnyContract;
  readonly #logger: Logger;
  readonly #inner: Broadcaster;
  readonly #history: RoomHistory | undefined;
  readonly #rooms: readonly Room[];
  readonly #except: readonly SocketId[];

  /** @param history with `resume`: where each room's copy of a broadcast is numbered (rooms and except mirror `inner`'s) */
  constructor(
    contract: AnyContract,
    logger: Logger,
    inner: Broadcaster,
    history?: RoomHistory,
    rooms: readonly Room[] = [],
    except: readonly SocketId[] = [],
  ) {
    this.#contract = contract;
    this.#logger = logger;
    this.#inner = inner;
    this.#history = history;
    this.#rooms = rooms;
    this.#except = except;
  }

  to(room: Room): EventOperator {
    return new EventOperator(this.#contract, this.#logger, this.#inner.to(room), this.#history, [...this.#rooms, room], this.#except);
  }

  except(socket: { readonly id: SocketId } | SocketId): EventOperator {
    const id = typeof socket === "string" ? socket : socket.id;
    return new EventOperator(this.#contract, this.#logger, this.#inner.except(socket), this.#history, this.#rooms, [...this.#except, id]);
  }

  send(data: Message): void {
    this.#history?.notKept("to(...).send(), a raw frame");
    this.#inner.send(data);
  }

  members(): Promise<SocketId[]> {
    return this.#inner.members();
  }

  emit(event: string, data?: unknown): void {
    const definition = lookup(this.#contract, "server", event);
    if (definition?.kind !== "event") throw new TypeError(`to(...).emit("${event}"): the contract declares no server event of that name`);
    checked(validate(definition.schema, data), `to(...).emit("${event}")`, this.#logger, () => {
      const history = this.#history;
      if (history === undefined) {
        this.#inner.send(encodeEvent(event, data));
        return;
      }
      // Each room numbers the message in its own history. Several rooms: one copy per room, all
      // with one message id, so a client in several of them delivers it once (PushMeta).
      const rooms = this.#rooms.length === 1 ? this.#rooms : [...new Set(this.#rooms)];
      const plain = () => encodeEvent(event, data);
      const body = pushBody(event, data, rooms.length > 1 ? history.messageId() : undefined);
      for (const room of rooms) history.emitToRoom(room, this.#except, body, plain);
    });
  }
}
