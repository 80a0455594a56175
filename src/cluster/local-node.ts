import { closeReasonOf } from "../errors.js";
import { closeSafely } from "../inbound/hook-failure.js";
import type { Logger } from "../logger.js";
import { broadcastChannel, byteSize, dropChannel } from "../observe/channels.js";
import { type Traffic, trafficOf } from "../observe/traffic.js";
import { DROP, type Drop } from "../socket/drop.js";
import { encodeFrame } from "../socket/frames.js";
import { type Outbound, type OutboundTransform, outboundView, outboundWire } from "../socket/outbound.js";
import type { ServerApi, SocketHome } from "../socket/server-api.js";
import { outboxOf, type Socket, serverOf } from "../socket/socket.js";
import type { Message, Room, SocketId } from "../types.js";
import type { Adapter, ClusterNode, ClusterOp } from "./adapter.js";
import { Rooms } from "./rooms.js";

type CloseOp = Extract<ClusterOp, { type: "close" }>;

/**
 * A broadcast operation, as a {@link StreamGate} sees it.
 * @example
 * const op: BroadcastOp = { type: "broadcast", rooms: ["lobby"], except: [], data: frame, epoch: "k3" };
 */
export type BroadcastOp = Extract<ClusterOp, { type: "broadcast" }>;

/**
 * A `sendTo` operation, as a {@link StreamGate} sees it.
 * @example
 * const op: SendToOp = { type: "sendTo", id: socketId, data: '[0,"note",{"text":"hi"}]' };
 */
export type SendToOp = Extract<ClusterOp, { type: "sendTo" }>;

/**
 * Takes over the local delivery of broadcasts that carry a stream `epoch` (rooms with history),
 * and hears of joins and leaves, so a layer above (resumable sessions) can order, de-duplicate and
 * fill holes per room before this node's sockets get a message. Installed once per server.
 * @example
 * node.setStreamGate({ broadcast: (op) => { deliverLater(op); return true; } });
 */
export interface StreamGate {
  /** Returns true when it delivers `op` here itself (now or later); false lets the node deliver it as usual. */
  broadcast(op: BroadcastOp, origin: "local" | "remote"): boolean;
  /**
   * Returns true when it delivered or kept `op` itself (a resumable session's direct message,
   * numbered in its inbox, also while the session is away); false lets the node go on as usual.
   */
  sendTo?(op: SendToOp, origin: "local" | "remote"): boolean;
  joined?(socket: Socket, room: Room): void;
  left?(socket: Socket, room: Room): void;
}

/** Each server's node, for the layers above the server that need it (found by the server object, like outboxOf). */
const nodes = new WeakMap<object, LocalNode>();

/**
 * The node of a server, for layers above `server.ts` (resumable sessions) that install a
 * {@link StreamGate} or shutdown work on it.
 * @example
 * const node = localNodeOf(server); node?.setStreamGate(gate);
 */
export function localNodeOf(server: object): LocalNode | undefined {
  return nodes.get(server);
}

/** The keys a socket is indexed under for `closeSession` and `closeUser`. */
interface Identity {
  readonly session: string | undefined;
  readonly user: string | undefined;
}

/**
 * This node: its open sockets (indexed by id, session id and user id), its rooms, and the one
 * place where a cluster operation is carried out, whether it was made here ({@link dispatch}) or
 * received from another node ({@link receive}). Closing a user's sockets costs that user's
 * sockets, not a scan of all.
 * @example
 * const node = new LocalNode(server, adapter, nodeId, logger);
 * node.dispatch({ type: "sendTo", id, data: "hi" }); // delivered here, or published to the others
 */
export class LocalNode implements SocketHome<Socket>, ClusterNode {
  readonly server: ServerApi<Socket>;
  readonly nodeId: string;
  readonly logger: Logger;
  readonly rooms: Rooms;
  readonly traffic: Traffic;
  readonly #adapter: Adapter;
  readonly #sockets = new Map<SocketId, Socket>();
  readonly #bySession = new Map<string, Set<Socket>>();
  readonly #byUser = new Map<string, Set<Socket>>();
  /** Only sockets that have a session or a user: their keys, to re-index them when either changes. */
  readonly #identities = new Map<Socket, Identity>();
  #gate: StreamGate | undefined;
  readonly #shutdown: (() => Promise<void>)[] = [];

  constructor(server: ServerApi<Socket>, adapter: Adapter, nodeId: string, logger: Logger) {
    this.server = server;
    this.nodeId = nodeId;
    this.logger = logger;
    this.#adapter = adapter;
    this.rooms = new Rooms(adapter);
    this.traffic = trafficOf(server);
    nodes.set(server, this);
  }

  /** The server's adapter (resumable sessions ask it for a shared history and session store). */
  get adapter(): Adapter {
    return this.#adapter;
  }

  /** Installs the one {@link StreamGate} of this server. */
  setStreamGate(gate: StreamGate): void {
    this.#gate = gate;
  }

  /** Work to do when the server shuts down, after its sockets closed and before the adapter stops. */
  onShutdown(work: () => Promise<void>): void {
    this.#shutdown.push(work);
  }

  /** Runs the shutdown work (called by `server.close()`). */
  async shutdown(): Promise<void> {
    await Promise.all(this.#shutdown.map((work) => work()));
  }

  /** How many sockets are open on this node. */
  get size(): number {
    return this.#sockets.size;
  }

  /** The open socket with this id on this node. */
  get(id: SocketId): Socket | undefined {
    return this.#sockets.get(id);
  }

  /** Every socket open on this node. */
  sockets(): IterableIterator<Socket> {
    return this.#sockets.values();
  }

  /** This node's open sockets of a user (by the key `closeUser` matches). */
  socketsOfUser(userId: string): ReadonlySet<Socket> | undefined {
    return this.#byUser.get(userId);
  }

  /** A socket has opened. */
  add(socket: Socket): void {
    this.#sockets.set(socket.id, socket);
    this.identityChanged(socket);
  }

  /** A socket has closed: it leaves the index and its rooms (its own `rooms` stay readable). */
  remove(socket: Socket): void {
    // A resumed session's new socket may already hold this id (the old one was half-open).
    const current = this.#sockets.get(socket.id) === socket;
    if (current) this.#sockets.delete(socket.id);
    this.#unindex(socket);
    if (current) this.#adapter.locate?.(socket.id, undefined);
    for (const room of socket.rooms) this.leave(socket, room);
  }

  join(socket: Socket, room: Room): void {
    this.rooms.join(socket, room);
    this.#gate?.joined?.(socket, room);
  }

  leave(socket: Socket, room: Room): void {
    this.rooms.leave(socket, room);
    this.#gate?.left?.(socket, room);
  }

  identityChanged(socket: Socket): void {
    if (!this.#sockets.has(socket.id)) return; // before add() or after remove(): nothing to index
    this.#unindex(socket);
    const session = socket.session?.id;
    const user = userKey(socket.user);
    this.#adapter.locate?.(socket.id, { session, user });
    if (session === undefined && user === undefined) return;
    this.#identities.set(socket, { session, user });
    if (session !== undefined) addTo(this.#bySession, session, socket);
    if (user !== undefined) addTo(this.#byUser, user, socket);
  }

  /** Carries out an operation made on this node, then passes it to the other nodes unless it is done. */
  dispatch(op: ClusterOp): void {
    if (op.type === "close") op = { ...op, reason: closeReasonOf(op.reason) }; // cut once: every node can send it
    if (!this.#carryOut(op, "local")) this.#adapter.publish(op);
  }

  /**
   * Carries out an operation on this node's sockets. Returns true when nothing is left for other
   * nodes to do (a `sendTo` whose socket is here).
   */
  receive(op: ClusterOp): boolean {
    return this.#carryOut(op, "remote");
  }

  #carryOut(op: ClusterOp, origin: "local" | "remote"): boolean {
    if (op.type === "broadcast") {
      if (op.epoch !== undefined && this.#gate?.broadcast(op, origin)) return false;
      const receivers = deliverLocal(this.rooms, op.rooms, op.except, op.data);
      if (broadcastChannel.hasSubscribers) {
        broadcastChannel.publish({ server: this.server, origin, rooms: op.rooms, receivers, bytes: byteSize(op.data) });
      }
      return false;
    }
    if (op.type === "sendTo") {
      if (this.#gate?.sendTo?.(op, origin) === true) return true;
      const socket = this.#sockets.get(op.id);
      socket?.send(op.data);
      return socket !== undefined;
    }
    this.#close(op);
    return false;
  }

  localMembers(room: Room): SocketId[] {
    return this.rooms.localIds(room);
  }

  /** The ids of a room's sockets on every node. */
  members(room: Room): Promise<SocketId[]> {
    return this.#adapter.members(room);
  }

  #close(op: CloseOp): void {
    const sockets = (op.by === "session" ? this.#bySession : this.#byUser).get(op.value);
    if (sockets === undefined) return;
    for (const socket of [...sockets]) closeSafely(socket, op.code, op.reason);
  }

  #unindex(socket: Socket): void {
    const known = this.#identities.get(socket);
    if (known === undefined) return;
    this.#identities.delete(socket);
    if (known.session !== undefined) removeFrom(this.#bySession, known.session, socket);
    if (known.user !== undefined) removeFrom(this.#byUser, known.user, socket);
  }
}

/**
 * Delivers a broadcast to this node's own sockets, each once, encoding the frame once, and returns
 * how many sockets it was written to. A receiver whose namespace has `onOutbound` hooks gets what
 * they return: the shared frame when they keep the message, nothing on `DROP`, else a frame
 * encoded once per distinct replacement.
 * @example
 * deliverLocal(rooms, ["lobby"], [sender.id], "hello"); // 12
 */
export function deliverLocal(rooms: Rooms, names: readonly Room[], except: readonly SocketId[], data: Message): number {
  let frame: readonly Buffer[] | undefined;
  let receivers = 0;
  let seen: Set<Socket> | undefined;
  let variants: Variants | undefined;
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
      const outbox = outboxOf(socket);
      if (outbox.transform !== undefined) {
        variants ??= new Variants(data);
        const own = variants.frameFor(socket, outbox);
        if (own === DROP) {
          if (dropChannel.hasSubscribers) dropChannel.publish({ server: serverOf(socket), reason: "outbound_drop", count: 1 });
          continue;
        }
        if (own !== undefined) {
          outbox.sendFrame(own.frame, own.data);
          receivers++;
          continue;
        }
      }
      frame ??= encodeFrame(data);
      outbox.sendFrame(frame, data);
      receivers++;
    }
  }
  return receivers;
}

/**
 * One broadcast's outbound variants: the message as hooks see it (parsed once per broadcast, for
 * each of the two views), and one encoded frame per distinct replacement the hooks return.
 */
class Variants {
  readonly #data: Message;
  #views: [Outbound | undefined, Outbound | undefined] | undefined;
  readonly #frames = new Map<unknown, { frame: readonly Buffer[]; data: Message }>();

  constructor(data: Message) {
    this.#data = data;
  }

  /** The frame this receiver gets: `undefined` for the shared one, `DROP` for none. */
  frameFor(socket: Socket, outbox: ReturnType<typeof outboxOf>): { frame: readonly Buffer[]; data: Message } | Drop | undefined {
    const negotiated = outbox.negotiated;
    this.#views ??= [undefined, undefined];
    const index = negotiated ? 1 : 0;
    const view = (this.#views[index] ??= outboundView(this.#data, negotiated));
    if (view === undefined) return undefined; // a protocol frame hooks never see
    const verdict = (outbox.transform as OutboundTransform<Socket>)(socket, view);
    if (verdict === undefined || verdict === DROP) return verdict;
    let known = this.#frames.get(verdict);
    if (known === undefined) {
      const wire = outboundWire(verdict, this.#data) as Message;
      known = { frame: encodeFrame(wire), data: wire };
      this.#frames.set(verdict, known);
    }
    return known;
  }
}

/** The key `closeUser` matches: a string or number user, or the user's `id`. */
function userKey(user: unknown): string | undefined {
  if (typeof user === "string" || typeof user === "number") return String(user);
  const id = (user as { id?: unknown } | null | undefined)?.id;
  return id === undefined || id === null ? undefined : String(id);
}

function addTo(index: Map<string, Set<Socket>>, key: string, socket: Socket): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(socket);
}

function removeFrom(index: Map<string, Set<Socket>>, key: string, socket: Socket): void {
  const set = index.get(key);
  if (set?.delete(socket) && set.size === 0) index.delete(key);
}
