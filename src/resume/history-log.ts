/**
 * The history port: per-stream sequence numbers, epochs and a bounded window of past messages.
 * A stream is a room with history or one session's inbox (its direct messages). Implementations:
 * memory-history.ts (one node) and, with the Redis adapter, Redis Streams. The gap logic that reads
 * these windows is a pure function in gap-plan.ts, so every implementation reports losses alike.
 */

/**
 * A name of a stream: `room:<name>` for a room with history, `inbox:<sid>` for a session's direct messages.
 * @example
 * const stream: StreamName = roomStream("lobby"); // "room:lobby"
 */
export type StreamName = string;

/**
 * A point in a stream: the last sequence number seen (0 = nothing yet) and the stream's epoch.
 * A new epoch means the stream's history was lost or reset: sequence numbers of different epochs
 * are never compared.
 * @example
 * const pos: StreamPosition = { seq: 42, epoch: "k3x9" };
 */
export interface StreamPosition {
  readonly seq: number;
  readonly epoch: string;
}

/**
 * Where a socket started in a room whose position its node could not read (history unreachable
 * past the retries): an epoch no history has (real ones are base64url), so that a resume from it
 * answers gap `reset` and replays what history holds, rather than passing over what was missed.
 * @example
 * planStream("room:lobby", UNKNOWN_START, window, 100).gap; // { stream: "room:lobby", reason: "reset", epoch: window.epoch }
 */
export const UNKNOWN_START: StreamPosition = Object.freeze({ seq: 0, epoch: "?" });

/**
 * One message kept in history: its sequence number and its body, the encoded `event, data` part of
 * a `[4, stream, seq, event, data?]` frame (see {@link pushBody}), so live sends and replays write
 * the same bytes and a broadcast is still encoded once.
 * @example
 * const entry: HistoryEntry = { seq: 7, body: '"message",{"text":"hi"}' };
 */
export interface HistoryEntry {
  readonly seq: number;
  readonly body: string;
  /** The socket ids the message was not for (`except()`), when the store keeps them (in memory); absent when none. */
  readonly except?: readonly string[];
}

/**
 * What a stream's history holds right now, as read for one reader. `entries` are the newest ones
 * (at most the read's `limit`) after the reader's position in the current epoch, oldest first.
 * `trimmedThrough`/`expiredThrough` say up to which seq messages were dropped for count (`size`)
 * or for age (`ttl`): gap-plan.ts turns them into the gap's reason.
 * @example
 * const w: HistoryWindow = { epoch: "k3x9", top: 120, first: 21, trimmedThrough: 20, expiredThrough: 0, entries };
 */
export interface HistoryWindow {
  /** The stream's current epoch. */
  readonly epoch: string;
  /** The last seq appended in this epoch (0 = none). */
  readonly top: number;
  /** The oldest seq still kept (top + 1 when nothing is kept). */
  readonly first: number;
  /** The highest seq dropped because the stream held `size` newer messages (0 = none). */
  readonly trimmedThrough: number;
  /** The highest seq dropped because it was older than `ttl` (0 = none). */
  readonly expiredThrough: number;
  /** The newest kept entries after the reader's position, oldest first, at most `limit`. */
  readonly entries: readonly HistoryEntry[];
}

/** A value now, or later. @example const n: Awaitable<number> = 1; */
export type Awaitable<T> = T | PromiseLike<T>;

/**
 * Where resumable sessions keep per-stream history. Appends to one stream are numbered 1, 2, 3...
 * without holes within an epoch; the epoch changes whenever the numbering could not continue (the
 * store was emptied, restarted or evicted the stream).
 * @example
 * const { seq, epoch } = await log.append("room:lobby", pushBody("message", { text: "hi" }));
 * const window = await log.read("room:lobby", { seq: 40, epoch }, 100);
 */
export interface HistoryLog {
  /**
   * Appends a body; returns its position. O(1). `except`, the socket ids the message is not for,
   * is kept with the entry by stores that can (in memory; the Redis history does not yet).
   */
  append(stream: StreamName, body: string, except?: readonly string[]): Awaitable<StreamPosition>;
  /**
   * The newest entries after `after` (all kept entries of the current epoch when `after`'s epoch is
   * another one, `after` is past the epoch's top, so from an older numbering, or `after` is
   * undefined), at most `limit`, with the metadata gap-plan.ts needs (whose `planStream` reports
   * those cases as a reset).
   */
  read(stream: StreamName, after: StreamPosition | undefined, limit: number): Awaitable<HistoryWindow>;
  /** The stream's current top, creating the stream (and its epoch) if it has none yet: a joiner's start position. */
  position(stream: StreamName): Awaitable<StreamPosition>;
  /** Forgets a stream entirely (an ended session's inbox). A later append starts a new epoch. */
  drop(stream: StreamName): Awaitable<void>;
}

/**
 * The stream of a room with history.
 * @example
 * roomStream("lobby"); // "room:lobby"
 */
export function roomStream(room: string): StreamName {
  return `room:${room}`;
}

/**
 * The stream of one session's direct messages.
 * @example
 * inboxStream(socket.id); // "inbox:0f8e..."
 */
export function inboxStream(sid: string): StreamName {
  return `inbox:${sid}`;
}

/**
 * Encodes the `event, data?, meta?` part of a push frame once, before the seq is known (the Redis
 * script assigns it): {@link pushFrame} then builds the whole frame by concatenation. `id` is the
 * message id of an emit to several rooms (see `PushMeta`).
 * @example
 * pushBody("message", { text: "hi" }); // '"message",{"text":"hi"}'
 * pushBody("message", { text: "hi" }, "Qx3f_k2a.1"); // '"message",{"text":"hi"},{"id":"Qx3f_k2a.1"}'
 */
export function pushBody(event: string, data?: unknown, id?: string): string {
  const parts = id !== undefined ? [event, data === undefined ? null : data, { id }] : data === undefined ? [event] : [event, data];
  return JSON.stringify(parts).slice(1, -1);
}

/**
 * The push body of a tsws.v1 event frame's text (`[0, event, data?]`), or undefined when the text
 * is not one (other frames, other JSON, not JSON): what `sendTo` keeps in a session's inbox.
 * @example
 * eventPushBody('[0,"note",{"text":"hi"}]'); // '"note",{"text":"hi"}'
 * eventPushBody("hello"); // undefined
 */
export function eventPushBody(text: string): string | undefined {
  if (!text.startsWith("[0")) return undefined;
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(frame) || frame[0] !== 0 || typeof frame[1] !== "string" || frame.length < 2 || frame.length > 3) return undefined;
  return frame.length === 2 ? pushBody(frame[1]) : pushBody(frame[1], frame[2]);
}

/**
 * The `[4, stream, seq, event, data?]` frame for a stored body; byte for byte what the protocol's
 * `encodePush(stream, seq, event, data)` writes.
 * @example
 * pushFrame("room:lobby", 42, pushBody("message", { text: "hi" })); // '[4,"room:lobby",42,"message",{"text":"hi"}]'
 */
export function pushFrame(stream: StreamName, seq: number, body: string): string {
  return `[4,${JSON.stringify(stream)},${seq},${body}]`;
}
