/**
 * The per-node gate of rooms with history: every message of such a room reaches this node's
 * members in seq order, once. The node keeps one position per room (not per socket); a message
 * that does not follow it (a pub/sub message lost or overtaken, a Redis reconnect, a new epoch)
 * makes the node read the room's history and deliver what it missed first. Sockets in the middle
 * of a resume get the room's messages into their replay buffer instead; sockets whose replay
 * went further than the node has delivered yet skip what they already have.
 */
import { type BroadcastOp, deliverLocal, type LocalNode, type SendToOp, type StreamGate } from "../cluster/local-node.js";
import type { Logger } from "../logger.js";
import { ControlKind, encodeControl } from "../protocol/index.js";
import type { Socket } from "../socket/socket.js";
import type { Room, SocketId } from "../types.js";
import { admitLive, planStream } from "./gap-plan.js";
import {
  type Awaitable,
  type HistoryLog,
  pushFrame,
  roomStream,
  type StreamName,
  type StreamPosition,
  UNKNOWN_START,
} from "./history-log.js";
import { isThenable, when } from "./when.js";

/**
 * How long a node waits before it reads a room's hole again after a failed read, in ms, one delay
 * per retry. The room's later messages wait meanwhile; after the last retry, its resumable members
 * on this node are closed (1011 "room read failed", sessions kept) so that they resume.
 * @example
 * HOLE_READ_RETRIES_MS.reduce((a, b) => a + b); // 2_500: at most this long (plus the reads) before they resume
 */
export const HOLE_READ_RETRIES_MS: readonly number[] = [500, 2_000];

/** A live message of a room with history. */
interface Live {
  readonly seq: number;
  readonly epoch: string;
  readonly frame: string;
  readonly except: readonly SocketId[];
}

/** This node's position in one room, and messages waiting while it primes or fills a hole. */
interface RoomState {
  /** `[4,"room:<name>",`: the head of the room's push frames, encoded once. */
  readonly head: string;
  pos: StreamPosition | undefined;
  busy: boolean;
  queue: Live[];
  /** Sockets that joined while the node primed its position: their start is the primed position. */
  starting: Socket[];
}

/**
 * Where a resuming socket's live messages wait until its replay is written.
 * @example
 * const sink: ReplaySink = (stream, seq, epoch, frame) => buffer.push({ stream, seq, epoch, frame });
 */
export type ReplaySink = (stream: StreamName, seq: number, epoch: string, frame: string) => void;

/**
 * The {@link StreamGate} of a server with resumable sessions.
 * @example
 * const gate = new RoomGate(node, history, 100, logger); node.setStreamGate(gate);
 */
export class RoomGate implements StreamGate {
  readonly #node: LocalNode;
  readonly #history: HistoryLog;
  readonly #size: number;
  readonly #logger: Logger;
  readonly #states = new Map<Room, RoomState>();
  readonly #replaying = new Map<Socket, ReplaySink>();
  /** Per room: sockets whose replay reached a seq the node has not delivered yet (they skip up to it). */
  readonly #ahead = new Map<Room, Map<Socket, number>>();
  /** Told when a socket's rooms changed (its session record is then written again). */
  onMembership: ((socket: Socket) => void) | undefined;
  /** Told where a socket began in a room it joined: the position after which this node delivers to it. */
  onStart: ((socket: Socket, room: Room, pos: StreamPosition) => void) | undefined;
  /**
   * Told of each local member of a room whose hole could not be read from history (after the
   * retries): a resumable one is closed so that its resume replays the hole; set by the runtime.
   */
  onUnreadable: ((socket: Socket, room: Room) => void) | undefined;
  /** Takes `sendTo` operations for resumable sessions (their inboxes); set by the runtime. */
  onSendTo: ((op: SendToOp, origin: "local" | "remote") => boolean) | undefined;
  /** Counters for tests and docs: holes filled from history, gaps announced. */
  readonly stats = { filled: 0, gaps: 0 };

  constructor(node: LocalNode, history: HistoryLog, size: number, logger: Logger) {
    this.#node = node;
    this.#history = history;
    this.#size = size;
    this.#logger = logger;
  }

  broadcast(op: BroadcastOp, _origin: "local" | "remote"): boolean {
    const room = op.rooms[0];
    if (op.rooms.length !== 1 || room === undefined || op.epoch === undefined || typeof op.data !== "string") return false;
    if (this.#node.rooms.local(room) === undefined) return true; // no member here: nothing to keep in order
    const state = this.#state(room);
    const seq = seqOf(op.data, state.head);
    if (seq === undefined) return false;
    this.#offer(room, state, { seq, epoch: op.epoch, frame: op.data, except: op.except });
    return true;
  }

  sendTo(op: SendToOp, origin: "local" | "remote"): boolean {
    return this.onSendTo?.(op, origin) ?? false;
  }

  joined(socket: Socket, room: Room): void {
    const state = this.#state(room);
    if (state.pos !== undefined) this.onStart?.(socket, room, state.pos);
    else if (state.busy) state.starting.push(socket);
    // Unprimed and idle: its position could not be read (or a hole's read failed for good).
    else this.onStart?.(socket, room, UNKNOWN_START);
    this.onMembership?.(socket);
  }

  left(socket: Socket, room: Room): void {
    if (this.#node.rooms.local(room) === undefined) {
      this.#states.delete(room);
      this.#ahead.delete(room);
    }
    this.#ahead.get(room)?.delete(socket);
    if (!socket.closed) this.onMembership?.(socket);
  }

  /** The last seq this node delivered to the room's members (undefined while priming). */
  positionOf(room: Room): StreamPosition | undefined {
    return this.#states.get(room)?.pos;
  }

  /** From now on, the room messages of `socket` go to `sink` (its replay is being read). */
  startReplay(socket: Socket, sink: ReplaySink): void {
    this.#replaying.set(socket, sink);
  }

  /** The replay is written; `positions` is where it left the socket in each stream. */
  endReplay(socket: Socket, positions: ReadonlyMap<StreamName, StreamPosition>): void {
    this.#replaying.delete(socket);
    for (const room of socket.rooms) {
      const mine = positions.get(roomStream(room));
      const node = this.#states.get(room)?.pos;
      if (mine === undefined || (node !== undefined && (node.epoch !== mine.epoch || node.seq >= mine.seq))) continue;
      let ahead = this.#ahead.get(room);
      if (ahead === undefined) this.#ahead.set(room, (ahead = new Map()));
      ahead.set(socket, mine.seq);
    }
  }

  #state(room: Room): RoomState {
    const state = this.#states.get(room);
    if (state !== undefined) return state;
    const stream = roomStream(room);
    const position = this.#history.position(stream);
    const fresh: RoomState = { head: `[4,${JSON.stringify(stream)},`, pos: undefined, busy: true, queue: [], starting: [] };
    this.#states.set(room, fresh);
    if (!isThenable(position)) {
      // A history in memory knows its position at once: the room is primed now, with nothing
      // started or queued in between (what `when` would do, without its two closures per room).
      fresh.pos = position;
      fresh.busy = false;
      return fresh;
    }
    this.#prime(room, fresh, position, 0);
    return fresh;
  }

  /**
   * Waits for the room's position, reading it again after each of {@link HOLE_READ_RETRIES_MS}
   * when a read fails (the room's messages wait meanwhile). Still unreadable: the sockets waiting
   * for their start get {@link UNKNOWN_START}, and the room's next message starts the count.
   */
  #prime(room: Room, state: RoomState, position: Awaitable<StreamPosition>, attempt: number): void {
    when(
      position,
      (pos) => {
        if (attempt > 0) this.#logger.info({ room, attempt }, "resume: read a room's history position again after failed reads");
        state.pos = pos;
        for (const socket of state.starting.splice(0)) this.onStart?.(socket, room, pos);
        this.#drain(room, state);
      },
      (error) => {
        if (this.#states.get(room) !== state) return; // every member left meanwhile
        const again = () => this.#prime(room, state, this.#history.position(roomStream(room)), attempt + 1);
        if (this.#retry(room, state, attempt, error, "position", again)) return;
        // A socket that leaves before it hears from the room would otherwise have no start there,
        // and its resume would pass over what it missed without a gap.
        this.#logger.error(
          { err: error, room },
          "resume: could not read a room's history position; its members here start in an unknown epoch (gap reset on resume)",
        );
        for (const socket of state.starting.splice(0)) this.onStart?.(socket, room, UNKNOWN_START);
        this.#drain(room, state);
      },
    );
  }

  #offer(room: Room, state: RoomState, live: Live): void {
    if (state.busy) {
      state.queue.push(live);
      return;
    }
    if (state.pos === undefined) {
      state.pos = { seq: live.seq, epoch: live.epoch };
      this.#deliver(room, live);
      return;
    }
    const verdict = admitLive(state.pos, live.seq, live.epoch);
    if (verdict === "duplicate") return;
    if (verdict === "deliver") {
      state.pos = { seq: live.seq, epoch: live.epoch };
      this.#deliver(room, live);
      return;
    }
    state.busy = true;
    state.queue.unshift(live);
    this.#fill(room, state, state.pos);
  }

  /**
   * Reads what the node missed after `after` and delivers it (a gap first where history lost
   * some); a failed read is tried again after each of {@link HOLE_READ_RETRIES_MS}.
   */
  #fill(room: Room, state: RoomState, after: StreamPosition, attempt = 0): void {
    const stream = roomStream(room);
    when(
      this.#history.read(stream, after, this.#size),
      (window) => {
        if (this.#states.get(room) !== state) return; // every member left meanwhile
        const plan = planStream(stream, after, window, this.#size);
        this.stats.filled++;
        if (plan.gap !== undefined) {
          this.stats.gaps++;
          this.#deliverControl(room, encodeControl(ControlKind.GAP, plan.gap));
        }
        for (const entry of plan.entries) {
          const queued = state.queue.find((q) => q.seq === entry.seq && q.epoch === window.epoch);
          const frame = queued?.frame ?? pushFrame(stream, entry.seq, entry.body);
          // The except list came with the live message, or is kept with the entry (in-memory history).
          this.#deliver(room, { seq: entry.seq, epoch: window.epoch, frame, except: queued?.except ?? entry.except ?? [] });
        }
        state.pos = plan.position;
        this.#drain(room, state);
      },
      (error) => {
        if (this.#states.get(room) !== state) return; // every member left meanwhile
        // Later messages wait: delivered now, they would skip the hole for good (the client's
        // position would pass it, and its next resume would not replay it).
        if (this.#retry(room, state, attempt, error, "to fill a hole", () => this.#fill(room, state, after, attempt + 1))) return;
        // Still unreadable: its resumable members here are closed (their sessions kept) so that
        // their resumes replay the hole from their own positions; what arrived goes to the rest.
        this.#logger.error(
          { err: error, room },
          "resume: could not read a room's history to fill a hole; its resumable members here resume",
        );
        for (const socket of [...(this.#node.rooms.local(room) ?? [])]) this.onUnreadable?.(socket, room);
        state.pos = undefined;
        this.#drain(room, state);
      },
    );
  }

  /**
   * After failed history read number `attempt` (from 0) for `room`: runs `again` after the next
   * delay of {@link HOLE_READ_RETRIES_MS} if the room's state is still this one then, and says
   * so; false when the retries are spent. `what` the read, for the warning.
   */
  #retry(room: Room, state: RoomState, attempt: number, error: unknown, what: string, again: () => void): boolean {
    const delay = HOLE_READ_RETRIES_MS[attempt];
    if (delay === undefined) return false;
    this.#logger.warn({ err: error, room }, `resume: could not read a room's history ${what}; reading again in ${delay} ms`);
    setTimeout(() => this.#states.get(room) === state && again(), delay).unref();
    return true;
  }

  #drain(room: Room, state: RoomState): void {
    state.busy = false;
    const queue = state.queue;
    state.queue = [];
    for (const live of queue) this.#offer(room, state, live);
  }

  #deliver(room: Room, live: Live): void {
    const ahead = this.#ahead.get(room);
    if (this.#replaying.size === 0 && ahead === undefined) {
      deliverLocal(this.#node.rooms, [room], live.except, live.frame);
      return;
    }
    const except = [...live.except];
    for (const [socket, sink] of this.#replaying) {
      if (!socket.rooms.has(room)) continue;
      except.push(socket.id);
      if (!live.except.includes(socket.id)) sink(roomStream(room), live.seq, live.epoch, live.frame);
    }
    if (ahead !== undefined) {
      for (const [socket, floor] of ahead) {
        if (floor >= live.seq) except.push(socket.id);
        else ahead.delete(socket);
      }
      if (ahead.size === 0) this.#ahead.delete(room);
    }
    deliverLocal(this.#node.rooms, [room], except, live.frame);
  }

  #deliverControl(room: Room, frame: string): void {
    const except = [...this.#replaying.keys()].map((s) => s.id);
    deliverLocal(this.#node.rooms, [room], except, frame);
  }
}

/** The seq of a push frame of a room's stream, read after its head (`[4,"room:<name>",<seq>,`). */
function seqOf(frame: string, head: string): number | undefined {
  if (!frame.startsWith(head)) return undefined;
  const end = frame.indexOf(",", head.length);
  const seq = Number(frame.slice(head.length, end));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
