/**
 * One event socket's resumable session: its record in the session store (written on join, leave,
 * settled requests and close), its token (the welcome, the client's confirm after `resumed`), and
 * what its close means (a close by the peer or the network keeps the session for `ttl`; a close by
 * the application or a limit ends it). The inbox's live delivery is in session-inbox.ts, the replay
 * of a resumed session in session-replay.ts, the record's fixed parts in session-record.ts, the
 * welcome in session-welcome.ts and what a close reason means in close-reasons.ts.
 */
import type { Logger } from "../logger.js";
import { ControlKind, encodeControl } from "../protocol/index.js";
import { type Socket, serverCloseCodeOf } from "../socket/socket.js";
import type { Room } from "../types.js";
import { keepsSession, leftOnPurpose } from "./close-reasons.js";
import {
  type Awaitable,
  type HistoryLog,
  inboxStream,
  pushFrame,
  roomStream,
  type StreamName,
  type StreamPosition,
} from "./history-log.js";
import { ReplyCache } from "./reply-cache.js";
import type { ResumeHandle } from "./resume-handle.js";
import type { RoomGate } from "./room-gate.js";
import { type Buffered, SessionInbox } from "./session-inbox.js";
import { assembleRecord, dataText, NO_REPLIES, type SessionBase } from "./session-record.js";
import { SessionReplay } from "./session-replay.js";
import type { SessionRecord, SessionStore } from "./session-store.js";
import { sendWelcome, welcomeFrame } from "./session-welcome.js";
import { andThen, isThenable, when } from "./when.js";

/** What every session of a server shares. */
export interface SessionServices {
  readonly history: HistoryLog;
  readonly sessions: SessionStore;
  readonly gate: RoomGate;
  readonly size: number;
  readonly logger: Logger;
  /** The session ended: per-node state of it (its reply cache) can go. */
  forget(sid: string): void;
  /** The session's window ended without a resume (here: its client closed it on purpose): drops its inbox, runs `onExpire`. */
  expired(record: SessionRecord): void;
  /** Whether namespace `namespace` has an `onExpire` hook (else {@link expired} needs no record). */
  expiresWithHook(namespace: string | undefined): boolean;
  /** The reply cache of session `sid` on this node, made on first use and kept there for a resume on this node. */
  cacheOf(sid: string): ReplyCache;
  /** Keeps track of store writes still running, for a graceful shutdown. */
  track(work: Promise<unknown>): void;
  /** The session of the open socket that holds `sid` on this node now, if any. */
  current(sid: string): SocketSession | undefined;
  /**
   * Appends a direct message of session `sid` to its inbox; undefined when another node holds the
   * session (a store shared by nodes found it there and handed that node the message).
   */
  appendInbox(sid: string, body: string): Awaitable<StreamPosition | undefined>;
}

/**
 * Where a session stands for one socket:
 * - `held`: this socket holds it; its close keeps the session or ends it by the close's reason
 *   (a close by the peer or the network keeps it, one by the app or a limit ends it);
 * - `resuming`: this node closed the socket so that the client resumes (an inbox hole it could
 *   not read): its close keeps the session;
 * - `moved`: another node took the session and this socket is half-open: its close keeps the
 *   session (what it writes is fenced by the newer generation; replies still reach their running
 *   marks for that node), and this node keeps no reply cache of it for a later resume here;
 * - `superseded`: another socket of this node took it: this socket's close and changes touch nothing;
 * - `ended`: closed by the app or a limit; nothing of it is written any more.
 */
type Standing = "held" | "resuming" | "moved" | "superseded" | "ended";

/** Set by SocketSession's static block: the batch write reaches a private method without a closure per session. */
let writeSession: (session: SocketSession) => void;
/** Sessions changed in this event-loop turn, written by one setImmediate. */
let changedInTurn: SocketSession[] = [];

/**
 * The {@link ResumeHandle} of one socket.
 * @example
 * const session = new SocketSession(services, socket, { sid: socket.id, owner: "", path, generation: 0 }); socket.resume = session; session.open();
 */
export class SocketSession implements ResumeHandle {
  /** Made on the first request (see {@link replies}): a session that never sends one costs no cache. */
  #replies: ReplyCache | undefined;
  readonly #services: SessionServices;
  readonly #socket: Socket;
  readonly #base: SessionBase;
  /** The inbox's delivery to this socket: made with the record's position, by the replay, or on the first direct message or inbox check. */
  #inbox: SessionInbox | undefined;
  /** Where the session began in each stream (kept across resumes; see `SessionRecord.starts`); made on the first. */
  #starts: Map<StreamName, StreamPosition> | undefined;
  /**
   * The last position recorded for each room. The node forgets a room once its last local member
   * left, which a closing socket has done by the time its record is written: without this, a room
   * the client never heard from would be recorded without a position, and a resume could not tell
   * what it missed there (no gap for what history trimmed meanwhile). Made on the first.
   */
  #recorded: Map<Room, StreamPosition> | undefined;
  /** The store writes under way, in order; none yet for most of a session's life (a promise made on the first write). */
  #chain: Promise<unknown> | undefined;
  #scheduled = false;
  /** Rooms, `data` or replies changed since the last record was taken. */
  #dirty = false;
  /** The replay of a resumed session, from before its rooms are re-joined until `resumed` is sent. */
  #replay: SessionReplay | undefined;
  /** Where the session stands for this socket (see {@link Standing}). */
  #standing: Standing = "held";
  /** `resumed` was sent with a new token: the client's `[9, "confirm"]` retires the one it resumed with. */
  #confirming = false;

  /**
   * @param base the session's id, owner, path and generation (kept as given)
   * @param record the record a resumed session continues (its positions and starts); none for a fresh session
   * @param replies the cache a resumed session takes over; a fresh one's is made on its first request
   */
  constructor(services: SessionServices, socket: Socket, base: SessionBase, record?: SessionRecord, replies?: ReplyCache) {
    this.#services = services;
    this.#socket = socket;
    this.#replies = replies;
    this.#base = base;
    if (record !== undefined) {
      const inbox = record.positions[inboxStream(base.sid)];
      if (inbox !== undefined) this.#inbox = this.#newInbox(inbox);
      if (record.starts !== undefined) this.#starts = new Map(Object.entries(record.starts));
      for (const room of record.rooms) {
        const pos = record.positions[roomStream(room)];
        if (pos !== undefined) (this.#recorded ??= new Map()).set(room, pos);
      }
    }
  }

  get replies(): ReplyCache {
    // An ended session's cache is not kept for a resume (there is none): not registered on the node.
    // Nor one that moved to another node: a resume here later takes the record's replies, not a stale cache.
    this.#replies ??= this.#standing === "ended" || this.#standing === "moved" ? new ReplyCache() : this.#services.cacheOf(this.#base.sid);
    return this.#replies;
  }

  /**
   * Another node took this session (this socket is half-open): its close keeps the session, and
   * replies settling here still go to the store (fenced there: to their running marks).
   */
  movedAway(): void {
    if (this.#standing !== "ended" && this.#standing !== "superseded") this.#standing = "moved";
  }

  /**
   * This node cannot write the session's messages in order (a hole in a stream it could not read):
   * the socket is closed with 1011 `reason` and the session kept, so that the client resumes and
   * its resume replays what it missed from its own positions.
   */
  closeToResume(reason: string): void {
    if (this.#standing === "held") this.#standing = "resuming";
    this.#socket.close(1011, reason);
  }

  /** Another socket of this node took the session (this one is half-open): its close and changes touch nothing. */
  supersede(): void {
    this.#standing = "superseded";
  }

  /** The session's generation on this socket (a resume elsewhere makes a newer one). */
  get generation(): number {
    return this.#base.generation;
  }

  get wantsControl(): boolean {
    return this.#replay?.wantsPositions === true || this.#confirming;
  }

  /**
   * A fresh session: saves it, then tells the client its id and first token. With a store that
   * answers at once (in memory) the welcome is written in the upgrade's own turn, before anything
   * `onConnect` sends, and leaves in the same write as the 101 answer.
   */
  open(): void {
    const sid = this.#base.sid;
    let token: Awaitable<string>;
    try {
      token = this.#services.sessions.open(this.record(), this);
    } catch (error) {
      this.#services.logger.error({ err: error, socket: this.#base.sid }, "resume: a session store write failed");
      return;
    }
    if (typeof token === "string") {
      sendWelcome(this.#socket, welcomeFrame(sid, token));
      return;
    }
    const later = Promise.resolve(token);
    later.catch(() => {}); // reported by the queue below, whenever the store answers
    this.#queue(async () => this.#socket.send(welcomeFrame(sid, await later)));
  }

  emit(body: string): void {
    when(
      this.#services.appendInbox(this.#base.sid, body),
      (pos) => {
        if (pos !== undefined) this.appended(pos, body);
      },
      (error) =>
        this.#services.logger.error(
          { err: error, socket: this.#base.sid },
          "resume: a direct message could not be kept in the inbox; not sent",
        ),
    );
  }

  /** A message numbered at `pos` in this session's inbox: written to the session's live socket here, if any, in seq order. */
  appended(pos: StreamPosition, body: string): void {
    const stream = inboxStream(this.#base.sid);
    const frame = pushFrame(stream, pos.seq, body);
    // A handler may still hold the socket object of a connection the client has since
    // replaced (a request that ran through the outage): the session's live socket gets it.
    const live = this.#socket.closed ? this.#services.current(this.#base.sid) : this;
    (live ?? this).#inboxStarts(stream, pos);
    if (live !== undefined) (live.#inbox ??= live.#newInbox()).offer(pos, frame);
  }

  /** The inbox delivery of this socket, starting after `position`. */
  #newInbox(position?: StreamPosition): SessionInbox {
    const { history, size, logger } = this.#services;
    const host = {
      socket: this.#socket,
      sid: this.#base.sid,
      history,
      size,
      logger,
      holdForReplay: (item: Buffered) => this.#replay?.hold(item) === true,
      closeToResume: (reason: string) => this.closeToResume(reason),
    };
    return new SessionInbox(host, position);
  }

  /**
   * The inbox's newest message in the store is at `top` (read after this node may have missed
   * notices): the messages up to it this socket was not handed are read from history and offered
   * as live ones are, so each is written once and in order (a duplicate is dropped, a hole read,
   * a replay under way takes them in its buffer). A failed read is left for the next check.
   */
  async inboxTop(top: StreamPosition): Promise<void> {
    if (this.#socket.closed) return;
    await (this.#inbox ??= this.#newInbox()).readTo(top, (pos, body) => this.appended(pos, body));
  }

  /** The node's position in `room` when this socket joined it (a resumed session keeps its first start). */
  started(room: string, pos: StreamPosition): void {
    const stream = roomStream(room);
    if (this.#starts?.has(stream)) return;
    (this.#starts ??= new Map()).set(stream, pos);
    // Where a resume starts when the client never heard from the room: with a history read over
    // the network, the record written at the join did not have it yet.
    this.changed();
  }

  /** The inbox begins with its first message: a client that heard nothing of it is replayed from there (a reset if it was lost meanwhile). */
  #inboxStarts(stream: StreamName, pos: StreamPosition): void {
    if (this.#starts?.has(stream)) return;
    (this.#starts ??= new Map()).set(stream, { seq: pos.seq - 1, epoch: pos.epoch });
    this.changed();
  }

  changed(): void {
    // After the close, only a kept session is still written (a request that settled while the
    // client was away: its reply must reach the record for a resume on another node).
    if (this.#standing === "ended" || this.#standing === "superseded") return;
    // A store in this process reads an attached session's record from it when it needs one.
    if (this.#services.sessions.readsLive === true && !this.#socket.closed) return;
    this.#dirty = true;
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Coalesced: a handler that joins three rooms writes the record once; a record taken since
    // (the close's) already holds the change, and nothing is written again. One setImmediate
    // writes every session changed in a turn (a handshake that joins a room costs no Immediate
    // and no closure of its own).
    if (changedInTurn.push(this) === 1) setImmediate(writeChanged);
  }

  /** The write `changed()` scheduled, after the turn it was called in. */
  #writeChanged(): void {
    this.#scheduled = false;
    if (this.#standing === "ended" || this.#standing === "superseded" || !this.#dirty) return;
    this.#queue(() => (this.#dirty ? this.#services.sessions.update(this.record(), this.#settled()) : undefined));
  }

  /** Replies settled since the last write; none (and no cache made) for a session that never had a request. */
  #settled(): readonly (readonly [number, string])[] {
    return this.#replies === undefined ? NO_REPLIES : this.#replies.drainSettled();
  }

  control(text: string): boolean {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return false;
    }
    if (!Array.isArray(frame) || frame[0] !== 9) return false;
    const replay = this.#replay;
    if (frame[1] === ControlKind.POS && replay?.wantsPositions === true) {
      const data: unknown = frame[2];
      replay.told(typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined);
      return true;
    }
    if (frame[1] === ControlKind.CONFIRM && this.#confirming) {
      this.#confirming = false;
      const { sid, generation } = this.#base;
      const sessions = this.#services.sessions;
      this.#queue(() => sessions.retire(sid, generation));
      return true;
    }
    return false;
  }

  /** Called before the socket re-joins its rooms: from now on its live messages wait for the replay. */
  beginReplay(): void {
    const { history, size, gate } = this.#services;
    this.#replay = new SessionReplay({ socket: this.#socket, sid: this.#base.sid, history, size, gate });
  }

  /**
   * Replays what the client missed in every stream of the record (after the positions it says it
   * has, else the record's), then what arrived meanwhile, then `[9, "resumed", { sid, token,
   * positions, via? }]` (`via` 1 when the client's second offered token took the session: its
   * fallback, which stays good until its confirm). Needs {@link beginReplay} first.
   */
  async replay(record: SessionRecord, token: string, via = 0): Promise<void> {
    const replay = this.#replay;
    if (replay === undefined) throw new Error("replay() needs beginReplay() first");
    const finish = (positions: Map<StreamName, StreamPosition>) => {
      const inbox = positions.get(inboxStream(record.sid));
      if (inbox !== undefined) (this.#inbox ??= this.#newInbox()).position = inbox;
      const known: Record<StreamName, [number, string]> = {};
      for (const [stream, pos] of positions) known[stream] = [pos.seq, pos.epoch];
      // `via` only for the second token: JSON leaves an undefined field out.
      this.#socket.send(encodeControl(ControlKind.RESUMED, { sid: record.sid, token, positions: known, via: via === 0 ? undefined : via }));
      this.#confirming = true;
    };
    await replay.run(record, finish, (error) => this.#replayFailed(record, error));
    this.#replay = undefined;
  }

  /**
   * The replay could not be read. The session is kept, not ended: its window then ends with
   * onExpire (the app hears of it). The token the client resumed with is retired first, so its
   * next attempt starts a fresh session: a replay that fails each time (an entry history cannot
   * parse) must not have it resume in a loop, holding the session attached for ever.
   */
  #replayFailed(record: SessionRecord, error: unknown): void {
    this.#services.logger.error({ err: error, socket: record.sid }, "resume: the replay failed; closing with the session kept");
    const close = () => this.closeToResume("resume failed");
    const failed = (retireError: unknown) => {
      this.#writeFailed(retireError);
      close();
    };
    let retired: Awaitable<void>;
    try {
      retired = this.#services.sessions.retire(record.sid, this.#base.generation);
    } catch (retireError) {
      failed(retireError);
      return;
    }
    when(retired, close, failed);
  }

  /** The session's record as it stands now (also what a store that reads live sessions asks for). */
  record(): SessionRecord {
    this.#dirty = false;
    const joined = this.#socket.rooms;
    let positions: Record<StreamName, StreamPosition> | undefined;
    for (const room of joined) {
      const pos = this.#services.gate.positionOf(room) ?? this.#recorded?.get(room);
      if (pos === undefined) continue;
      (this.#recorded ??= new Map()).set(room, pos);
      (positions ??= {})[roomStream(room)] = pos;
    }
    const recorded = this.#recorded;
    if (recorded !== undefined && recorded.size > 0) for (const room of recorded.keys()) if (!joined.has(room)) recorded.delete(room);
    const inbox = this.#inbox?.position;
    if (inbox !== undefined) (positions ??= {})[inboxStream(this.#base.sid)] = inbox;
    let starts: Record<StreamName, StreamPosition> | undefined;
    const began = this.#starts;
    if (began !== undefined && began.size > 0) {
      for (const [stream, pos] of began) {
        if (!stream.startsWith("room:") || joined.has(stream.slice(5))) (starts ??= {})[stream] = pos;
        else began.delete(stream); // left: a later join starts again
      }
    }
    const replies = this.#replies === undefined ? NO_REPLIES : this.#replies.entries();
    return assembleRecord(this.#base, joined, dataText(this.#socket, this.#services.logger), positions, starts, replies);
  }

  /** Its socket has closed (told by the runtime, as the socket's protocol hears of it). */
  socketClosed(): void {
    this.#replay?.told(undefined);
    if (this.#standing === "superseded") return;
    const { sid, generation } = this.#base;
    if (
      this.#standing === "moved" ||
      this.#standing === "resuming" ||
      keepsSession(this.#socket.closeReason, serverCloseCodeOf(this.#socket))
    ) {
      const record = this.record();
      const settled = this.#settled();
      const sessions = this.#services.sessions;
      this.#queue(() => andThen(sessions.update(record, settled), () => sessions.detach(sid, generation)));
    } else {
      this.#standing = "ended";
      const services = this.#services;
      // Closed by its client on purpose: the window ends now, so onExpire runs now (a departure),
      // with the record as the socket left it (made only for a namespace with the hook).
      const left =
        leftOnPurpose(this.#socket.closeReason ?? "") && services.expiresWithHook(this.#base.namespace) ? this.record() : undefined;
      services.forget(sid);
      // Only while this generation holds it: a resume elsewhere since keeps its session and inbox,
      // and a session the store already let expire has had its onExpire.
      const after = (ended: boolean) =>
        !ended ? undefined : left !== undefined ? services.expired(left) : services.history.drop(inboxStream(sid));
      this.#queue(() => andThen(services.sessions.end(sid, generation), after));
    }
  }

  /**
   * Store writes of one session run one after the other (open before update before detach). With
   * nothing under way, a write runs at once, and a store that answers at once (in memory) costs
   * no promise; one that answers later holds the writes queued behind it until it has.
   */
  #queue(work: () => unknown): void {
    let pending: Promise<unknown>;
    if (this.#chain !== undefined) pending = this.#chain.then(work);
    else {
      let out: unknown;
      try {
        out = work();
      } catch (error) {
        this.#writeFailed(error);
        return;
      }
      if (!isThenable(out)) return;
      pending = Promise.resolve(out);
    }
    const next: Promise<void> = pending.then(
      () => this.#settle(next),
      (error: unknown) => {
        this.#writeFailed(error);
        this.#settle(next);
      },
    );
    this.#chain = next;
    this.#services.track(next);
  }

  /** The write `done` finished: when nothing was queued behind it, the next write runs at once again. */
  #settle(done: Promise<void>): void {
    if (this.#chain === done) this.#chain = undefined;
  }

  #writeFailed(error: unknown): void {
    this.#services.logger.error({ err: error, socket: this.#base.sid }, "resume: a session store write failed");
  }

  static {
    writeSession = (session) => session.#writeChanged();
  }
}

function writeChanged(): void {
  const batch = changedInTurn;
  changedInTurn = []; // a session changed while writing schedules the next batch
  for (const session of batch) writeSession(session);
}
