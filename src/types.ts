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
 * The names of a namespace path's `:name` segments, as a union.
 * @example
 * type Names = ParamNames<"/chat/:room/:topic">; // "room" | "topic"
 */
export type ParamNames<Path extends string> = Path extends `${string}:${infer Rest}`
  ? Rest extends `${infer Name}/${infer Tail}`
    ? Name | ParamNames<`/${Tail}`>
    : Rest
  : never;

/**
 * The params a namespace path captures, each a `string` (present on every socket of that path,
 * also under `noUncheckedIndexedAccess`). For the plain `string` path: any name, possibly absent.
 * @example
 * const params: PathParams<"/chat/:room"> = { room: "lobby" };
 */
export type PathParams<Path extends string> = { readonly [N in ParamNames<Path>]: string } & Readonly<Params>;

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
