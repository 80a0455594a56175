import type { IncomingMessage } from "node:http";

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
