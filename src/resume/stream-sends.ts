/**
 * How a resumable namespace's sends become numbered stream messages: a room broadcast is appended
 * to the room's history and sent as one push frame; one emit to several rooms is a copy per room
 * with a shared message id; a direct message (`socket.emit`, `server.sendTo` of an event frame) is
 * appended to the session's inbox, wherever the session is. What history cannot keep (raw frames)
 * goes out live, with one warning per kind.
 */
import { randomBytes } from "node:crypto";
import type { LocalNode, SendToOp } from "../cluster/local-node.js";
import type { RoomHistory } from "../events/operator.js";
import type { Logger } from "../logger.js";
import type { Room, SocketId } from "../types.js";
import type { ResumeBackend } from "./backend.js";
import { type Awaitable, eventPushBody, inboxStream, pushFrame, roomStream, type StreamPosition } from "./history-log.js";
import { SocketSession } from "./socket-session.js";
import { when } from "./when.js";

/**
 * The runtime's numbering of sends (one per server).
 * @example
 * const sends = new StreamSends(node, backend, logger, (sid) => runtime.current(sid));
 * sends.emitToRoom("lobby", [], pushBody("message", { text: "hi" }), () => encodeEvent("message", { text: "hi" }));
 */
export class StreamSends implements RoomHistory {
  readonly #node: LocalNode;
  readonly #backend: ResumeBackend;
  readonly #logger: Logger;
  readonly #current: (sid: SocketId) => SocketSession | undefined;
  /** Message ids of emits to several rooms: see {@link messageId}. */
  readonly #idPrefix = randomBytes(6).toString("base64url");
  #idCount = 0;
  /** The kinds of broadcast history does not keep that were warned about (once each; see {@link notKept}). */
  readonly #warnedNotKept = new Set<string>();

  /** @param current the live session of `sid` on this node, if any */
  constructor(node: LocalNode, backend: ResumeBackend, logger: Logger, current: (sid: SocketId) => SocketSession | undefined) {
    this.#node = node;
    this.#backend = backend;
    this.#logger = logger;
    this.#current = current;
  }

  /**
   * `server.to(room).emit(...)` of a resumable namespace: numbered in the room's history, then
   * broadcast as one push frame (the same bytes for every receiver, on every node).
   */
  emitToRoom(room: Room, except: readonly SocketId[], body: string, plain: () => string): void {
    const stream = roomStream(room);
    when(
      this.#backend.history.append(stream, body, except.length > 0 ? except : undefined),
      (pos) => this.#node.dispatch({ type: "broadcast", rooms: [room], except, data: pushFrame(stream, pos.seq, body), epoch: pos.epoch }),
      (error) => {
        // History unreachable: the message still goes out live, without a number (not replayable;
        // a member of several rooms of one emit may then get it twice, once without an id).
        this.#logger.warn({ err: error, room }, "resume: could not append to a room's history; sent without history");
        this.#node.dispatch({ type: "broadcast", rooms: [room], except, data: plain() });
      },
    );
  }

  /**
   * A message id for an emit to several rooms: this runtime's random prefix (48 bits, so ids of
   * different nodes do not meet) and a counter, e.g. "Qx3f_k2a.1z".
   */
  messageId(): string {
    return `${this.#idPrefix}.${(++this.#idCount).toString(36)}`;
  }

  /**
   * A broadcast of a resumable namespace that history does not keep (a raw frame): live only, so
   * a client away then misses it without a `gap`.
   * Warned once per kind, with what to do instead.
   */
  notKept(what: string): void {
    if (this.#warnedNotKept.has(what)) return;
    this.#warnedNotKept.add(what);
    this.#logger.warn(
      { broadcast: what },
      `resume: ${what} is sent live only, not kept in history: a client away at the time misses it without a gap; send events with to(room).emit to keep them (warned once)`,
    );
  }

  /**
   * `server.sendTo(id, frame)` of a tsws.v1 event frame to a resumable session: numbered in the
   * session's inbox as `socket.emit` is, so a resume replays it, also while the session is away.
   * With a store shared by nodes (Redis) a session with no socket here is appended in one step with
   * a look-up of its node (the backend's `inbox` route), which is handed the numbered message; an
   * id the store does not know goes on as a plain sendTo. In memory it is kept when the store holds
   * the session. Binary data and other text go as before: live only.
   */
  sendTo(op: SendToOp, origin: "local" | "remote"): boolean {
    if (typeof op.data !== "string") return false;
    const socket = this.#node.get(op.id);
    const session = (socket as { resume?: unknown } | undefined)?.resume;
    const route = this.#backend.inbox;
    if (
      socket !== undefined
        ? !(session instanceof SocketSession)
        : route === undefined && (origin !== "local" || this.#backend.sessions.holds?.(op.id) !== true)
    ) {
      return false;
    }
    const body = eventPushBody(op.data);
    if (body === undefined) return false;
    if (session instanceof SocketSession) {
      session.emit(body);
      return true;
    }
    if (route !== undefined) {
      when(
        route.deliver(op.id, body, false),
        (delivery) => {
          // Not a session the store knows: a plain sendTo, routed as usual (a remote one was already routed here).
          if (delivery.kind === "none" && origin === "local") this.#node.adapter.publish(op);
          // Appended after this node took the session: its socket here may have missed it.
          else if (delivery.kind === "appended" && !delivery.elsewhere) this.#current(op.id)?.appended(delivery.pos, body);
        },
        (error) => this.#logger.error({ err: error, socket: op.id }, "resume: a direct message could not be routed or kept; not sent"),
      );
      return true;
    }
    when(
      this.#backend.history.append(inboxStream(op.id), body),
      () => {},
      (error) => this.#logger.error({ err: error, socket: op.id }, "resume: a direct message could not be kept in the inbox; not sent"),
    );
    return true;
  }

  /**
   * Appends a direct message of this node's socket of `sid` to the session's inbox; undefined when
   * another node holds the session now (a store shared by nodes handed it the message).
   */
  appendInbox(sid: SocketId, body: string): Awaitable<StreamPosition | undefined> {
    const route = this.#backend.inbox;
    if (route === undefined) return this.#backend.history.append(inboxStream(sid), body);
    return Promise.resolve(route.deliver(sid, body, true)).then((delivery) =>
      delivery.kind === "appended" && !delivery.elsewhere ? delivery.pos : undefined,
    );
  }
}
