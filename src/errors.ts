/**
 * Every error tswebsockets raises, in one place, each with a stable `code`.
 * Errors met during a handshake map to an HTTP `status`; errors met on an open socket map to a
 * WebSocket `closeCode`. Codes never change meaning: applications may match on them.
 */

/**
 * Close codes used by the library (RFC 6455 §7.4 and the 4000–4999 application range).
 * @example
 * ws.on("close", (code) => { if (code === CloseCode.sessionEnded) showLogin() });
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  sessionEnded: 4401,
} as const;

/**
 * The message of anything thrown: an Error's `message`, else the value as a string.
 * @example
 * logger.error({ err }, `the command failed: ${messageOf(err)}`);
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Whether a close frame may carry `code` (RFC 6455 §7.4): ws throws on any other.
 * @example
 * socket.close(isValidCloseCode(code) ? code : CloseCode.policyViolation, reason);
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** The most bytes a close reason may take: a control frame's payload is 125 bytes, 2 go to the code. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A close reason cut to 123 bytes of UTF-8 in one pass, never inside a character: ws throws on a
 * longer one, and a reason comes from application code (a long `MixinFail` message, say).
 * @example
 * closeReasonOf("é".repeat(100)); // 61 "é", 122 bytes
 */
export function closeReasonOf(reason: string): string {
  // Each UTF-16 unit takes at most 3 bytes: short strings need no measuring.
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
  // 123 bytes never need more than 123 units: encode only those, however long the reason.
  const head = reason.slice(0, MAX_CLOSE_REASON_BYTES);
  const bytes = Buffer.from(head);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return head;
  let end = MAX_CLOSE_REASON_BYTES;
  // Back up over continuation bytes (10xxxxxx) when the cut falls inside a character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.toString("utf8", 0, end);
}

/**
 * The base of every tswebsockets error.
 * @example
 * try { createServer({ port: -1 }) } catch (e) { if (e instanceof TsWebSocketError) console.log(e.code) }
 */
export class TsWebSocketError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A configuration mistake found at `createServer`: two handlers on one path, a class without
 * `@Namespace`. (A wrong option type is a plain `TypeError`.)
 * @example
 * new ConfigError("TSWS_DUPLICATE_PATH", 'two handlers are registered on "/chat/"');
 */
export class ConfigError extends TsWebSocketError {}

/**
 * Stable codes of {@link ConfigError}s, thrown by `createServer` and `@Namespace`.
 * @example
 * try { createServer({ handlers: [] }) } catch (e) { if (e.code === ConfigErrors.noHandlers) usage() }
 */
export const ConfigErrors = {
  /** `createServer` found no handler class (none passed, none decorated). */
  noHandlers: "TSWS_NO_HANDLERS",
  /** A class in `handlers` was never given a path (`@Namespace(path)` or `namespace(path, cls)`). */
  notANamespace: "TSWS_NOT_A_NAMESPACE",
  /** Two handlers on one path, or on paths that match the same URLs ("/a/:x" and "/a/:y"). */
  duplicatePath: "TSWS_DUPLICATE_PATH",
  /** A hook (`onConnect`, `onMessage`, `onClose`) written as an instance method: hooks are static. */
  instanceHook: "TSWS_INSTANCE_HOOK",
  /** `listen()` in attach mode: the HTTP server given as `server` did not start listening in time. */
  notListening: "TSWS_NOT_LISTENING",
  /** `listen()` could not bind `host`/`port` (in use, or not allowed). */
  cannotListen: "TSWS_CANNOT_LISTEN",
} as const;

/**
 * Stable codes of {@link AdapterError}s.
 * @example
 * server.listen().catch((e) => { if (e.code === AdapterErrors.redisUnreachable) retryLater() });
 */
export const AdapterErrors = {
  /** The Redis adapter could not reach Redis when the server started; the message says why. */
  redisUnreachable: "TSWS_REDIS_UNREACHABLE",
  /** Redis was reachable but refused a command that spans hash slots (CROSSSLOT): the classic mode on a Redis Cluster; use `{ sharded: true }`. */
  redisCrossSlot: "TSWS_REDIS_CROSSSLOT",
  /** Redis was reachable but refused or failed a command at start (a wrong password, a read-only replica, a missing command); the message says which. */
  redisRefused: "TSWS_REDIS_REFUSED",
} as const;

/**
 * Stable codes of handshake refusals, with their HTTP status. Every refusal is logged (at info)
 * with its `code`, so logs can be matched on it.
 * @example
 * logger.info = (obj) => { if (obj.code === Refusal.tooManyFromAddress.code) metrics.refusedPerAddress++ };
 */
export const Refusal = {
  notFound: { code: "TSWS_NOT_FOUND", status: 404 },
  shuttingDown: { code: "TSWS_SHUTTING_DOWN", status: 503 },
  /** The cluster adapter has not started yet, or failed to (attach mode accepts upgrades before `listen()`). */
  adapterDown: { code: "TSWS_ADAPTER_DOWN", status: 503 },
  /**
   * Resumable sessions: the session store failed while taking the offered resume token (Redis
   * unreachable, a Cluster failover). Answered with `Retry-After`: the client retries with the same
   * token and resumes once the store answers, instead of starting a fresh session.
   */
  sessionStoreDown: { code: "TSWS_SESSION_STORE_DOWN", status: 503 },
  forbiddenOrigin: { code: "TSWS_FORBIDDEN_ORIGIN", status: 403 },
  /** A middleware answered `next(err)` or threw; the status is the error's (`status`/`statusCode`), else 500. */
  middlewareRefused: { code: "TSWS_MIDDLEWARE_REFUSED", status: 500 },
  badRequest: { code: "TSWS_BAD_REQUEST", status: 400 },
  methodNotAllowed: { code: "TSWS_METHOD_NOT_ALLOWED", status: 405 },
  badKey: { code: "TSWS_BAD_KEY", status: 400 },
  unsupportedVersion: { code: "TSWS_UNSUPPORTED_VERSION", status: 426 },
  headersTooLarge: { code: "TSWS_HEADERS_TOO_LARGE", status: 431 },
  requestTimeout: { code: "TSWS_REQUEST_TIMEOUT", status: 408 },
  handshakeTimeout: { code: "TSWS_HANDSHAKE_TIMEOUT", status: 503 },
  tooManyConnections: { code: "TSWS_TOO_MANY_CONNECTIONS", status: 503 },
  tooManyFromAddress: { code: "TSWS_TOO_MANY_FROM_ADDRESS", status: 429 },
} as const satisfies Record<string, RefusalKind>;

/**
 * One kind of handshake refusal: its stable code and the HTTP status answered.
 * @example
 * const kind: RefusalKind = Refusal.notFound; // { code: "TSWS_NOT_FOUND", status: 404 }
 */
export interface RefusalKind {
  readonly code: string;
  readonly status: number;
}

/**
 * Why an upgrade is refused: its kind (stable code and HTTP status), the message sent in the
 * answer's body and logged, and any extra response headers (`Retry-After`, `Allow`…).
 * @example
 * const refused: UpgradeRefusal = { kind: Refusal.notFound, message: "no WebSocket namespace at /x" };
 */
export interface UpgradeRefusal {
  readonly kind: RefusalKind;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

/**
 * Stable codes of sockets the server closes on its own, with the close code sent and the reason
 * that `socket.closeReason` and the log carry. `closeCode` 1006 means no close frame is sent: the
 * connection is dropped (the peer is gone or not reading).
 * @example
 * if (socket.closeReason === ForcedClose.heartbeatTimeout.reason) metrics.deadPeers++;
 */
export const ForcedClose = {
  heartbeatTimeout: { code: "TSWS_HEARTBEAT_TIMEOUT", closeCode: 1006, reason: "heartbeat timeout" },
  slowConsumer: { code: "TSWS_SLOW_CONSUMER", closeCode: CloseCode.policyViolation, reason: "slow consumer" },
  rateLimit: { code: "TSWS_RATE_LIMIT", closeCode: CloseCode.policyViolation, reason: "rate limit" },
  messageTooBig: { code: "TSWS_MESSAGE_TOO_BIG", closeCode: CloseCode.messageTooBig, reason: "message too big" },
  invalidPayload: { code: "TSWS_INVALID_PAYLOAD", closeCode: CloseCode.invalidPayload, reason: "invalid UTF-8" },
  protocolError: { code: "TSWS_PROTOCOL_ERROR", closeCode: CloseCode.protocolError, reason: "protocol error" },
  /**
   * Dropped by ws itself: the peer sent pings faster than it read the pongs (ws's
   * `maxPendingAutoPongs`, 60 unsent pongs). Attributed and logged like the server's own closes.
   */
  pingFlood: { code: "TSWS_PING_FLOOD", closeCode: 1006, reason: "ping flood" },
  /** A hook threw or rejected with something other than a {@link MixinFail}: logged with the error. */
  hookFailed: { code: "TSWS_HOOK_FAILED", closeCode: CloseCode.internalError, reason: "internal error" },
  /** A hook threw a {@link MixinFail}: the close code and reason are the MixinFail's own. */
  blockedByMixin: { code: "TSWS_BLOCKED_BY_MIXIN", closeCode: CloseCode.policyViolation, reason: "blocked" },
} as const satisfies Record<string, { code: string; closeCode: number; reason: string }>;

/**
 * A cluster adapter could not do its job, e.g. Redis unreachable when the server starts
 * (`TSWS_REDIS_UNREACHABLE`, which makes `listen()` reject).
 * @example
 * try { await server.listen() } catch (e) { if (e instanceof AdapterError) process.exit(1) }
 */
export class AdapterError extends TsWebSocketError {}

/**
 * Thrown by a hook to stop the chain: later mixins and the handler do not run, and the socket is
 * closed with `closeCode` (default 1008, policy violation) and `reason` (cut to 123 bytes).
 * @example
 * if (!socket.user) throw new MixinFail("login required");
 * throw new MixinFail("wrong room", 4404);
 */
export class MixinFail extends Error {
  /** The close code sent to the peer. */
  readonly closeCode: number;
  readonly reason: string;
  constructor(reason: string, closeCode: number = CloseCode.policyViolation) {
    super(reason);
    this.name = "MixinFail";
    this.reason = reason;
    this.closeCode = closeCode;
  }
  /** The close code: the name this property had first (an alias of {@link MixinFail.closeCode}). */
  get code(): number {
    return this.closeCode;
  }
}

/**
 * A test client's upgrade was answered with an HTTP response instead of a handshake (thrown by
 * `testClient()` of `tswebsockets/testing`): `status` is the response's status, `body` its text
 * (the refusal's message: say, `origin https://evil.example is not allowed`).
 * @example
 * await assert.rejects(testClient(server, "/chat", { headers: { origin: "https://evil.example" } }), { status: 403 });
 */
export class UpgradeRefused extends TsWebSocketError {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  constructor(status: number, body: string, headers: Readonly<Record<string, string | string[] | undefined>> = {}) {
    super("TSWS_UPGRADE_REFUSED", `the upgrade was refused with ${status}${body === "" ? "" : `: ${body}`}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}
