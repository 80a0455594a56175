/**
 * The session port: what a resumable session leaves behind when its socket closes, found again by a
 * rotating token (each take returns the next; see {@link SessionStore.take}). Implementations: memory-sessions.ts (one node) and, with the Redis adapter, a
 * store over Redis hashes (so a session outlives the node that held it).
 */
import type { Awaitable, StreamName, StreamPosition } from "./history-log.js";

/**
 * Everything a resume restores. `owner` is the user/session key the app's middleware produced on the
 * first connection ("" when it produced none); a resume is refused unless the new request yields the
 * same key. `generation` grows by one on every resume and fences stale writers.
 * @example
 * const rec: SessionRecord = { sid: socket.id, owner: "user:42", path: "/chat/lobby", rooms: ["lobby"], data: "{}", positions: {}, generation: 0, replies: [] };
 */
export interface SessionRecord {
  readonly sid: string;
  readonly owner: string;
  /** The namespace path the socket connected to; a resume on another path is refused. */
  readonly path: string;
  /** The `@Namespace` pattern, so the right handler's `onExpire` runs (absent in records of older versions). */
  readonly namespace?: string;
  readonly rooms: readonly string[];
  /** `socket.data` as JSON. */
  readonly data: string;
  /** The last position written to the socket, per stream (its rooms with history and its inbox). */
  readonly positions: Readonly<Record<StreamName, StreamPosition>>;
  /**
   * Where the session began in each of its streams (a room: the node's position when it joined; the
   * inbox: before its first message). A resuming client that names no position for a stream
   * received nothing of it: it is replayed from here, not from `positions`, which may count
   * messages lost in the dying connection.
   */
  readonly starts?: Readonly<Record<StreamName, StreamPosition>>;
  readonly generation: number;
  /** Settled replies of the reply cache, `[requestId, encodedFrame]`, oldest first. */
  readonly replies: readonly (readonly [number, string])[];
  /**
   * Requests marked running ({@link SessionStore.markRunning}) whose reply had not reached the
   * store when the session was taken: a retry of one waits for its reply ({@link SessionStore.replyOf}).
   * Only in records `take` returns, from stores that mark them.
   */
  readonly running?: readonly number[];
}

/**
 * What gives a live session's current record (its socket's rooms, `data`, positions, replies).
 * @example
 * store.open(firstRecord, session); // session.record() is read again at a take
 */
export interface RecordSource {
  record(): SessionRecord;
}

/**
 * Where a request marked running stands in the store: `""` still running, the reply (or error)
 * frame once settled, `null` when the store holds no such mark (the session ended or expired).
 * @example
 * const state: ReplyState = await store.replyOf!(sid, 7); if (state) socket.send(state);
 */
export type ReplyState = string | null;

/**
 * Why {@link SessionStore.take} refused: no session has that token (unknown, retired, or
 * expired), or the session belongs to someone else (the token is not consumed then).
 * @example
 * if (!result.ok && result.reason === "owner") log.warn("resume token presented by another user");
 */
export type TakeRefusal = "unknown" | "owner";

/**
 * The answer of {@link SessionStore.take}: the record (its generation already advanced) and the
 * next token, or why not.
 * @example
 * const r = await store.take(token, owner); if (r.ok) welcome(r.token);
 */
export type TakeResult =
  | { readonly ok: true; readonly record: SessionRecord; readonly token: string }
  | { readonly ok: false; readonly reason: TakeRefusal };

/**
 * Where resumable sessions wait between a close and a resume. A session is *attached* while a
 * socket holds it (it never expires then) and *detached* after its socket closed: then it expires
 * `ttl` later unless taken, and every `onExpire` listener runs once with its last record.
 * @example
 * const token = await store.open(record);           // fresh session: send token in the welcome frame
 * await store.update({ ...record, rooms: ["a"] });  // on join/leave/data change
 * await store.detach(record.sid, record.generation); // socket closed
 * const r = await store.take(token, owner);          // a reconnect presents the token
 */
export interface SessionStore {
  /**
   * Saves a new, attached session and returns its first token. A store that {@link readsLive}
   * reads the session's later records from `source` while it stays attached.
   */
  open(record: SessionRecord, source?: RecordSource): Awaitable<string>;
  /**
   * True for a store in this process's memory: it reads an attached session's current record from
   * its source (given to `open` or `readFrom`) when it needs one, so a session writes nothing to it
   * between its open and its close (its joins, leaves and replies cost no record each).
   */
  readonly readsLive?: boolean;
  /** With {@link readsLive}: the socket of a taken session's `generation` gives its record from now on. */
  readFrom?(sid: string, generation: number, source: RecordSource): void;
  /**
   * Replaces the record's content; ignored (false) if the session is gone or `record.generation`
   * is older than the stored one. `settled` are the replies settled since the last update: a
   * store that marks running requests clears their marks with a written record, and, when a newer
   * generation holds the session, writes each reply to its mark instead (not fenced), so the node
   * that took the session gets it.
   */
  update(record: SessionRecord, settled?: readonly (readonly [number, string])[]): Awaitable<boolean>;
  /**
   * Marks requests `ids` of session `sid` running (sent as they start, not awaited), so a node that
   * takes the session while they run waits for their replies instead of running them again. Only
   * a store shared by nodes has it; a graceful shutdown waits for the handlers of such sessions.
   */
  markRunning?(sid: string, ids: readonly number[]): Awaitable<void>;
  /** Where request `id`, marked running, stands (see {@link ReplyState}). With `markRunning`. */
  replyOf?(sid: string, id: number): Awaitable<ReplyState>;
  /**
   * The socket of `generation` closed, or the upgrade that took `generation` was abandoned before
   * any socket got it: the session expires `ttl` from now unless taken. Ignored for an older
   * generation.
   */
  detach(sid: string, generation: number): Awaitable<void>;
  /**
   * Takes a session by token: a new token is returned, the generation advances and the session is
   * attached again. The token that took it stays good until the client shows it holds the new one
   * ({@link retire}, or a take with the new token): a take whose new token never reached the
   * client (the connection dropped before `resumed`, the store's answer was lost) can be made
   * again with the same token. Any older token resumes nothing. Refused if the owner differs (the
   * token stays valid). Rejects only when the store is unavailable (unreachable, failing over: the
   * upgrade is refused 503 and the client retries); an answer it cannot use (a key of the wrong
   * type) is `unknown`.
   */
  take(token: string, owner: string): Awaitable<TakeResult>;
  /**
   * The client of `generation` holds the token that generation's take returned (it said so with
   * `[9, "confirm"]`), or that token was spent on purpose: the token that took it resumes nothing
   * from now on. Ignored for another generation.
   */
  retire(sid: string, generation: number): Awaitable<void>;
  /**
   * Ends a session for good (logout, 4401, its client closed it): no resume. True if it ended it;
   * with `generation`, only while that generation holds it (a resume elsewhere since is left
   * alone: false).
   */
  end(sid: string, generation?: number): Awaitable<boolean>;
  /**
   * Whether the store holds session `sid` (attached or away), answered at once. Only a store whose
   * sessions all live in this process (in memory) has it; a `sendTo` to a session that is away is
   * kept in its inbox when it does.
   */
  holds?(sid: string): boolean;
  /** Runs `listener` once per session whose window ended without a resume. */
  onExpire(listener: (record: SessionRecord) => void): void;
  /**
   * Runs `listener` when another node took a session this node held (`generation` is the new
   * one): a socket of it still open here is half-open and is closed without touching the session.
   * Only a store shared by nodes has it.
   */
  onMoved?(listener: (sid: string, generation: number) => void): void;
  /**
   * Runs `listener` when the reply (or error) `frame` of request `id` of session `sid`, marked
   * running, was written by another node after this node took the session: a retry waiting for it
   * ({@link replyOf}) is answered at once. A notice, at most once: whoever waits reads `replyOf` too,
   * now and then. Only a store shared by nodes has it.
   */
  onReplied?(listener: (sid: string, id: number, frame: string) => void): void;
  /** Stops timers and releases connections; sessions are not expired by it. */
  close(): Awaitable<void>;
}

/**
 * The owner key a session is bound to: the user the app's middleware set (`req.user`: a string or
 * number, or an object's `id`, as `closeUser` matches it), else the session id (`req.session.id`),
 * else "" (anonymous: the token alone is the credential). A resume is refused unless the new
 * request yields the same key.
 * @example
 * ownerKey({ id: 42 }, "sess-1"); // "user:42"
 * ownerKey(undefined, "sess-1");  // "session:sess-1"
 */
export function ownerKey(user: unknown, sessionId: string | undefined): string {
  const id = typeof user === "string" || typeof user === "number" ? user : (user as { id?: unknown } | null | undefined)?.id;
  if ((typeof id === "string" && id !== "") || typeof id === "number") return `user:${id}`;
  return sessionId === undefined || sessionId === "" ? "" : `session:${sessionId}`;
}
