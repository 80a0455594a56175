import type { Socket } from "../socket/socket.js";
import type { Room, SocketId } from "../types.js";
import type { Adapter } from "./adapter.js";

/**
 * This node's rooms: which local sockets are in which room. Delivery to local sockets always
 * reads this index; the adapter is told of every change so other nodes can learn of it.
 * @example
 * const rooms = new Rooms(adapter); rooms.join(socket, "lobby"); rooms.local("lobby")?.size; // 1
 */
export class Rooms {
  readonly #members = new Map<Room, Set<Socket>>();
  readonly #adapter: Adapter;

  constructor(adapter: Adapter) {
    this.#adapter = adapter;
  }

  join(socket: Socket, room: Room): void {
    let set = this.#members.get(room);
    if (set === undefined) this.#members.set(room, (set = new Set()));
    set.add(socket);
    this.#adapter.join(room, socket.id);
  }

  leave(socket: Socket, room: Room): void {
    const set = this.#members.get(room);
    if (!set?.delete(socket)) return;
    if (set.size === 0) this.#members.delete(room);
    this.#adapter.leave(room, socket.id);
  }

  /** Removes a closed socket from every room it was in (its own `rooms` stay readable). */
  leaveAll(socket: Socket): void {
    for (const room of socket.rooms) this.leave(socket, room);
  }

  /** The local sockets of one room (live view: do not keep). */
  local(room: Room): ReadonlySet<Socket> | undefined {
    return this.#members.get(room);
  }

  localIds(room: Room): SocketId[] {
    const set = this.#members.get(room);
    return set === undefined ? [] : Array.from(set, (s) => s.id);
  }

  /** Each room with its number of local members (a live iterator: do not keep it across turns). */
  *sizes(): Generator<[Room, number]> {
    for (const [room, set] of this.#members) yield [room, set.size];
  }

  /** How many rooms have at least one local member (for leak checks). */
  get size(): number {
    return this.#members.size;
  }
}
