/**
 * The replay of a resumed session: what the client missed in every stream of its record, read
 * from history after the positions the client says it has (else the record's), then the live
 * messages that arrived meanwhile, each once and in order. Live messages wait in the replay's
 * buffer from before the socket re-joins its rooms until the replay is written.
 * socket-session.ts owns the session and says `resumed` after it; this file holds only the replay.
 */
import { outboxOf, type Socket } from "../socket/socket.js";
import { admitLive, fillFrames, planResume, resumeFrames } from "./gap-plan.js";
import { type HistoryLog, type HistoryWindow, inboxStream, roomStream, type StreamName, type StreamPosition } from "./history-log.js";
import { replayStart } from "./replay-start.js";
import type { RoomGate } from "./room-gate.js";
import type { Buffered } from "./session-inbox.js";
import type { SessionRecord } from "./session-store.js";

/** How long a resumed session waits for the client's `[9, "pos", ...]` before it uses the record's positions, in ms. */
export const POSITIONS_WAIT_MS = 2000;

/**
 * What the replay needs of its session.
 * @example
 * const host: ReplayHost = { socket, sid: record.sid, history, size: 100, gate };
 */
export interface ReplayHost {
  readonly socket: Socket;
  readonly sid: string;
  readonly history: HistoryLog;
  /** The most messages one history read returns (the history's size). */
  readonly size: number;
  readonly gate: RoomGate;
}

/**
 * One resumed socket's replay, made before the socket re-joins its rooms.
 * @example
 * const replay = new SessionReplay(host); // live messages now wait
 * for (const room of record.rooms) socket.join(room);
 * await replay.run(record, (positions) => socket.send(encodeControl("resumed", { sid, token, positions: Object.fromEntries(positions) })), (error) => socket.close(1011, "resume failed"));
 */
export class SessionReplay {
  readonly #host: ReplayHost;
  /** Live messages that arrived since the replay began; undefined once it ended. */
  #buffer: Buffered[] | undefined = [];
  /** Set while the replay waits for the client's positions: resolves that wait. */
  #tell: ((pos: Record<string, unknown> | undefined) => void) | undefined;

  /**
   * Registers the socket's replay with the room gate at once: its live room messages wait in the
   * buffer from now until {@link run} ends (which must follow).
   */
  constructor(host: ReplayHost) {
    this.#host = host;
    host.gate.startReplay(host.socket, (stream, seq, epoch, frame) => this.#buffer?.push({ stream, seq, epoch, frame }));
  }

  /** Whether it waits for the client's `[9, "pos", ...]`. */
  get wantsPositions(): boolean {
    return this.#tell !== undefined;
  }

  /** What the client told: its `pos` frame's data, or undefined (its socket closed, or the frame said nothing usable). */
  told(pos: Record<string, unknown> | undefined): void {
    this.#tell?.(pos);
  }

  /** Takes a live message (of the inbox) into the buffer while the replay runs: true when it did. */
  hold(item: Buffered): boolean {
    return this.#buffer?.push(item) !== undefined;
  }

  /**
   * Writes the replay, then the buffer, then calls `finish` with every stream's position; or, when
   * a history read fails, calls `fail`. Either runs before the buffer ends and live messages go
   * straight to the socket again, with no await between the last check of the buffer and the
   * end. Nothing is written once the socket closed (neither is called then).
   */
  async run(
    record: SessionRecord,
    finish: (positions: Map<StreamName, StreamPosition>) => void,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const { socket, history, size, sid } = this.#host;
    const positions = new Map<StreamName, StreamPosition>();
    try {
      const told = await this.#clientPositions();
      const order: [StreamName, StreamPosition][] = [];
      const streams = [...record.rooms.map(roomStream), inboxStream(record.sid)];
      const reads = streams.map(async (stream) => {
        const { after, said } = replayStart(stream, told, record);
        // A seq past the top of its epoch (a client that never heard the epoch said its seq, and the
        // record has the stream's new epoch) reads the whole epoch: HistoryLog.read's rule.
        let window = await history.read(stream, after, size);
        let from: StreamPosition;
        if (after !== undefined) from = after;
        else if (said !== undefined) {
          from = { seq: said.seq, epoch: window.epoch };
          // A seq past the top is an older numbering's (HistoryLog.read's rule): every entry is news.
          if (said.seq <= window.top) window = { ...window, entries: window.entries.filter((e) => e.seq > said.seq) };
        } else from = { seq: stream.startsWith("inbox:") ? 0 : window.top, epoch: window.epoch }; // a room it never heard from: nothing to replay
        order.push([stream, from]);
        return [stream, window] as const;
      });
      const windows = new Map<StreamName, HistoryWindow>(await Promise.all(reads));
      if (socket.closed) return;
      order.sort((a, b) => streams.indexOf(a[0]) - streams.indexOf(b[0]));
      const plans = planResume(order, windows);
      for (const frame of resumeFrames(plans, sid)) socket.send(frame);
      // The replay may be more than the slow-consumer mark: the client is not charged for it.
      outboxOf(socket).excuse();
      for (const plan of plans) positions.set(plan.stream, plan.position);
      // Drained again if a live message came while the last drain's promise resolved: the buffer
      // is checked, then ended, in one synchronous stretch.
      do await this.#drainBuffer(positions);
      while (!socket.closed && (this.#buffer?.length ?? 0) > 0);
      if (socket.closed) return;
      finish(positions);
    } catch (error) {
      fail(error);
    } finally {
      this.#buffer = undefined;
      this.#host.gate.endReplay(socket, positions);
    }
  }

  /** Writes the live messages that arrived during the replay, each once, in order; a hole is read from history. */
  async #drainBuffer(positions: Map<StreamName, StreamPosition>): Promise<void> {
    const { socket, history, size, sid } = this.#host;
    const buffer = this.#buffer ?? [];
    while (buffer.length > 0 && !socket.closed) {
      const item = buffer.shift() as Buffered;
      const pos = positions.get(item.stream);
      const verdict = pos === undefined ? "deliver" : admitLive(pos, item.seq, item.epoch);
      if (verdict === "duplicate") continue;
      if (verdict === "deliver" || pos === undefined) {
        positions.set(item.stream, { seq: item.seq, epoch: item.epoch });
        socket.send(item.frame);
        continue;
      }
      const filled = fillFrames(item.stream, pos, await history.read(item.stream, pos, size), sid);
      for (const frame of filled.frames) socket.send(frame);
      positions.set(item.stream, filled.position);
    }
  }

  #clientPositions(): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), POSITIONS_WAIT_MS);
      const done = (pos: Record<string, unknown> | undefined) => {
        clearTimeout(timer);
        this.#tell = undefined;
        resolve(pos);
      };
      this.#tell = done;
      outboxOf(this.#host.socket).onceClosed(() => done(undefined));
    });
  }
}
