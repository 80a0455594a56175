import * as wsModule from "ws";
import type { ClusterOp } from "./adapters/adapter.js";
import type { Rooms } from "./rooms.js";
import type { Socket } from "./socket.js";
import type { Message, Room, SocketId } from "./types.js";

/** The part of a server a broadcast needs. */
export interface BroadcastTarget {
  readonly rooms: Rooms;
  publish(op: ClusterOp): void;
  members(room: Room): Promise<SocketId[]>;
}

/**
 * An immutable description of who receives a broadcast: `to()` and `except()` return new
 * operators, so one can be kept and reused.
 * @example
 * server.to("lobby").except(socket).send("someone joined");
 */
export class BroadcastOperator {
  readonly #target: BroadcastTarget;
  readonly #rooms: readonly Room[];
  readonly #except: readonly SocketId[];

  constructor(target: BroadcastTarget, rooms: readonly Room[], except: readonly SocketId[] = []) {
    this.#target = target;
    this.#rooms = rooms;
    this.#except = except;
  }

  /** Adds a room: sockets in any of the rooms receive the message, each once. */
  to(room: Room): BroadcastOperator {
    return new BroadcastOperator(this.#target, [...this.#rooms, room], this.#except);
  }

  /** Leaves out one socket (or socket id). */
  except(socket: Socket | SocketId): BroadcastOperator {
    const id = typeof socket === "string" ? socket : socket.id;
    return new BroadcastOperator(this.#target, this.#rooms, [...this.#except, id]);
  }

  /** Sends to every socket in the rooms on every node; the frame is encoded once. */
  send(data: Message): void {
    deliverLocal(this.#target.rooms, this.#rooms, this.#except, data);
    this.#target.publish({ type: "broadcast", rooms: this.#rooms, except: this.#except, data });
  }

  /** The ids of the sockets these rooms hold on every node, less the excepted ones. */
  async members(): Promise<SocketId[]> {
    const lists = await Promise.all(this.#rooms.map((room) => this.#target.members(room)));
    const ids = new Set(lists.flat());
    for (const id of this.#except) ids.delete(id);
    return [...ids];
  }
}

/** Delivers a broadcast to this node's own sockets. */
export function deliverLocal(rooms: Rooms, names: readonly Room[], except: readonly SocketId[], data: Message): void {
  let frame: readonly Buffer[] | undefined;
  let seen: Set<Socket> | undefined;
  for (const name of names) {
    const members = rooms.local(name);
    if (members === undefined) continue;
    if (names.length > 1) seen ??= new Set();
    for (const socket of members) {
      if (seen !== undefined) {
        if (seen.has(socket)) continue;
        seen.add(socket);
      }
      if (except.length > 0 && except.includes(socket.id)) continue;
      frame ??= encodeFrame(data);
      socket.sendFrame(frame, data);
    }
  }
}

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// `Sender.frame` is exported by ws but missing from @types/ws.
const frameOf = (wsModule as unknown as { Sender: { frame(data: Message, options: FrameOptions): Buffer[] } }).Sender.frame;

/** Below this size a frame's header and payload are joined, so each receiver costs one write, not two. */
const JOIN_BELOW = 16 * 1024;

/** One unmasked server frame (text for strings, binary for bytes), shared by every receiver. */
function encodeFrame(data: Message): readonly Buffer[] {
  const payload = typeof data === "string" ? Buffer.from(data) : data;
  const parts = frameOf(payload, { fin: true, opcode: typeof data === "string" ? 1 : 2, mask: false, readOnly: false, rsv1: false });
  return parts.length > 1 && payload.length < JOIN_BELOW ? [Buffer.concat(parts)] : parts;
}
