import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../types.js";

/**
 * Headers whose values repeat from one connection to the next. Each request parses its own copy
 * of every value; a socket keeps its headers for its whole life, so one shared string per
 * distinct value saves a few hundred bytes per socket.
 */
const REPEATED = [
  "host",
  "upgrade",
  "connection",
  "origin",
  "user-agent",
  "accept-encoding",
  "accept-language",
  "cache-control",
  "pragma",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
] as const;
/**
 * The shared value last given to each name of {@link REPEATED}, by index: the next request
 * usually carries the same one, found by one string comparison instead of a map look-up (which
 * would hash the request's own copy of the value first).
 */
const lastShared: (string | undefined)[] = REPEATED.map(() => undefined);
/** Bounded: a client sending a new value each time fills it once, then values are kept as they came. */
const MAX_SHARED = 1024;
const shared = new Map<string, string>();

/** What Node's net.Socket caches on its first `remoteAddress` read (an undocumented field). */
interface PeerNameCache {
  _peername?: unknown;
}

/**
 * The record a socket keeps of its upgrade request, its repeated header values shared with
 * other sockets (the values are equal, only their copies are saved). Two things the handshake
 * alone needed are let go: the unique `sec-websocket-key` value (set to undefined, which keeps
 * the headers object's shape; deleting it would turn the object into a larger dictionary), and
 * the `{ address, family, port }` object the TCP socket caches once its remote address was read.
 * @param path the request's path when the caller holds a shared copy of it (the router's): used
 * as `url` when the URL is that path, so that sockets on one path share one string
 * @example
 * socket.request = requestInfo(req); // { url: "/chat?x=1", headers: {...}, remoteAddress: "127.0.0.1" }
 */
export function requestInfo(req: IncomingMessage, path?: string): RequestInfo {
  const headers = req.headers;
  for (let i = 0; i < REPEATED.length; i++) {
    const name = REPEATED[i] as (typeof REPEATED)[number];
    const value = headers[name];
    if (typeof value !== "string") continue;
    const last = lastShared[i];
    if (value === last) {
      headers[name] = last;
      continue;
    }
    const known = shared.get(value);
    if (known !== undefined) headers[name] = lastShared[i] = known;
    else if (shared.size < MAX_SHARED) {
      shared.set(value, value);
      lastShared[i] = value;
    }
  }
  if (headers["sec-websocket-key"] !== undefined) headers["sec-websocket-key"] = undefined;
  const url = req.url ?? "/";
  const remoteAddress = req.socket.remoteAddress ?? "";
  (req.socket as PeerNameCache)._peername = undefined;
  return { url: url === path ? path : url, headers, remoteAddress };
}
