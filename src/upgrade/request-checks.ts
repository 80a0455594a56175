import type { IncomingMessage } from "node:http";
import type { Socket as NetSocket } from "node:net";
import * as ws from "ws";
import { Refusal, type UpgradeRefusal } from "../errors.js";
import type { Logger } from "../logger.js";
import { refuseUpgrade } from "./refuse.js";

/** Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455 §4.1). */
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** Versions of the protocol this server speaks, as the 426 answer lists them. */
const SUPPORTED_VERSIONS = "13";

/**
 * Checks an upgrade request before anything else runs, so each kind of malformed request gets its
 * own status: 405 for a method other than GET, 400 for a missing or malformed key, 426 (with
 * `Sec-WebSocket-Version: 13`) for a version this server does not speak, 400 for a
 * Sec-WebSocket-Protocol header ws would refuse (a name offered twice, a character a token cannot
 * hold): refused here, before the app's middleware and the resume token's take run, not by ws
 * after them (a token taken for an upgrade ws then refused was spent, and its session's open
 * connection closed). With `deflate` (permessage-deflate on, and the server's `maxPayload` in
 * bytes), a Sec-WebSocket-Extensions header ws would refuse is a 400 here too, found by ws' own
 * parser and negotiation.
 * @example
 * const bad = checkUpgradeRequest(req, { maxPayload: 1_048_576 });
 * if (bad) refuseUpgrade(raw, bad.kind.status, bad.message, bad.headers);
 */
export function checkUpgradeRequest(req: IncomingMessage, deflate?: { readonly maxPayload: number }): UpgradeRefusal | undefined {
  if (req.method !== "GET")
    return { kind: Refusal.methodNotAllowed, message: "a WebSocket upgrade must be a GET request", headers: { Allow: "GET" } };
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket")
    return { kind: Refusal.badRequest, message: "the Upgrade header must be websocket" };
  const key = req.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) return { kind: Refusal.badKey, message: "missing or malformed Sec-WebSocket-Key header" };
  if (req.headers["sec-websocket-version"] !== SUPPORTED_VERSIONS) {
    return {
      kind: Refusal.unsupportedVersion,
      message: `unsupported WebSocket version; supported: ${SUPPORTED_VERSIONS}`,
      headers: { "Sec-WebSocket-Version": SUPPORTED_VERSIONS },
    };
  }
  const protocols = req.headers["sec-websocket-protocol"];
  if (protocols !== undefined && !wellFormedProtocols(protocols)) {
    return {
      kind: Refusal.badRequest,
      message: "malformed Sec-WebSocket-Protocol header (expected distinct subprotocol names separated by commas)",
    };
  }
  const extensions = req.headers["sec-websocket-extensions"];
  if (deflate !== undefined && extensions !== undefined && !acceptableExtensions(extensions, deflate.maxPayload)) {
    return {
      kind: Refusal.badRequest,
      message: "malformed or unacceptable Sec-WebSocket-Extensions header (RFC 6455 §9.1; permessage-deflate parameters per RFC 7692 §7.1)",
    };
  }
  return undefined;
}

/** Named exports of ws' ES module that its type declarations leave out (ws 8: `subprotocol`, `extension`, `PerMessageDeflate`). */
interface WsParsers {
  readonly subprotocol: { parse(header: string): Set<string> };
  readonly extension: { parse(header: string): Record<string, Record<string, unknown>[]> };
  readonly PerMessageDeflate: {
    readonly extensionName: string;
    new (options: { isServer: boolean; maxPayload: number }): { accept(offers: Record<string, unknown>[]): unknown };
  };
}

/**
 * Looked up once, at load: were they ever missing (another ws), every upgrade offering a
 * subprotocol or permessage-deflate would be refused below, so the server fails to start instead.
 */
const { subprotocol, extension, PerMessageDeflate } = ws as unknown as WsParsers;
if (typeof subprotocol?.parse !== "function" || typeof extension?.parse !== "function" || typeof PerMessageDeflate !== "function") {
  throw new Error("tswebsockets: ws no longer exports subprotocol, extension and PerMessageDeflate (ws 8 does); check the ws version");
}

/** Whether ws will accept this Sec-WebSocket-Protocol value (Node joins repeated headers with ", "): its own parser. */
function wellFormedProtocols(value: string): boolean {
  try {
    subprotocol.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** Whether ws will accept this Sec-WebSocket-Extensions value: what its server runs, with what it throws on. */
function acceptableExtensions(value: string, maxPayload: number): boolean {
  try {
    const offers = extension.parse(value)[PerMessageDeflate.extensionName];
    if (offers !== undefined) new PerMessageDeflate({ isServer: true, maxPayload }).accept(offers);
    return true;
  } catch {
    return false;
  }
}

/**
 * Answers requests Node's HTTP parser rejected (headers too large, malformed, too slow) with a
 * status instead of a silent drop, logs each once, and frees the socket. Installed on the
 * standalone server only: an application's own server keeps its own `clientError` policy.
 * @example
 * http.on("clientError", answerClientError(logger));
 */
export function answerClientError(logger: Logger): (error: NodeJS.ErrnoException, socket: NetSocket) => void {
  return (error, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const kind =
      error.code === "HPE_HEADER_OVERFLOW"
        ? Refusal.headersTooLarge
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? Refusal.requestTimeout
          : Refusal.badRequest;
    logger.info(
      { code: kind.code, status: kind.status, parserError: error.code, remoteAddress: socket.remoteAddress },
      `request refused: ${error.message}`,
    );
    refuseUpgrade(socket, kind.status, kind === Refusal.badRequest ? "malformed HTTP request" : error.message);
  };
}
