/**
 * The gap logic, as pure functions: given where a reader stands in each stream and what history
 * holds, what to replay and which gaps (with reasons) to announce first. Every implementation of
 * the history port feeds the same windows in, so losses are reported the same way on one node and
 * across nodes, and a loss history cannot cover is never silent.
 */
import { ControlKind, encodeControl } from "../protocol/index.js";
import type { HistoryEntry, HistoryWindow, StreamName, StreamPosition } from "./history-log.js";
import { pushFrame } from "./history-log.js";

/**
 * Why missed messages cannot be replayed: `trimmed` (the stream kept `size` newer ones), `expired`
 * (older than the history `ttl`, or the whole session's window ended), `reset` (the stream's
 * history was lost: a new epoch), `too many` (more missed than one resume replays).
 * @example
 * const reason: GapReason = "trimmed";
 */
export type GapReason = "trimmed" | "expired" | "reset" | "too many";

/**
 * The data of a `[9, "gap", data]` frame. A session-wide gap (the session could not be resumed)
 * has no `stream`; a stream's gap says which seqs of the current `epoch` are lost when it knows
 * (`from`..`to`, inclusive; absent for `reset`, where the loss cannot be counted).
 * @example
 * const gap: Gap = { stream: "room:lobby", reason: "trimmed", from: 11, to: 49 };
 */
export interface Gap {
  readonly stream?: StreamName;
  readonly reason: GapReason;
  readonly from?: number;
  readonly to?: number;
  readonly epoch?: string;
}

/**
 * What one stream needs on resume: an optional gap, then the entries, after which the reader stands
 * at `position` (live messages continue from `position.seq + 1`).
 * @example
 * const p: StreamPlan = { stream: "room:lobby", gap: undefined, entries: [], position: { seq: 9, epoch: "k3" } };
 */
export interface StreamPlan {
  readonly stream: StreamName;
  readonly gap: Gap | undefined;
  readonly entries: readonly HistoryEntry[];
  readonly position: StreamPosition;
}

/** At most this many messages are replayed by one resume, across all its streams. @example planResume(pos, windows, DEFAULT_MAX_REPLAY) */
export const DEFAULT_MAX_REPLAY = 1_000;

/**
 * Plans one stream: `after` is the reader's last position, `window` what history returned for it
 * (read with the same `after`), `budget` how many entries may still be replayed.
 * @example
 * planStream("room:lobby", { seq: 10, epoch: "k3" }, window, 1000); // { gap: { reason: "trimmed", from: 11, to: 49 }, entries: [50..120] }
 */
export function planStream(stream: StreamName, after: StreamPosition, window: HistoryWindow, budget: number): StreamPlan {
  const position = { seq: window.top, epoch: window.epoch };
  let entries = window.entries;
  if (entries.length > budget) entries = budget <= 0 ? [] : entries.slice(entries.length - budget);
  if (after.epoch !== window.epoch || after.seq > window.top) {
    // Another epoch (or numbering that went backwards): nothing of the old one can be compared or
    // replayed; what the new epoch holds is all news to this reader.
    return { stream, gap: { stream, reason: "reset", epoch: window.epoch }, entries, position };
  }
  const from = after.seq + 1;
  const firstReplayed = entries.length > 0 ? entries[0]!.seq : window.top + 1;
  if (firstReplayed <= from) return { stream, gap: undefined, entries, position };
  const to = firstReplayed - 1;
  return { stream, gap: { stream, reason: lossReason(from, window), from, to, epoch: window.epoch }, entries, position };
}

/** Why seqs from `from` on are not all replayed: history lost some (by age or count), or the budget cut them. */
function lossReason(from: number, window: HistoryWindow): GapReason {
  if (from >= window.first) return "too many";
  if (window.expiredThrough >= from) return "expired";
  if (window.trimmedThrough >= from) return "trimmed";
  // Lost below `first` with neither marker covering it: the store dropped it on its own (an
  // approximate trim or an eviction) — report it as trimmed rather than not at all.
  return "trimmed";
}

/**
 * Plans a whole resume: every stream of the session in the order given, sharing `maxReplay`
 * entries fairly (max-min: a stream that missed fewer than its share gets them all, and what it
 * leaves goes to the others). A stream cut by the budget keeps its newest entries; its older ones
 * become a `too many` gap. So a few direct messages are not crowded out by a flooded room.
 * @example
 * const plans = planResume([["room:lobby", { seq: 10, epoch: "k3" }]], new Map([["room:lobby", window]]));
 */
export function planResume(
  positions: Iterable<readonly [StreamName, StreamPosition]>,
  windows: ReadonlyMap<StreamName, HistoryWindow>,
  maxReplay = DEFAULT_MAX_REPLAY,
): StreamPlan[] {
  const streams = [...positions].map(([stream, after]) => {
    const window = windows.get(stream);
    if (window === undefined) throw new Error(`planResume: no history window read for stream ${JSON.stringify(stream)}`);
    return { stream, after, window };
  });
  const shares = fairShares(
    streams.map((s) => s.window.entries.length),
    maxReplay,
  );
  return streams.map(({ stream, after, window }, i) => planStream(stream, after, window, shares[i] ?? 0));
}

/**
 * Splits `total` among `wanted` amounts, max-min fair: in order of the smallest wish, each gets
 * what it wants or an equal part of what is left, whichever is less.
 * @example
 * fairShares([1_100, 2], 1_000); // [998, 2]
 */
function fairShares(wanted: readonly number[], total: number): number[] {
  const shares = wanted.map(() => 0);
  const order = wanted.map((_, i) => i).sort((a, b) => (wanted[a] ?? 0) - (wanted[b] ?? 0));
  let left = Math.max(0, total);
  order.forEach((i, k) => {
    const share = Math.min(wanted[i] ?? 0, Math.floor(left / (order.length - k)));
    shares[i] = share;
    left -= share;
  });
  return shares;
}

/**
 * The frames a resume writes, in order: per stream its gap (if any), then its replayed pushes,
 * without those whose `except` list names `reader` (the resuming socket's id). When one emit to
 * several rooms has a copy in more than one replayed stream (the same `PushMeta.id`), the streams
 * are merged instead: all gaps first, then each stream's pushes in its order, a stream's copy
 * written only once every other stream holding the message has written what came before it
 * there, the copies side by side. So the message, delivered with its first copy, keeps its place
 * in each of its rooms (where two emits reached two rooms in opposite orders, no order can, and
 * the stream written first wins).
 * @example
 * for (const frame of resumeFrames(plans, socket.id)) socket.send(frame);
 */
export function resumeFrames(plans: readonly StreamPlan[], reader?: string): string[] {
  const frames: string[] = [];
  const shared = plans.length > 1 ? sharedCopies(plans) : undefined;
  const write = (plan: StreamPlan, entry: HistoryEntry) => {
    // A message its sender excepted the reader from is passed over (its seq still counts as seen).
    if (reader === undefined || entry.except?.includes(reader) !== true) frames.push(pushFrame(plan.stream, entry.seq, entry.body));
  };
  if (shared === undefined) {
    for (const plan of plans) {
      if (plan.gap !== undefined) frames.push(encodeControl(ControlKind.GAP, plan.gap));
      for (const entry of plan.entries) write(plan, entry);
    }
    return frames;
  }
  for (const plan of plans) if (plan.gap !== undefined) frames.push(encodeControl(ControlKind.GAP, plan.gap));
  const next = plans.map(() => 0);
  /** Writes stream `p`'s entries before index `limit`, each shared one after the other streams' earlier entries. */
  const advance = (p: number, limit: number, busy: Set<number>) => {
    const plan = plans[p] as StreamPlan;
    busy.add(p);
    while ((next[p] as number) < limit) {
      const entry = plan.entries[next[p] as number] as HistoryEntry;
      const copies = shared.get(entry);
      for (const [q, at] of copies ?? []) if (q !== p && !busy.has(q) && (next[q] as number) < at) advance(q, at, busy);
      next[p] = (next[p] as number) + 1;
      write(plan, entry);
      for (const [q, at] of copies ?? []) {
        if (q === p || next[q] !== at) continue;
        next[q] = at + 1;
        write(plans[q] as StreamPlan, (plans[q] as StreamPlan).entries[at] as HistoryEntry);
      }
    }
    busy.delete(p);
  };
  for (const [p, plan] of plans.entries()) advance(p, plan.entries.length, new Set());
  return frames;
}

/**
 * A hole in one live stream, filled: the frames of `window` (read after `after`) for `reader`, and
 * where the reader stands once they are written (a gap included, as a resume plans it).
 * @example
 * const { frames, position } = fillFrames("inbox:s1", at, await history.read("inbox:s1", at, size), "s1");
 */
export function fillFrames(
  stream: StreamName,
  after: StreamPosition,
  window: HistoryWindow,
  reader?: string,
): { frames: string[]; position: StreamPosition } {
  const plans = planResume([[stream, after]], new Map([[stream, window]]));
  return { frames: resumeFrames(plans, reader), position: (plans[0] as StreamPlan).position };
}

/**
 * The entries that are copies of one emit to several rooms found in more than one of `plans`,
 * each with where every copy is (plan index, entry index); undefined when there are none.
 */
function sharedCopies(plans: readonly StreamPlan[]): Map<HistoryEntry, [number, number][]> | undefined {
  const byId = new Map<string, [number, number][]>();
  for (const [p, plan] of plans.entries()) {
    for (const [i, entry] of plan.entries.entries()) {
      const id = messageIdOf(entry.body);
      if (id !== undefined) byId.set(id, [...(byId.get(id) ?? []), [p, i]]);
    }
  }
  let shared: Map<HistoryEntry, [number, number][]> | undefined;
  for (const copies of byId.values()) {
    if (copies.length < 2) continue;
    shared ??= new Map();
    for (const [p, i] of copies) shared.set((plans[p] as StreamPlan).entries[i] as HistoryEntry, copies);
  }
  return shared;
}

/** The `PushMeta.id` of a push body (`event, data, meta`), if it has one. */
function messageIdOf(body: string): string | undefined {
  if (!body.endsWith('"}') || !body.includes('{"id":')) return undefined; // most bodies: no parse
  try {
    const parts = JSON.parse(`[${body}]`) as unknown[];
    const id = parts.length === 3 ? (parts[2] as { id?: unknown } | null)?.id : undefined;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The gap a client gets, before anything of its fresh session, when its session could not be
 * resumed (unknown or used token, window over, refused).
 * @example
 * socket.send(encodeControl(ControlKind.GAP, SESSION_EXPIRED)); // '[9,"gap",{"reason":"expired"}]'
 */
export const SESSION_EXPIRED: Gap = Object.freeze({ reason: "expired" });

/**
 * What to do with a live message of a stream, given where its reader stands: deliver it, drop it
 * as already delivered (replay covered it), or notice a hole (a lost pub/sub message) or a new
 * epoch, which must be filled from history (read after `position`) before this message goes out.
 * @example
 * if (admitLive(pos, seq, epoch) === "deliver") { send(frame); pos = { seq, epoch }; }
 */
export function admitLive(position: StreamPosition, seq: number, epoch: string): "deliver" | "duplicate" | "hole" | "reset" {
  if (epoch !== position.epoch) return "reset";
  if (seq <= position.seq) return "duplicate";
  return seq === position.seq + 1 ? "deliver" : "hole";
}
