/** Shared type aliases: names that say what a string is. */

/** The name of a room. */
export type Room = string;
/** A socket's unique, unguessable id. */
export type SocketId = string;
/** What a peer sends and what a handler may send: text, or bytes. */
export type Message = string | Buffer;
/** Path parameters captured from `:name` segments of a namespace. */
export type Params = Record<string, string>;
