/**
 * Resumable sessions of one server: made once per server by the first events namespace that sees
 * `createServer({ resume })`, from the adapter's backend (Redis) or in memory. It takes resume
 * tokens during the upgrade, makes fresh or resumed event sockets, numbers sends into streams
 * ({@link StreamSends}), and runs the handlers' `onExpire` when a window ends without a resume.
 *
 * Seams (the server does not import this layer): the server hands the validated options and
 * itself to the events layer's socket-protocol factory (`ProtocolContext`); this module finds the
 * server's node with `localNodeOf(server)`, installs its {@link RoomGate} there, asks the adapter
 * for a backend under the `resumeBackend` symbol, and adds the token step as the protocol's
 * `prepare` (the last upgrade step, after the HTTP middleware).
 */
import type { IncomingMessage } from "node:http";
import { type LocalNode, localNodeOf } from "../cluster/local-node.js";
import { Refusal, type UpgradeRefusal } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ResolvedResumeOptions } from "../options/resume.js";
import { ControlKind, encodeControl, SUBPROTOCOL } from "../protocol/index.js";
import { outboxOf, type Socket, type SocketInit, terminate } from "../socket/socket.js";
import type { Message, Room, SocketId } from "../types.js";
import { backendFor, type ResumeBackend } from "./backend.js";
import { EarlyMoves } from "./early-moves.js";
import { SESSION_EXPIRED } from "./gap-plan.js";
import { type Awaitable, inboxStream } from "./history-log.js";
import { InboxResync } from "./inbox-resync.js";
import { ReplyNotices, remoteReply } from "./remote-reply.js";
import { REPLY_CACHE_SIZE, ReplyCache } from "./reply-cache.js";
import type { ResumeHandle } from "./resume-handle.js";
import { RoomGate } from "./room-gate.js";
import { sessionBase } from "./session-record.js";
import { ownerKey, type SessionRecord, type TakeResult } from "./session-store.js";
import { resumeTokensOf } from "./session-token.js";
import { SocketSession } from "./socket-session.js";
import { StreamSends } from "./stream-sends.js";
import { andThen, isThenable, when } from "./when.js";

/**
 * What `onExpire` gets: the session's last state, once, when its window ended without a resume
 * (on whichever node noticed, also when the node that held it died), or at once when its client
 * closed it on purpose (close code 1000 or 3000-4999).
 * @example
 * static onExpire(session: ExpiredSession) { presence.remove(session.id, session.rooms); }
 */
export interface ExpiredSession {
  readonly id: SocketId;
  readonly path: string;
  readonly namespace: string | undefined;
  readonly rooms: readonly Room[];
  readonly data: Record<string, unknown>;
}

/** A socket of a resumable namespace, as far as this module needs it. */
interface ResumableSocket extends Socket {
  resume: ResumeHandle | undefined;
}

const runtimes = new WeakMap<object, ResumeRuntime>();
/** `[9,"ping"]`, the idle probe (limits/guard.ts): the one control frame a resumable socket may lose. */
const PING = encodeControl(ControlKind.PING);

/** A token's outcome kept for its upgrade, and what runs if the upgrade is abandoned before its socket is made. */
interface KeptTake {
  readonly result: TakeResult;
  /** Which offered token the result is for: 0 the first, 1 the second (the client's fallback). */
  readonly via: number;
  readonly abandoned: () => void;
}

/** A take's result and which offered token it is for (see {@link KeptTake}). */
type OfferedTake = readonly [TakeResult, number];

/** How long a graceful shutdown waits for running handlers of sessions in a shared store, in ms. */
export const SHUTDOWN_REPLY_WAIT_MS = 10_000;

/**
 * The resumable sessions of a server.
 * @example
 * const runtime = ResumeRuntime.of(server, options, logger, 10_000); runtime.addNamespace("/chat/:room", Chat);
 */
export class ResumeRuntime {
  readonly options: ResolvedResumeOptions;
  readonly gate: RoomGate;
  readonly #backend: ResumeBackend;
  readonly #node: LocalNode;
  readonly #logger: Logger;
  readonly #takes = new WeakMap<IncomingMessage, KeptTake>();
  /** Entries put in `#takes` and not taken out yet: while none, a handshake looks nothing up there. */
  #takesKept = 0;
  readonly #expireHooks = new Map<string, (session: ExpiredSession) => unknown>();
  readonly #writes = new Set<Promise<unknown>>();
  /**
   * Reply caches of this node's sessions, by sid, kept after their socket closed: a resume here
   * takes the same cache, so a request still running then is awaited ("wait"), not run again.
   */
  readonly #caches = new Map<SocketId, ReplyCache>();
  readonly #services;
  /** Replies other nodes handed this node for requests retried here (with a store that sends them). */
  readonly #replyNotices = new ReplyNotices();
  #stopping = false;
  readonly #earlyMoves = new EarlyMoves();
  readonly #closeTimeout: number;
  /** Where the namespaces' room broadcasts and direct messages are numbered into streams. */
  readonly sends: StreamSends;

  /**
   * The runtime of `server`, made on first use.
   * @param closeTimeout how long a connection a resume replaced gets to finish its closing handshake
   * before it is terminated, in ms (the server's `closeTimeout`)
   */
  static of(server: object, options: ResolvedResumeOptions, logger: Logger, closeTimeout: number): ResumeRuntime {
    let runtime = runtimes.get(server);
    if (runtime === undefined) {
      const node = localNodeOf(server);
      if (node === undefined) throw new Error("resume: the server has no node (internal error)");
      runtime = new ResumeRuntime(node, options, logger, closeTimeout);
      runtimes.set(server, runtime);
    }
    return runtime;
  }

  private constructor(node: LocalNode, options: ResolvedResumeOptions, logger: Logger, closeTimeout: number) {
    this.options = options;
    this.#closeTimeout = closeTimeout;
    this.#node = node;
    this.#logger = logger;
    this.#backend = backendFor(node.adapter, options, logger);
    this.sends = new StreamSends(node, this.#backend, logger, (sid) => this.#current(sid));
    this.gate = new RoomGate(node, this.#backend.history, options.history.size, logger);
    this.gate.onMembership = (socket) => (socket as ResumableSocket).resume?.changed();
    this.gate.onStart = (socket, room, pos) => {
      const session = (socket as ResumableSocket).resume;
      if (session instanceof SocketSession) session.started(room, pos);
    };
    this.gate.onSendTo = (op, origin) => this.sends.sendTo(op, origin);
    this.gate.onUnreadable = (socket) => {
      const session = (socket as ResumableSocket).resume;
      if (session instanceof SocketSession) session.closeToResume("room read failed");
    };
    node.setStreamGate(this.gate);
    this.#backend.sessions.onExpire((record) => this.#expired(record));
    this.#backend.sessions.onMoved?.((sid, generation) => this.#movedAway(sid, generation));
    const inbox = this.#backend.inbox;
    inbox?.onForwarded((sid, pos, body) => this.#services.current(sid)?.appended(pos, body));
    const notices = this.#replyNotices;
    this.#backend.sessions.onReplied?.((sid, id, frame) => notices.replied(sid, id, frame));
    // Notices to this node may have been lost: what they would have said is read from the stores.
    const resync = inbox === undefined ? undefined : new InboxResync(node, inbox, logger);
    this.#backend.onResync?.(() => {
      resync?.request();
      notices.readAll();
    });
    node.onShutdown(() => this.#shutdown());
    this.#services = {
      history: this.#backend.history,
      sessions: this.#backend.sessions,
      gate: this.gate,
      size: options.history.size,
      logger,
      forget: (sid: SocketId) => this.forget(sid),
      expired: (record: SessionRecord) => this.#expired(record),
      expiresWithHook: (namespace: string | undefined) => namespace !== undefined && this.#expireHooks.has(namespace),
      cacheOf: (sid: SocketId) => this.#cacheOf(sid, []),
      current: (sid: SocketId) => this.#current(sid),
      appendInbox: (sid: SocketId, body: string) => this.sends.appendInbox(sid, body),
      track: (work: Promise<unknown>) => {
        this.#writes.add(work);
        work.finally(() => this.#writes.delete(work));
      },
    };
  }

  /** The live session of `sid` on this node, if any. */
  #current(sid: SocketId): SocketSession | undefined {
    const socket = this.#node.get(sid) as ResumableSocket | undefined;
    return socket !== undefined && !socket.closed && socket.resume instanceof SocketSession ? socket.resume : undefined;
  }

  /** Registers a namespace's `static onExpire(session)`, if its handler class has one. */
  addNamespace(namespace: string, cls: object): void {
    const hook = (cls as { onExpire?: unknown }).onExpire;
    if (typeof hook === "function") this.#expireHooks.set(namespace, (session) => hook.call(cls, session));
  }

  /**
   * The protocol's `prepare`: takes the offered resume token, once the app's middleware has run.
   * Synchronous when no token is offered or the store answers at once (in memory): the upgrade
   * then goes on in the same turn, without a promise. When the store fails, the upgrade is refused
   * 503 with `Retry-After: 1`: the client keeps its token and retries, so a short outage (a Redis
   * Cluster failover takes seconds) costs it the wait, not its session (a fresh one would).
   */
  readonly prepare = (req: IncomingMessage): UpgradeRefusal | undefined | Promise<UpgradeRefusal | undefined> => {
    const tokens = resumeTokensOf(req.headers["sec-websocket-protocol"]);
    // The client already left (during the app's middleware): nothing to take the session for.
    if (tokens === undefined || req.socket.destroyed) return undefined;
    const r = req as IncomingMessage & { user?: unknown; session?: { id?: unknown } };
    const sessionId = typeof r.session?.id === "string" ? r.session.id : undefined;
    const failed = (error: unknown): UpgradeRefusal => {
      this.#logger.error({ err: error }, "resume: the session store failed to take a token; refused 503 so that the client retries");
      return {
        kind: Refusal.sessionStoreDown,
        message: "the session store is unavailable; retry to resume",
        headers: { "Retry-After": "1" },
      };
    };
    const taken = ([result, via]: OfferedTake) => {
      if (!result.ok && result.reason === "owner") {
        this.#logger.warn({ url: req.url }, "resume: a token was presented by another user or session; starting a fresh session");
      }
      this.#keepTake(req, result, via);
    };
    const owner = ownerKey(r.user, sessionId);
    // The first offered token the store knows takes the session: the client's latest, else the one
    // it last resumed with (still good after a late take of it: see resumeTokensOf). Another
    // owner's refusal ends the search.
    const takeFrom = (i: number): Awaitable<OfferedTake> =>
      andThen(this.#backend.sessions.take(tokens[i] as string, owner), (result: TakeResult) =>
        !result.ok && result.reason === "unknown" && i + 1 < tokens.length ? takeFrom(i + 1) : [result, i],
      ) as Awaitable<OfferedTake>;
    let result: Awaitable<OfferedTake>;
    try {
      result = takeFrom(0);
    } catch (error) {
      return failed(error);
    }
    if (!isThenable(result)) {
      taken(result as OfferedTake);
      return undefined;
    }
    return Promise.resolve(result).then((outcome) => {
      taken(outcome);
      return undefined;
    }, failed);
  };

  /** The protocol's `closed`: the socket's session learns of the close (no listener per socket). */
  readonly closed = (socket: Socket): void => {
    const session = (socket as ResumableSocket).resume;
    if (session instanceof SocketSession) session.socketClosed();
  };

  /**
   * The protocol's `dropped`: the slow-consumer policy dropped a message of `socket`. A push of a
   * stream or a control frame (gap, resumed) cannot be dropped in silence: the client's position
   * would pass the lost seq without a gap (or its resume never end); a ping is only a probe, and
   * losing one costs nothing. The socket is closed with the session kept, so the client resumes
   * and gets what it missed from history, or a gap; what "drop-oldest" still holds back is not
   * sent first (those messages came after the lost one).
   */
  readonly dropped = (socket: Socket, data: Message): void => {
    if (typeof data !== "string" || !(data.startsWith("[4,") || (data.startsWith("[9,") && data !== PING))) return;
    const session = (socket as ResumableSocket).resume;
    if (!(session instanceof SocketSession) || socket.closed) return;
    outboxOf(socket).discardQueued();
    session.closeToResume("slow consumer: messages dropped");
  };

  /**
   * Makes the socket of an upgrade: the resumed session's (same id, rooms, `data`; replay under
   * way) when the token was taken, else a fresh one (after gap "expired" when a token was refused).
   */
  createSocket<S extends ResumableSocket>(init: SocketInit, req: IncomingMessage, make: (init: SocketInit) => S): S {
    const kept = this.#takesKept === 0 ? undefined : this.#takes.get(req);
    if (kept !== undefined && this.#takes.delete(req)) {
      this.#takesKept--;
      req.socket.off("close", kept.abandoned);
    }
    const taken = kept?.result;
    if (taken?.ok === true && init.ws.protocol === SUBPROTOCOL && taken.record.path === init.path) {
      return this.#resumed(init, taken.record, taken.token, kept?.via ?? 0, make);
    }
    // A session taken for an upgrade that cannot resume it (another path; a token without tsws.v1
    // is not read, see resumeTokensOf): its token is spent, so nothing will resume it; it is let go
    // to expire (its onExpire runs).
    if (taken?.ok === true) {
      this.#logger.warn(
        { socket: taken.record.sid, path: init.path, sessionPath: taken.record.path },
        "resume: a session's token was presented on another path; it is spent, and the session is left to expire",
      );
      this.#release(taken.record, true);
    }
    if (init.ws.protocol !== SUBPROTOCOL) return make(init); // a raw client of an events namespace: nothing to resume
    const socket = make(init);
    if (taken !== undefined) socket.send(encodeControl(ControlKind.GAP, SESSION_EXPIRED));
    const owner = ownerKey(socket.user, typeof socket.session?.id === "string" ? socket.session.id : undefined);
    // No reply cache yet: the session makes it on its first request (services.cacheOf).
    const base = { sid: socket.id, owner, path: init.path, namespace: init.namespace, generation: 0 };
    const session = new SocketSession(this.#services, socket, base);
    socket.resume = session;
    session.open();
    return socket;
  }

  /**
   * Detaches a taken session no socket will hold: it expires after `ttl`, as if its socket had
   * closed. A socket of it still open here is half-open: closed, as a resume closes one (the
   * store's newer generation fences what that socket would write). The token that took it stays
   * good (the take's new token reached nobody) unless `spent`.
   */
  #release(record: SessionRecord, spent = false): void {
    this.#closeHalfOpen(record.sid);
    const sessions = this.#backend.sessions;
    const failed = (error: unknown) => this.#logger.error({ err: error, sid: record.sid }, "resume: a session store write failed");
    when(sessions.detach(record.sid, record.generation), () => {}, failed);
    if (spent) when(sessions.retire(record.sid, record.generation), () => {}, failed);
  }

  /**
   * A token's outcome, for the socket made at the end of the same upgrade. An upgrade that never
   * gets there (the client left during the app's async middleware or a stalled store's take, a
   * shutdown refused it, ws found the socket gone) gives its taken session back when its TCP socket
   * closes: detached, and resumable again with the token that took it, which its client still
   * holds (see `SessionStore.take`).
   */
  #keepTake(req: IncomingMessage, result: TakeResult, via: number): void {
    const before = this.#takes.get(req);
    if (before === undefined) this.#takesKept++;
    else req.socket.off("close", before.abandoned);
    const kept: KeptTake = {
      result,
      via,
      abandoned: () => {
        if (this.#takes.get(req) !== kept) return;
        this.#takes.delete(req);
        this.#takesKept--;
        if (result.ok) this.#release(result.record);
      },
    };
    this.#takes.set(req, kept);
    // A take that answered after the client left (a slow store): its close was already emitted.
    if (req.socket.closed) kept.abandoned();
    else req.socket.once("close", kept.abandoned);
  }

  /** Closes a socket of session `sid` still open on this node (half-open: its session is held by a newer connection now), leaving the session alone. */
  #closeHalfOpen(sid: SocketId): void {
    const old = this.#node.get(sid) as ResumableSocket | undefined;
    if (old === undefined || old.closed) return;
    if (old.resume instanceof SocketSession) old.resume.supersede();
    this.#closeReplaced(old);
  }

  /**
   * Closes the connection of a session a newer one holds (1001 "resumed elsewhere"). Its client
   * has left it, so it is terminated if the closing handshake has not finished within
   * `closeTimeout`, as forced closes are: ws alone would wait 30 s, and the app's `onClose` for it
   * with it. Nothing queued there is lost: the resume replays from what the client says it got.
   */
  #closeReplaced(socket: Socket): void {
    socket.close(1001, "resumed elsewhere");
    // A connection that finished closing meanwhile is not touched again (ws ignores it).
    setTimeout(() => terminate(socket, "resumed elsewhere"), this.#closeTimeout).unref();
  }

  #resumed<S extends ResumableSocket>(
    init: SocketInit,
    record: SessionRecord,
    token: string,
    via: number,
    make: (init: SocketInit) => S,
  ): S {
    this.#closeHalfOpen(record.sid); // a half-open connection of the same session: the new one wins
    const socket = make({ ...init, id: record.sid, resumed: true });
    try {
      socket.data = JSON.parse(record.data) as Socket["data"];
    } catch {
      socket.data = {};
    }
    const cache = this.#cacheOf(record.sid, record.replies);
    // Requests that were still running when the session was taken: on this node the cache awaits
    // its own runs; a run on another node writes its reply to the store, awaited here (bounded).
    const notices = this.#backend.sessions.onReplied === undefined ? undefined : this.#replyNotices;
    for (const id of record.running ?? []) {
      if (cache.has(id)) continue; // this node runs or ran it
      const frame = remoteReply(this.#backend.sessions, record.sid, id, { notices, stopped: () => this.#stopping });
      // Once settled here, the reply goes into this node's record (and its mark goes).
      void cache.adopt(id, frame).then((adopted) => adopted && this.#services.current(record.sid)?.changed());
    }
    const session = new SocketSession(this.#services, socket, sessionBase(record), record, cache);
    socket.resume = session;
    this.#backend.sessions.readFrom?.(record.sid, record.generation, session);
    session.beginReplay();
    for (const room of record.rooms) socket.join(room);
    void session.replay(record, token, via);
    const newer = this.#earlyMoves.supersedes(record.sid, record.generation);
    // Closed as a notice that came now would close it, once the socket is registered on the node.
    if (newer !== undefined) setImmediate(() => this.#movedAway(record.sid, newer));
    return socket;
  }

  /**
   * Another node took session `sid` (its take told this node, or this node's lease renewal found
   * it): a socket of an older generation still open here is half-open. It is closed as the same
   * node's resume closes one, and its close keeps the session (the store fences what it writes).
   */
  #movedAway(sid: SocketId, generation: number): void {
    const socket = this.#node.get(sid) as ResumableSocket | undefined;
    const session = socket?.resume;
    if (socket !== undefined && !socket.closed && session instanceof SocketSession && session.generation >= generation) return;
    // Newer than any socket open here: a take of this node may still be answering (see EarlyMoves).
    this.#earlyMoves.note(sid, generation);
    if (socket === undefined || socket.closed || !(session instanceof SocketSession)) return;
    session.movedAway();
    this.forget(sid); // a resume here later builds its reply cache from the record (the new holder's replies)
    this.#closeReplaced(socket);
  }

  /** The reply cache this node keeps for session `sid`, made (from `replies`) when it has none. */
  #cacheOf(sid: SocketId, replies: SessionRecord["replies"]): ReplyCache {
    let cache = this.#caches.get(sid);
    if (cache === undefined) {
      cache = this.#newCache(sid, replies);
      this.#caches.set(sid, cache);
    }
    return cache;
  }

  /**
   * A reply cache; with a store shared by nodes, the requests that start to run are marked running
   * there, once per turn and session in one write, and only those still running then: a request
   * that settled in its own turn (a synchronous handler) reaches the store with its record
   * instead, and costs nothing more.
   */
  #newCache(sid: SocketId, replies: SessionRecord["replies"]): ReplyCache {
    const sessions = this.#backend.sessions;
    if (sessions.markRunning === undefined) return new ReplyCache(replies);
    let started: number[] = [];
    const flush = () => {
      const ids = started.filter((id) => cache.isRunning(id));
      started = [];
      if (ids.length === 0) return;
      when(
        sessions.markRunning?.(sid, ids),
        () => {},
        (error) =>
          this.#logger.warn({ err: error, socket: sid }, "resume: could not mark requests running; another node may run them again"),
      );
    };
    const cache = new ReplyCache(replies, REPLY_CACHE_SIZE, (id) => {
      if (started.push(id) === 1) setImmediate(flush);
    });
    return cache;
  }

  /** The session ended or expired: its cache here goes. */
  forget(sid: SocketId): void {
    this.#caches.delete(sid);
  }

  #expired(record: SessionRecord): void {
    this.#caches.delete(record.sid);
    when(
      this.#backend.history.drop(inboxStream(record.sid)),
      () => {},
      (error) => this.#logger.warn({ err: error }, "resume: could not drop an expired session's inbox"),
    );
    const hook = record.namespace === undefined ? undefined : this.#expireHooks.get(record.namespace);
    if (hook === undefined) return;
    let data: Record<string, unknown> = {};
    try {
      data = JSON.parse(record.data) as Record<string, unknown>;
    } catch {}
    const session: ExpiredSession = { id: record.sid, path: record.path, namespace: record.namespace, rooms: record.rooms, data };
    try {
      const out = hook(session);
      if (out instanceof Promise) out.catch((error: unknown) => this.#logger.error({ err: error, socket: record.sid }, "onExpire failed"));
    } catch (error) {
      this.#logger.error({ err: error, socket: record.sid }, "onExpire threw");
    }
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#replyNotices.readAll(); // retries waiting for another node's reply end now (their clients resume elsewhere)
    if (this.#backend.sessions.markRunning !== undefined) {
      // Sessions outlive this node: a handler still running must get its reply into the store
      // (then a retry on another node is answered from it, not run again), so the store closes
      // after the handlers settle, or after SHUTDOWN_REPLY_WAIT_MS.
      const running = [...this.#caches.values()].flatMap((cache) => cache.runningHere());
      if (running.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_REPLY_WAIT_MS)));
        await Promise.race([Promise.allSettled(running), bound]);
        clearTimeout(timer);
      }
    }
    // A reply that settled just now has its record write scheduled, not yet queued (changed()
    // coalesces over a setImmediate): one turn later it is among the writes awaited here.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
    await this.#backend.close();
  }
}
