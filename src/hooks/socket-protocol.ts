/**
 * How a handler class takes over what the server does with its sockets, without the server
 * importing the layer that does it (the message layer sits above the server). The class offers a
 * factory under the {@link socketProtocol} symbol; the server calls it once per namespace.
 */
import type { IncomingMessage } from "node:http";
import type { UpgradeRefusal } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ResolvedResumeOptions } from "../options/resume.js";
import type { Socket, SocketInit } from "../socket/socket.js";
import type { Message } from "../types.js";
import type { HandlerClass } from "./handler.js";

/**
 * Claims an inbound message before it joins the socket's ordered queue; returns true when it has
 * dealt with it. For frames that must not wait behind a running hook (replies to the server's own
 * requests, which that hook may be awaiting).
 * @example
 * const claim: MessageClaim = (socket, data, isBinary) => !isBinary && looksLikeReply(data) && settle(socket, data);
 */
export type MessageClaim = (socket: Socket, data: Buffer, isBinary: boolean) => boolean;

/**
 * What a namespace's sockets speak beyond raw messages.
 * @example
 * const protocol: SocketProtocol = { subprotocol: "tsws.v1", createSocket: (init) => new Socket(init) };
 */
export interface SocketProtocol {
  /** The WebSocket subprotocol selected when the client offers it. */
  readonly subprotocol: string;
  /**
   * Makes the namespace's socket (a Socket subclass with the protocol's methods); `req` is the
   * upgrade request, as {@link prepare} saw it.
   */
  createSocket(init: SocketInit, req: IncomingMessage): Socket;
  /**
   * Runs as the last step of the upgrade (after the HTTP middleware, so `req.user` and
   * `req.session` are set). The resumable sessions take their token here; a refusal it returns
   * answers the upgrade (503 when the session store failed, so that the client retries).
   */
  readonly prepare?: ((req: IncomingMessage) => UpgradeRefusal | undefined | Promise<UpgradeRefusal | undefined>) | undefined;
  /** Sees each inbound message first; see {@link MessageClaim}. */
  readonly claim?: MessageClaim;
  /**
   * Told when a socket of the namespace has closed, once, after its event queue was told and
   * before the connection's "close" listeners: what a listener per socket would do, without one.
   */
  readonly closed?: ((socket: Socket) => void) | undefined;
  /**
   * Told when the slow-consumer policy ("drop-newest", "drop-oldest") dropped message `data` of a
   * socket of the namespace, after the server counted and logged it. Resumable sessions close
   * the socket when the message was one of a stream (a drop would be a silent loss), so that the
   * client resumes and gets it from history.
   */
  readonly dropped?: ((socket: Socket, data: Message) => void) | undefined;
}

/**
 * What the factory is given: the server's logger, for faults of the protocol layer.
 * @example
 * const context: ProtocolContext = { logger: consoleLogger, closeTimeout: 10_000 };
 */
export interface ProtocolContext {
  readonly logger: Logger;
  /** The server making the namespace: the key its per-server parts (one per server, not per namespace) are kept under. */
  readonly server?: object | undefined;
  /** `createServer({ resume })`, validated, when resumable sessions are on. */
  readonly resume?: ResolvedResumeOptions | undefined;
  /** The server's `closeTimeout` (ms): how long a close the protocol forces waits for the closing handshake before it terminates. */
  readonly closeTimeout: number;
}

/** The static key under which a handler class offers its {@link SocketProtocol} factory. */
export const socketProtocol: unique symbol = Symbol("tswebsockets.socketProtocol");

/**
 * The protocol a handler class offers (called with the concrete class, so the factory can read
 * what the subclass declares), or undefined for a raw namespace.
 * @example
 * const protocol = socketProtocolOf(Chat, { logger, closeTimeout: 10_000 });
 */
export function socketProtocolOf(cls: HandlerClass, context: ProtocolContext): SocketProtocol | undefined {
  const make = (cls as { [socketProtocol]?: (cls: HandlerClass, context: ProtocolContext) => SocketProtocol })[socketProtocol];
  return typeof make === "function" ? make(cls, context) : undefined;
}
