import type { Logger } from "../logger.js";
import type { Message, Room, SocketId } from "../types.js";

/**
 * What one node asks the others to do. Every operation is also carried out locally by the node
 * that issues it, so an adapter only ever carries it to the *other* nodes.
 * @example
 * const op: ClusterOp = { type: "sendTo", id: socketId, data: "hello" }; adapter.publish(op);
 */
export type ClusterOp =
  | {
      readonly type: "broadcast";
      readonly rooms: readonly Room[];
      readonly except: readonly SocketId[];
      readonly data: Message;
      /**
       * Set for a message of a room with history (resumable sessions): the epoch of the room's
       * stream; `data` is then a `[4, stream, seq, ...]` push frame.
       */
      readonly epoch?: string | undefined;
    }
  | { readonly type: "sendTo"; readonly id: SocketId; readonly data: Message }
  | {
      readonly type: "close";
      readonly by: "session" | "user";
      readonly value: string;
      readonly code: number;
      readonly reason: string;
    };

/**
 * What a server offers its adapter.
 * @example
 * async start(node: ClusterNode) { bus.on("op", (op: ClusterOp) => node.receive(op)) }
 */
export interface ClusterNode {
  /** A unique id of this server instance. */
  readonly nodeId: string;
  /** The server's logger, for the adapter's own faults (a lost connection, a failed command). */
  readonly logger: Logger;
  /** Carries out an operation published by another node on this node's own sockets. */
  receive(op: ClusterOp): void;
  /** The ids of this node's own sockets in a room. */
  localMembers(room: Room): SocketId[];
}

/**
 * Counters and state an adapter may expose (the Redis adapter's `stats` has all of them): metrics
 * and the admin page read them when present.
 * @example
 * const stats: AdapterStats = { published: 10, dropped: 0, received: 12, connected: true, nodes: 2 };
 */
export interface AdapterStats {
  /** Operations carried to the other nodes. */
  readonly published?: number;
  /** Operations that did not reach every other node. */
  readonly dropped?: number;
  /** Operations received from other nodes. */
  readonly received?: number;
  /** Whether the link to the other nodes is up. */
  readonly connected?: boolean;
  /** Nodes in the cluster, this one included. */
  readonly nodes?: number;
}

/**
 * The keys a socket is found by in a cluster, besides its id.
 * @example
 * adapter.locate?.(socket.id, { session: "s1", user: "42" });
 */
export interface SocketPlace {
  readonly session: string | undefined;
  readonly user: string | undefined;
}

/**
 * Carries rooms, direct sends and session ends between the nodes of a cluster.
 * The contract every adapter meets is written in `docs/adapters.md` and checked by
 * `test/adapter-conformance.test.ts`.
 * @example
 * createServer({ handlers: [Chat], adapter: createRedisAdapter(new Redis()) })
 */
export interface Adapter {
  /** Called once by the server before it accepts sockets. Rejecting fails `listen()`. */
  start(node: ClusterNode): Promise<void>;
  /** Sends an operation to every other node; never delivers it back to the calling node. */
  publish(op: ClusterOp): void;
  /** Records that a local socket joined a room. */
  join(room: Room, id: SocketId): void;
  /** Records that a local socket left a room (also called for every room when it closes). */
  leave(room: Room, id: SocketId): void;
  /**
   * Optional: where a local socket can be found. Called when a socket opens and whenever its
   * session or user changes (with both, either possibly undefined), and with `undefined` when it
   * closes, so an adapter can route `sendTo`, `closeSession` and `closeUser` to the nodes that hold
   * the socket rather than to every node.
   */
  locate?(id: SocketId, where: SocketPlace | undefined): void;
  /** The ids of the sockets in a room on every node, each once. */
  members(room: Room): Promise<SocketId[]>;
  /** Releases everything the adapter holds; called by `server.close()`. */
  stop(): Promise<void>;
  /** Optional counters and state, read by metrics and the admin page. */
  readonly stats?: AdapterStats;
}
