/**
 * Where a resume's replay of one stream starts: from what the client says it received (its `pos`
 * frame), else from what the session's record holds. Pure, so the rules are read in one place.
 */
import type { StreamName, StreamPosition } from "./history-log.js";
import type { SessionRecord } from "./session-store.js";

/** A position from a client's `pos` frame: a seq, with the epoch when it gave one. */
export interface ToldPosition {
  readonly seq: number;
  readonly epoch?: string;
}

/**
 * The replay of `stream` reads history after `after`; `said` is the client's own position for it,
 * if it gave one (needed when `after` is undefined: the seq to filter a window read from the start).
 * Rules:
 * - the client's word wins: it says what it received, and the record may be ahead of what the
 *   dying connection delivered; without an epoch, the record's is assumed;
 * - a client that sent positions but none for this stream received nothing of it in this session:
 *   it reads from where the session began (a room's start, an inbox's first message), not from what
 *   the node wrote, which may include messages lost in the dying connection;
 * - without a recorded position (its node could not read the room's), from where it began.
 * @param told the client's `pos` frame data, or undefined when it sent none in time
 * @example
 * replayStart("room:lobby", { "room:lobby": [7, "k3"] }, record); // { after: { seq: 7, epoch: "k3" }, said: { seq: 7, epoch: "k3" } }
 */
export function replayStart(
  stream: StreamName,
  told: Record<string, unknown> | undefined,
  record: SessionRecord,
): { after: StreamPosition | undefined; said: ToldPosition | undefined } {
  const said = toldPosition(told?.[stream]);
  const unheard = told !== undefined && said === undefined;
  const kept = unheard ? record.starts?.[stream] : (record.positions[stream] ?? record.starts?.[stream]);
  if (said === undefined) return { after: kept, said };
  if (said.epoch !== undefined) return { after: { seq: said.seq, epoch: said.epoch }, said };
  return { after: kept === undefined ? undefined : { seq: said.seq, epoch: kept.epoch }, said };
}

/**
 * `[seq, epoch?]` (or a bare seq) from a client's `pos` frame, when it is well formed; an empty
 * epoch counts as none.
 * @example
 * toldPosition([7, "k3"]); // { seq: 7, epoch: "k3" }
 * toldPosition([-1]); // undefined
 */
export function toldPosition(value: unknown): ToldPosition | undefined {
  const [seq, epoch] = Array.isArray(value) ? (value as [unknown, unknown]) : [value, undefined];
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return undefined;
  return typeof epoch === "string" && epoch !== "" ? { seq: seq as number, epoch } : { seq: seq as number };
}
