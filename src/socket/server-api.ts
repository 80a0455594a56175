import type { Traffic } from "../observe/traffic.js";
import type { Message, Room, SocketId } from "../types.js";

/**
 * Who receives a broadcast: built by `server.to(room)`; each call returns a new operator.
 * @example
 * socket.server.to("lobby").except(socket).send("someone joined");
 */
export interface Broadcaster {
  /** Adds a room: sockets in any of the rooms receive the message, each once. */
  to(room: Room): Broadcaster;
  /** Leaves out one socket (or socket id). */
  except(socket: { readonly id: SocketId } | SocketId): Broadcaster;
  /** Sends to every socket in the rooms on every node; the frame is encoded once. */
  send(data: Message): void;
  /** The ids of the sockets these rooms hold on every node, less the excepted ones. */
  members(): Promise<SocketId[]>;
}

/**
 * The server as a socket's handlers reach it (`socket.server`); `Server` implements it.
 * @typeParam S the socket type `getSocket` returns
 * @example
 * static onMessage(socket: Socket, m: Message) { socket.server.to(socket.params.room!).send(m) }
 */
export interface ServerApi<S> {
  /** Sends to every socket in a room, on every node. */
  to(room: Room): Broadcaster;
  /** The open socket with this id on this node; undefined once it has closed. */
  getSocket(id: SocketId): S | undefined;
  /** Sends to one socket by id, on whichever node holds it. */
  sendTo(id: SocketId, data: Message): void;
  /** Closes every socket (on every node) of this session id, with 4401. */
  closeSession(sessionId: string, reason?: string): void;
  /** Closes every socket (on every node) of this user id, with 4401. */
  closeUser(userId: string | number, reason?: string): void;
  /** How many sockets are open on this node. */
  readonly size: number;
  /** Stops the server: refuses new upgrades, closes every socket with 1001, releases the port. */
  close(): Promise<void>;
}

/**
 * Where a socket lives: its server and this node's room and identity index. Only the server
 * makes one; a socket calls it when it joins or leaves a room or its user changes.
 */
export interface SocketHome<S> {
  readonly server: ServerApi<S>;
  /** The server's message totals (counted in place while a metrics collector asks). */
  readonly traffic: Traffic;
  join(socket: S, room: Room): void;
  leave(socket: S, room: Room): void;
  /** The socket's `user` or `session` was replaced: re-index it for `closeUser`/`closeSession`. */
  identityChanged(socket: S): void;
}
