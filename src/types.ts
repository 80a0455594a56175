/** Shared type aliases: names that say what a string is. */

/**
 * The name of a room.
 * @example
 * const room: Room = `chat:${socket.params.room}`; socket.join(room);
 */
export type Room = string;
/**
 * A socket's unique, unguessable id.
 * @example
 * const id: SocketId = socket.id; server.sendTo(id, "just for you");
 */
export type SocketId = string;
/**
 * What a peer sends and what a handler may send: text, or bytes.
 * @example
 * static onMessage(socket: Socket, m: Message) { socket.send(typeof m === "string" ? m.toUpperCase() : m) }
 */
export type Message = string | Buffer;
/**
 * Path parameters captured from `:name` segments of a namespace.
 * @example
 * // @Namespace("/chat/:room") and a request to /chat/lobby
 * const params: Params = socket.params; // { room: "lobby" }
 */
export type Params = Record<string, string>;

/**
 * What the upgrade request said: a small record, not the live `IncomingMessage`.
 * @example
 * const token = new URL(socket.request.url, "http://x").searchParams.get("token");
 */
export interface RequestInfo {
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string;
}
