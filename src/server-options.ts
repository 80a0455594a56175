import type { Server as HttpServer } from "node:http";
import type { Adapter } from "./cluster/adapter.js";
import type { HandlerClass } from "./hooks/handler.js";
import type { RateLimit } from "./limits/rate-limit.js";
import { consoleLogger, type Logger } from "./logger.js";
import { type ResolvedResumeOptions, type ResumeOptions, resolveResumeOptions } from "./options/resume.js";
import { type Checks, hasMethods, isArrayOf, isFn, isInt, isStr, validate } from "./options/validate.js";
import { decoratedHandlers } from "./routing/namespace.js";
import type { SlowConsumerPolicy } from "./socket/outbox.js";
import type { Middleware } from "./upgrade/step-source.js";

/**
 * Options of `createServer`. Every option is optional; defaults are documented per option, and
 * an explicit `undefined` means the default (also under `exactOptionalPropertyTypes`).
 * @example
 * createServer({ handlers: [Chat], port: 0, baseUri: "/ws" })
 */
export interface ServerOptions {
  /** Handler classes to serve. Default: every class decorated with `@Namespace` so far. */
  handlers?: readonly HandlerClass[] | undefined;
  /** Host to listen on in standalone mode. Default: `WEBSOCKET_HOST`, else "localhost". */
  host?: string | undefined;
  /** Port to listen on in standalone mode; 0 picks a free one. Default: `WEBSOCKET_PORT`, else 8001. */
  port?: number | undefined;
  /** A prefix before every namespace path, e.g. "/ws". Default: `WEBSOCKET_BASE_URI`, else "". */
  baseUri?: string | undefined;
  /** An existing HTTP server to share (attach mode); `listen()` is then not needed. */
  server?: HttpServer | undefined;
  /** Connect-style middleware run on the upgrade request for handlers with `HttpMiddlewareMixin`. */
  middleware?: readonly Middleware[] | undefined;
  /** Carries rooms and direct sends between nodes. Default: the in-memory adapter (one node). */
  adapter?: Adapter | undefined;
  /** A pino-compatible logger. Default: errors and warnings to stderr. */
  logger?: Logger | undefined;
  /** Messages that may wait while a hook runs before reading from that socket pauses. Default 1024. */
  maxPendingMessages?: number | undefined;
  /** Largest message accepted, in bytes; larger ones close the socket with 1009. Default 1 MiB. */
  maxPayload?: number | undefined;
  /** Milliseconds `close()` waits for sockets to flush and close before terminating them. Default 10 000. */
  closeTimeout?: number | undefined;
  /** Milliseconds the upgrade (middleware included) may take before a 503. Default 10 000. */
  handshakeTimeout?: number | undefined;
  /** Origins allowed to connect, e.g. "https://app.example.com" or "https://*.example.com". */
  allowedOrigins?: string[] | undefined;
  /** Accept permessage-deflate (compression); `maxPayload` then applies after inflation. Default false. */
  perMessageDeflate?: boolean | undefined;
  /** Milliseconds between protocol pings to each socket; 0 turns the heartbeat off. Default 25 000. */
  heartbeatInterval?: number | undefined;
  /** Milliseconds a peer may take to answer a ping before it is terminated ("heartbeat timeout"). Default 20 000. */
  heartbeatTimeout?: number | undefined;
  /** Bytes a socket may have waiting to be sent before `slowConsumer` applies. Default 1 MiB. */
  maxBufferedBytes?: number | undefined;
  /** What happens past `maxBufferedBytes`: "close" (1008 "slow consumer"), "drop-newest" or "drop-oldest". Default "close". */
  slowConsumer?: SlowConsumerPolicy | undefined;
  /** Inbound messages and bytes each socket may send per second; past it: 1008 "rate limit". Default: off. */
  rateLimit?: RateLimit | undefined;
  /** Open sockets (and handshakes in progress) this node accepts; past it upgrades get 503. Default 10 000. */
  maxConnections?: number | undefined;
  /** The same cap per client address (429); 0 turns it off. Default 0 (off: behind a proxy every client shares one address). */
  maxConnectionsPerAddress?: number | undefined;
  /**
   * Resumable sessions for namespaces of the message layer (`events()`): `{ ttl, history: { size, ttl } }`,
   * times in ms, each from 1 000 to 86 400 000 (defaults 120 000; 100 messages, 300 000). `true`
   * is `{}` (the defaults); off when absent or `false`. See docs/resume.md.
   */
  resume?: ResumeOptions | boolean | undefined;
}

/** Options after defaults and environment variables were applied. */
export type ResolvedOptions = {
  readonly [K in Exclude<keyof ServerOptions, Optional | "resume">]-?: Exclude<ServerOptions[K], undefined>;
} & { readonly [K in Optional]?: Exclude<ServerOptions[K], undefined> | undefined } & {
  readonly resume?: ResolvedResumeOptions | undefined;
};

/** The options that stay unset when not given (no default value). */
type Optional = "server" | "adapter" | "allowedOrigins" | "rateLimit";

/** "scheme://host[:port]", where the host may start with "*." (no path: an Origin header never has one). */
const isOrigin = (v: unknown) => isStr(v) && /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[^/?#*\s]+$/i.test(v as string);

/** Each option's check and how the TypeError describes what it accepts. */
const checks: Checks<ServerOptions> = {
  handlers: [isArrayOf(isFn), "an array of handler classes"],
  host: [isStr, "a host name or IP address string"],
  port: [isInt(0, 65535), "an integer from 0 to 65535"],
  baseUri: [(v) => isStr(v) && (v === "" || (v as string).startsWith("/")), 'a path starting with "/" or ""'],
  server: [hasMethods("on", "listeners"), "an http.Server (or https.Server)"],
  middleware: [isArrayOf(isFn), "an array of (req, res, next) functions"],
  adapter: [hasMethods("start", "publish", "join", "leave", "members", "stop"), "an Adapter"],
  logger: [hasMethods("error", "warn", "info", "debug"), "a logger with error, warn, info and debug methods"],
  maxPendingMessages: [isInt(1), "an integer of 1 or more"],
  maxPayload: [isInt(1), "a number of bytes, 1 or more"],
  closeTimeout: [isInt(0), "a number of milliseconds, 0 or more"],
  handshakeTimeout: [isInt(1), "a number of milliseconds, 1 or more"],
  allowedOrigins: [isArrayOf(isOrigin), 'an array of origins such as "https://example.com" or "https://*.example.com"'],
  perMessageDeflate: [(v) => typeof v === "boolean", "true or false"],
  heartbeatInterval: [isInt(0), "a number of milliseconds, 0 (off) or more"],
  heartbeatTimeout: [isInt(1), "a number of milliseconds, 1 or more"],
  maxBufferedBytes: [isInt(1), "a number of bytes, 1 or more"],
  slowConsumer: [(v) => v === "close" || v === "drop-newest" || v === "drop-oldest", '"close", "drop-newest" or "drop-oldest"'],
  rateLimit: [isRateLimit, "{ messagesPerSecond?, bytesPerSecond? } with positive integers"],
  maxConnections: [isInt(1), "an integer of 1 or more"],
  maxConnectionsPerAddress: [isInt(0), "an integer, 0 (off) or more"],
  // Checked in depth by resolveResumeOptions, which names the nested option in its TypeError.
  resume: [
    (v) => typeof v === "boolean" || (typeof v === "object" && v !== null && !Array.isArray(v)),
    "true, false or an object { ttl?, history? }",
  ],
};

/** Validates options and applies defaults; throws a TypeError naming the faulty option. */
export function resolveOptions(options: ServerOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  validate(checks, options, "createServer(options)");
  const envPort = env.WEBSOCKET_PORT;
  if (envPort !== undefined && options.port === undefined && !/^\d+$/.test(envPort)) {
    throw new TypeError(`WEBSOCKET_PORT must be an integer from 0 to 65535, got ${JSON.stringify(envPort)}`);
  }
  const resolved = {
    handlers: options.handlers ?? decoratedHandlers(),
    host: options.host ?? env.WEBSOCKET_HOST ?? "localhost",
    port: options.port ?? (envPort !== undefined ? Number(envPort) : 8001),
    baseUri: options.baseUri ?? env.WEBSOCKET_BASE_URI ?? "",
    server: options.server,
    middleware: options.middleware ?? [],
    adapter: options.adapter,
    logger: options.logger ?? consoleLogger,
    maxPendingMessages: options.maxPendingMessages ?? 1024,
    maxPayload: options.maxPayload ?? 1024 * 1024,
    closeTimeout: options.closeTimeout ?? 10_000,
    handshakeTimeout: options.handshakeTimeout ?? 10_000,
    allowedOrigins: options.allowedOrigins,
    perMessageDeflate: options.perMessageDeflate ?? false,
    heartbeatInterval: options.heartbeatInterval ?? 25_000,
    heartbeatTimeout: options.heartbeatTimeout ?? 20_000,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    slowConsumer: options.slowConsumer ?? "close",
    rateLimit: options.rateLimit,
    maxConnections: options.maxConnections ?? 10_000,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 0,
    resume:
      options.resume === undefined || options.resume === false
        ? undefined
        : resolveResumeOptions(options.resume === true ? {} : options.resume),
  };
  if (!checks.port[0](resolved.port)) throw new TypeError(`WEBSOCKET_PORT must be an integer from 0 to 65535, got ${envPort}`);
  if (!checks.baseUri[0](resolved.baseUri)) throw new TypeError(`WEBSOCKET_BASE_URI must be ${checks.baseUri[1]}`);
  return resolved as ResolvedOptions;
}

function isRateLimit(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const entries = Object.entries(v);
  return entries.length > 0 && entries.every(([k, n]) => (k === "messagesPerSecond" || k === "bytesPerSecond") && isInt(1)(n));
}
