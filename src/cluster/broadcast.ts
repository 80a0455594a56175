import type { Broadcaster } from "../socket/server-api.js";
import type { Message, Room, SocketId } from "../types.js";
import type { LocalNode } from "./local-node.js";

/**
 * An immutable description of who receives a broadcast: `to()` and `except()` return new
 * operators, so one can be kept and reused.
 * @example
 * server.to("lobby").except(socket).send("someone joined");
 */
export class BroadcastOperator implements Broadcaster {
  readonly #node: LocalNode;
  readonly #rooms: readonly Room[];
  readonly #except: readonly SocketId[];

  /** Made by `server.to(room)`; not meant to be constructed by applications. */
  constructor(node: LocalNode, rooms: readonly Room[], except: readonly SocketId[] = []) {
    this.#node = node;
    this.#rooms = rooms;
    this.#except = except;
  }

  /** Adds a room: sockets in any of the rooms receive the message, each once. */
  to(room: Room): BroadcastOperator {
    return new BroadcastOperator(this.#node, [...this.#rooms, room], this.#except);
  }

  /** Leaves out one socket (or socket id). */
  except(socket: { readonly id: SocketId } | SocketId): BroadcastOperator {
    const id = typeof socket === "string" ? socket : socket.id;
    return new BroadcastOperator(this.#node, this.#rooms, [...this.#except, id]);
  }

  /** Sends to every socket in the rooms on every node; the frame is encoded once. */
  send(data: Message): void {
    this.#node.dispatch({ type: "broadcast", rooms: this.#rooms, except: this.#except, data });
  }

  /** The ids of the sockets these rooms hold on every node, less the excepted ones. */
  async members(): Promise<SocketId[]> {
    const lists = await Promise.all(this.#rooms.map((room) => this.#node.members(room)));
    const ids = new Set(lists.flat());
    for (const id of this.#except) ids.delete(id);
    return [...ids];
  }
}
