import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Answers an upgrade request with a plain HTTP response and closes the connection: used for every
 * refusal made before the handshake, so a client sees a real status and a reason it can read.
 */
export function refuseUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  // A peer that never reads must not keep the descriptor: give the answer a moment, then drop.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Whether a browser's `Origin` may open a socket. A request without `Origin` is not from a
 * browser page, so it cannot be a cross-site hijack and passes.
 * @param allowed the `allowedOrigins` option; `"https://*.example.com"` allows every subdomain
 * @param sameSiteOnly when `allowed` is not set: only the request's own host may connect
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[] | undefined, sameSiteOnly: boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and garbage are never same-site
  }
  if (allowed !== undefined) {
    if (allowed.some((pattern) => matchOrigin(pattern, url))) return true;
  } else if (!sameSiteOnly) {
    return true;
  }
  // Read with the origin's scheme, an explicit default port ("example.com:443", as some proxies
  // send) is dropped the way URL drops it from the origin.
  return urlOf(`${url.protocol}//${req.headers.host ?? ""}`)?.host === url.host;
}

function matchOrigin(pattern: string, origin: URL): boolean {
  const wildcard = pattern.includes("://*.");
  // "*" is not a valid host character: parse a placeholder label instead, then compare the rest.
  const p = urlOf(wildcard ? pattern.replace("://*.", "://x.") : pattern);
  if (p === undefined || p.protocol !== origin.protocol || p.port !== origin.port) return false;
  return wildcard ? origin.hostname.endsWith(p.hostname.slice(1)) : p.hostname === origin.hostname;
}

function urlOf(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
