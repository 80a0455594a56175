import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../types.js";

/**
 * Headers whose values repeat from one connection to the next. Each request parses its own copy
 * of every value; a socket keeps its headers for its whole life, so one shared string per
 * distinct value saves a few hundred bytes per socket.
 */
const REPEATED = new Set([
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
]);
/** Bounded: a client sending a new value each time fills it once, then values are kept as they came. */
const MAX_SHARED = 1024;
const shared = new Map<string, string>();

/**
 * The record a socket keeps of its upgrade request, its repeated header values shared with
 * other sockets (the values are equal, only their copies are saved).
 * @example
 * socket.request = requestInfo(req); // { url: "/chat?x=1", headers: {...}, remoteAddress: "127.0.0.1" }
 */
export function requestInfo(req: IncomingMessage): RequestInfo {
  const headers = req.headers;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== "string" || !REPEATED.has(name)) continue;
    const known = shared.get(value);
    if (known !== undefined) headers[name] = known;
    else if (shared.size < MAX_SHARED) shared.set(value, value);
  }
  return { url: req.url ?? "/", headers, remoteAddress: req.socket.remoteAddress ?? "" };
}
