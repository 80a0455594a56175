import { ConfigError, ConfigErrors } from "../errors.js";
import type { Params } from "../types.js";

/** The params of every socket on a path without `:name` segments: one shared object, not one each. */
const NO_PARAMS: Params = Object.freeze({});

/** One compiled namespace: its literal segments and parameter names. */
interface Route<T> {
  readonly path: string;
  readonly segments: readonly string[];
  /**
   * Per segment, the parameter's name (without its ":") or undefined for a literal one: sliced
   * once here, so a match stores each param under a name V8 already knows (a name sliced per
   * request is looked up in the string table on every store).
   */
  readonly names: readonly (string | undefined)[];
  readonly target: T;
}

/**
 * Matches request paths to targets: exact match after the base URI, query string ignored,
 * `:name` segments captured. Static paths are found with one map look-up.
 */
export class Router<T> {
  readonly #baseUri: string;
  /** Static paths, each with its registered path: every socket on it shares that one string. */
  readonly #exact = new Map<string, { readonly path: string; readonly target: T }>();
  readonly #withParams: Route<T>[] = [];
  readonly #shapes = new Map<string, string>();

  constructor(baseUri: string) {
    this.#baseUri = baseUri.endsWith("/") ? baseUri.slice(0, -1) : baseUri;
  }

  /** Adds a namespace; throws a ConfigError when another one already has the same shape. */
  add(path: string, target: T): void {
    const segments = path.split("/");
    // "/a/:x" and "/a/:y" would match the same URLs, so they count as one path.
    const shape = segments.map((s) => (s.startsWith(":") ? ":" : s)).join("/");
    const clash = this.#shapes.get(shape);
    if (clash !== undefined) {
      throw new ConfigError(
        ConfigErrors.duplicatePath,
        `two handlers are registered on the path "${path}"${clash === path ? "" : ` (same as "${clash}")`}`,
      );
    }
    this.#shapes.set(shape, path);
    if (segments.some((s) => s.startsWith(":"))) {
      const names = segments.map((s) => (s.startsWith(":") ? s.slice(1) : undefined));
      this.#withParams.push({ path, segments, names, target });
    } else this.#exact.set(path, { path, target });
  }

  /**
   * Finds the target of a request URL, with its params; undefined when nothing matches. Segments
   * are compared %-decoded (clients encode "/café/" as "/caf%C3%A9/"), each on its own: an encoded
   * "/" never splits a segment.
   */
  match(url: string): { target: T; path: string; params: Params } | undefined {
    let path = stripQuery(url);
    if (this.#baseUri) {
      if (!path.startsWith(this.#baseUri) || path[this.#baseUri.length] !== "/") return undefined;
      path = path.slice(this.#baseUri.length);
    }
    const encoded = path.includes("%");
    const parts = encoded ? decodeSegments(path) : path.split("/");
    if (parts === undefined) return undefined; // malformed %-escape: no namespace can match it
    const key = !encoded ? path : parts.some((p) => p.includes("/")) ? undefined : parts.join("/");
    const exact = key === undefined ? undefined : this.#exact.get(key);
    // The registered string when it reads the same (not %-encoded): the request's own copy would
    // be kept by each socket (socket.path) for its whole life.
    if (exact !== undefined) return { target: exact.target, path: encoded ? path : exact.path, params: NO_PARAMS };
    for (const route of this.#withParams) {
      const params = matchSegments(route, parts);
      if (params) return { target: route.target, path, params };
    }
    return undefined;
  }
}

/**
 * A request URL without its query string.
 * @example
 * stripQuery("/chat/lobby?token=1"); // "/chat/lobby"
 */
export function stripQuery(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function decodeSegments(path: string): string[] | undefined {
  try {
    return path.split("/").map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function matchSegments(route: Route<unknown>, parts: readonly string[]): Params | undefined {
  const { segments, names } = route;
  if (segments.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < segments.length; i++) {
    const name = names[i];
    const part = parts[i] as string;
    if (name !== undefined) {
      if (part === "") return undefined;
      params[name] = part;
    } else if (segments[i] !== part) return undefined;
  }
  return params;
}
