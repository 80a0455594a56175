import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { ResolvedOptions } from "./config.js";
import type { Connection } from "./connection.js";
import { ConnectionCaps } from "./connection-caps.js";
import { ForcedClose } from "./errors.js";
import { Heartbeat } from "./heartbeat.js";
import type { Logger } from "./logger.js";
import { RateLimiter } from "./rate-limit.js";
import { checkUpgradeRequest, type Malformed } from "./request-checks.js";
import type { OutboundLimit } from "./slow-consumer.js";
import type { Socket } from "./socket.js";

/**
 * Says whether an inbound message of `size` bytes may be handled.
 * @example
 * ws.on("message", (data) => { if (inbound(data.length)) queue.message(data) });
 */
export type InboundCheck = (size: number) => boolean;

const ALWAYS: InboundCheck = () => true;

/**
 * Applies a server's limits: refuses malformed or over-cap upgrades, pings sockets and terminates
 * dead ones, closes slow consumers and peers over their rate limit. Every refusal and every forced
 * close is logged once, with its stable code and reason.
 * @example
 * const guard = new Guard(resolveOptions({ maxConnections: 100 }), logger);
 * const refusal = guard.admit(req, raw);
 */
export class Guard {
  readonly outbound: OutboundLimit;
  readonly #options: ResolvedOptions;
  readonly #logger: Logger;
  readonly #caps: ConnectionCaps;
  readonly #heartbeat: Heartbeat;

  constructor(options: ResolvedOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#caps = new ConnectionCaps(options.maxConnections, options.maxConnectionsPerAddress);
    this.#heartbeat = new Heartbeat(options.heartbeatInterval, options.heartbeatTimeout, this.#onHeartbeatTimeout);
    this.outbound = {
      maxBufferedBytes: options.maxBufferedBytes,
      policy: options.slowConsumer,
      onSlow: this.#onSlow,
      onDrop: this.#onDrop,
    };
  }

  /** Checks an upgrade before any work is done for it: malformed requests first, then the caps. */
  admit(req: IncomingMessage, raw: Duplex): Malformed | undefined {
    const malformed = checkUpgradeRequest(req);
    if (malformed !== undefined) return malformed;
    const address = req.socket.remoteAddress ?? "";
    const over = this.#caps.admit(address, raw);
    if (over === undefined) return undefined;
    const perAddress = over.status === 429;
    return {
      kind: over,
      message: perAddress ? `too many connections from ${address}` : "too many connections",
      headers: { "Retry-After": "5" },
    };
  }

  /** Starts the heartbeat for a socket and returns the check for its inbound messages. */
  watch(socket: Socket, ws: WebSocket): InboundCheck {
    this.#heartbeat.add(ws);
    const limit = this.#options.rateLimit;
    if (limit === undefined) return ALWAYS;
    const limiter = new RateLimiter(limit);
    return (size) => {
      if (limiter.allow(size)) return true;
      if (!socket.closed) this.#forceClose(socket, ForcedClose.rateLimit);
      return false;
    };
  }

  /** Call when a socket answers a ping. */
  pong(ws: WebSocket): void {
    this.#heartbeat.pong(ws);
  }

  /** Call once the socket has closed: it stops being pinged, so the heartbeat holds no closed socket. */
  forget(ws: WebSocket): void {
    this.#heartbeat.delete(ws);
  }

  /** Stops the heartbeat timer (at shutdown). */
  stop(): void {
    this.#heartbeat.stop();
  }

  #onHeartbeatTimeout = (ws: WebSocket): void => {
    const socket = (ws as Connection).socket;
    if (socket === undefined) return void ws.terminate();
    this.#log(socket, ForcedClose.heartbeatTimeout);
    socket.terminate(ForcedClose.heartbeatTimeout.reason);
  };

  #onSlow = (socket: Socket): void => {
    this.#forceClose(socket, ForcedClose.slowConsumer);
  };

  #onDrop = (socket: Socket, total: number): void => {
    // One line per socket, at its first drop: a flood of drop logs would be its own slow consumer.
    if (total === 1) {
      this.#logger.warn(
        { code: ForcedClose.slowConsumer.code, socket: socket.id, policy: this.#options.slowConsumer },
        "slow consumer: dropping messages",
      );
    }
  };

  /**
   * Closes with the kind's code and reason; a peer that does not complete the closing handshake
   * within `closeTimeout` (a stalled reader never sees the close frame) is terminated.
   */
  #forceClose(socket: Socket, kind: (typeof ForcedClose)[keyof typeof ForcedClose]): void {
    this.#log(socket, kind);
    socket.close(kind.closeCode, kind.reason);
    setTimeout(() => socket.terminate(kind.reason), this.#options.closeTimeout).unref();
  }

  #log(socket: Socket, kind: (typeof ForcedClose)[keyof typeof ForcedClose]): void {
    this.#logger.info(
      { code: kind.code, closeCode: kind.closeCode, socket: socket.id, remoteAddress: socket.request.remoteAddress },
      `socket closed: ${kind.reason}`,
    );
  }
}
