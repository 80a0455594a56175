/**
 * The inbox of one socket's resumable session, live: direct messages numbered in the session's
 * inbox stream are written to the socket in seq order, each once. A message whose seq skips one
 * (another node appended it, and its notice is late or lost) waits while the hole is read from
 * history; one that arrives during a resume's replay goes to the replay's buffer; a duplicate is
 * dropped. socket-session.ts owns the session; this file holds only the inbox's delivery.
 */
import type { Logger } from "../logger.js";
import { ControlKind, encodeControl } from "../protocol/index.js";
import type { Socket } from "../socket/socket.js";
import { admitLive, fillFrames } from "./gap-plan.js";
import { type HistoryLog, type HistoryWindow, inboxStream, type StreamName, type StreamPosition } from "./history-log.js";

/**
 * A numbered message waiting to be written (in a replay's buffer, or behind an inbox hole).
 * @example
 * const item: Buffered = { stream: "inbox:s1", seq: 3, epoch: "e1", frame: '[4,"inbox:s1",3,"dm",{}]' };
 */
export interface Buffered {
  readonly stream: StreamName;
  readonly seq: number;
  readonly epoch: string;
  readonly frame: string;
}

/**
 * What the inbox needs of its session.
 * @example
 * const host: InboxHost = { socket, sid, history, size: 100, logger, holdForReplay: () => false, closeToResume: (r) => socket.close(1011, r) };
 */
export interface InboxHost {
  readonly socket: Socket;
  readonly sid: string;
  readonly history: HistoryLog;
  /** The most messages one history read returns (the history's size). */
  readonly size: number;
  readonly logger: Logger;
  /** Takes `item` into the buffer of a replay under way, if one is: true when it did. */
  holdForReplay(item: Buffered): boolean;
  /** The inbox cannot be written in order (a hole it could not read): close so that the client resumes. */
  closeToResume(reason: string): void;
}

/**
 * The inbox delivery of one socket.
 * @example
 * const inbox = new SessionInbox(host, record.positions[inboxStream(sid)]);
 * inbox.offer({ seq: 4, epoch: "e1" }, frame); // written now, held, or dropped as a duplicate
 */
export class SessionInbox {
  /** The last inbox message written to the socket (or replayed); undefined before the first. */
  position: StreamPosition | undefined;
  readonly #host: InboxHost;
  /** Messages waiting while a hole in the inbox is read from history (see {@link offer}). */
  #filling: Buffered[] | undefined;

  /** @param position where the client stands in the inbox (a resumed session's record), if anywhere */
  constructor(host: InboxHost, position?: StreamPosition) {
    this.#host = host;
    this.position = position;
  }

  /**
   * A message appended to the inbox at `pos`: written now, held while the replay runs or a hole is
   * filled, or (closed) left for the next resume. A seq past the next one means another node
   * appended messages this socket did not get yet: they are read from history first, so the
   * client's position never skips one.
   */
  offer(pos: StreamPosition, frame: string): void {
    const host = this.#host;
    if (host.socket.closed) return;
    const item: Buffered = { stream: inboxStream(host.sid), seq: pos.seq, epoch: pos.epoch, frame };
    if (host.holdForReplay(item)) return;
    if (this.#filling !== undefined) {
      this.#filling.push(item);
      return;
    }
    // A fresh session's inbox begins at 0 in the epoch it first hears of.
    const verdict = admitLive(this.position ?? { seq: 0, epoch: pos.epoch }, pos.seq, pos.epoch);
    if (verdict === "duplicate") return; // the replay had it
    if (verdict === "hole") {
      void this.#fill(item);
      return;
    }
    this.#write(item, verdict === "reset");
  }

  /**
   * Reads the messages after the inbox's position up to the store's newest, `top`, from history
   * (this node may have missed their notices), for {@link offer} through `deliver`. A failed read
   * is logged and left for the next check.
   */
  async readTo(top: StreamPosition, deliver: (pos: StreamPosition, body: string) => void): Promise<void> {
    const { socket, history, sid, size, logger } = this.#host;
    const at = this.position;
    if (socket.closed || top.seq === 0 || (at?.epoch === top.epoch && at.seq >= top.seq)) return;
    let window: HistoryWindow;
    try {
      window = await history.read(inboxStream(sid), at, size);
    } catch (error) {
      logger.warn({ err: error, socket: sid }, "resume: could not read an inbox after missed notices (read again at the next check)");
      return;
    }
    for (const entry of window.entries) if (!socket.closed) deliver({ seq: entry.seq, epoch: window.epoch }, entry.body);
  }

  /**
   * Writes a message that is next in line. After a reset (the inbox's history was lost: a new
   * epoch) the client hears of it before the message, as room members do, else its position
   * would pair the new seqs with the old epoch.
   */
  #write(item: Buffered, reset: boolean): void {
    const socket = this.#host.socket;
    if (reset) socket.send(encodeControl(ControlKind.GAP, { stream: item.stream, reason: "reset", epoch: item.epoch }));
    this.position = { seq: item.seq, epoch: item.epoch };
    socket.send(item.frame);
  }

  /** Reads the hole before `first` from history, writes it (or its gap), then what arrived meanwhile, in order. */
  async #fill(first: Buffered): Promise<void> {
    const host = this.#host;
    const waiting = [first];
    this.#filling = waiting;
    try {
      while (waiting.length > 0 && !host.socket.closed) {
        const item = waiting.shift() as Buffered;
        const at = this.position ?? { seq: 0, epoch: item.epoch };
        const verdict = admitLive(at, item.seq, item.epoch);
        if (verdict === "duplicate") continue;
        if (verdict !== "hole") {
          this.#write(item, verdict === "reset");
          continue;
        }
        // Read after `item` was appended: the window holds it too (or a gap covers it).
        const window = await host.history.read(item.stream, at, host.size);
        if (host.socket.closed) return;
        const filled = fillFrames(item.stream, at, window, host.sid);
        for (const frame of filled.frames) host.socket.send(frame);
        this.position = filled.position;
      }
    } catch (error) {
      // The hole stays unread: the client's position stays before it, so its next resume replays it.
      host.logger.error({ err: error, socket: host.sid }, "resume: could not read a hole in an inbox; closing so the client resumes");
      host.closeToResume("inbox read failed");
    } finally {
      this.#filling = undefined;
    }
  }
}
