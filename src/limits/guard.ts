import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { ForcedClose, type UpgradeRefusal } from "../errors.js";
import type { Connection, InboundCheck } from "../inbound/connection.js";
import type { Logger } from "../logger.js";
import { dropChannel, type HeartbeatMessage, heartbeatChannel, publishForcedClose } from "../observe/channels.js";
import { ControlKind, encodeControl } from "../protocol/frames.js";
import type { OutboundLimit, SlowConsumerPolicy } from "../socket/outbox.js";
import { outboxOf, type Socket, serverOf, terminate } from "../socket/socket.js";
import { ConnectionCaps } from "./connection-caps.js";
import { Heartbeat } from "./heartbeat.js";
import { type RateLimit, RateLimiter } from "./rate-limit.js";

/**
 * The limits a {@link Guard} applies (see `ServerOptions` for each one's meaning and default).
 * @example
 * const limits: GuardOptions = { maxConnections: 100, maxConnectionsPerAddress: 0, heartbeatInterval: 25_000, ... };
 */
export interface GuardOptions {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  readonly maxBufferedBytes: number;
  readonly slowConsumer: SlowConsumerPolicy;
  readonly rateLimit?: RateLimit | undefined;
  readonly closeTimeout: number;
}

const ALWAYS: InboundCheck = () => true;

/** Bytes a connection has received so far: a peer still sending is alive (see Heartbeat). */
const receivedBy = (connection: Connection): number => {
  const socket = connection.socket;
  return socket === undefined ? 0 : outboxOf(socket).bytesRead;
};

type ForcedCloseKind = (typeof ForcedClose)[keyof typeof ForcedClose];

/**
 * Applies a server's limits: refuses over-cap upgrades, pings sockets and terminates dead ones,
 * closes slow consumers and peers over their rate limit. Every refusal and every forced close is
 * logged once, with its stable code and reason.
 * @example
 * const guard = new Guard(resolveOptions({ maxConnections: 100 }), logger);
 * const refusal = guard.admit(req, raw);
 */
export class Guard {
  readonly outbound: OutboundLimit<Socket>;
  readonly #options: GuardOptions;
  readonly #logger: Logger;
  readonly #caps: ConnectionCaps;
  readonly #heartbeat: Heartbeat<Connection>;

  constructor(options: GuardOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#caps = new ConnectionCaps(options.maxConnections, options.maxConnectionsPerAddress);
    this.#heartbeat = new Heartbeat({
      interval: options.heartbeatInterval,
      timeout: options.heartbeatTimeout,
      onTimeout: this.#onHeartbeatTimeout,
      received: receivedBy,
      onRoundTrip: this.#onRoundTrip,
      onPing: pingIdle,
    });
    this.outbound = {
      maxBufferedBytes: options.maxBufferedBytes,
      policy: options.slowConsumer,
      onSlow: this.#onSlow,
      onDrop: this.#onDrop,
    };
  }

  /** Counts an upgrade against the connection caps, or says which cap it is over. */
  admit(req: IncomingMessage, raw: Duplex): UpgradeRefusal | undefined {
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

  /**
   * Starts the heartbeat for a socket that completed its handshake on `raw`, counts its close
   * (from now on through {@link forget}) against the caps, and returns the check for its inbound messages.
   */
  watch(socket: Socket, connection: Connection, raw: Duplex): InboundCheck {
    this.#heartbeat.add(connection);
    this.#caps.handOver(raw);
    const limit = this.#options.rateLimit;
    if (limit === undefined) return ALWAYS;
    const limiter = new RateLimiter(limit);
    return (size) => {
      if (limiter.allow(size)) return true;
      if (dropChannel.hasSubscribers) dropChannel.publish({ server: serverOf(socket), reason: "rate_limit", count: 1 });
      if (!socket.closed) this.#forceClose(socket, ForcedClose.rateLimit);
      return false;
    };
  }

  /** Call when a socket answers a ping. */
  pong(connection: Connection): void {
    this.#heartbeat.pong(connection);
  }

  /**
   * Call exactly once, when the socket has closed: it stops being pinged (the heartbeat holds no
   * closed socket) and stops counting against the caps.
   */
  forget(connection: Connection): void {
    this.#heartbeat.delete(connection);
    this.#caps.release();
  }

  /** Stops the heartbeat timer (at shutdown). */
  stop(): void {
    this.#heartbeat.stop();
  }

  #onHeartbeatTimeout = (connection: Connection): void => {
    const socket = connection.socket;
    if (socket === undefined) return void connection.terminate();
    this.#log(socket, ForcedClose.heartbeatTimeout);
    terminate(socket, ForcedClose.heartbeatTimeout.reason);
  };

  #onRoundTrip = (connection: Connection, ms: number): void => {
    const socket = connection.socket;
    if (socket !== undefined && heartbeatChannel.hasSubscribers) {
      heartbeatChannel.publish({ server: serverOf(socket), socket, ms } satisfies HeartbeatMessage);
    }
  };

  #onSlow = (socket: Socket): void => {
    this.#forceClose(socket, ForcedClose.slowConsumer);
  };

  #onDrop = (socket: Socket, total: number): void => {
    if (dropChannel.hasSubscribers) dropChannel.publish({ server: serverOf(socket), reason: "slow_consumer", count: 1 });
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
  #forceClose(socket: Socket, kind: ForcedCloseKind): void {
    this.#log(socket, kind);
    socket.close(kind.closeCode, kind.reason);
    setTimeout(() => terminate(socket, kind.reason), this.#options.closeTimeout).unref();
  }

  #log(socket: Socket, kind: ForcedCloseKind): void {
    this.#logger.info(
      { code: kind.code, closeCode: kind.closeCode, socket: socket.id, remoteAddress: socket.request.remoteAddress },
      `socket closed: ${kind.reason}`,
    );
    publishForcedClose(serverOf(socket), socket, kind);
  }
}

/** `[9,"ping"]`, encoded once. */
const APP_PING = encodeControl(ControlKind.PING);

/**
 * With each protocol ping, a tsws.v1 socket that was sent nothing since the last one also gets
 * `[9,"ping"]`: browsers answer protocol pings without telling the page, so this is what lets a
 * client notice a dead server. A socket that was written to costs nothing.
 */
function pingIdle(connection: Connection): void {
  const socket = connection.socket;
  if (socket === undefined) return;
  const outbox = outboxOf(socket);
  if (!outbox.negotiated || outbox.takeActivity()) return;
  void outbox.send(APP_PING);
  outbox.takeActivity(); // its own ping does not make the socket busy
}
