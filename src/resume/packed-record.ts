/**
 * A detached session's record in one flat array, for the in-memory store. A record is several
 * objects (the record, its rooms, its positions, where it started); a store keeps one for every
 * session closed in the last `ttl`, each surviving the young generation and then traced by every
 * full collection. One array of strings and small integers (the strings mostly shared: room names,
 * epochs, the path) is one object to copy and trace instead of four or more, which shows in the
 * handshake rate of a server that keeps a session per connection (docs/resume.md, "Handshakes").
 *
 * Layout: sid, owner, path, namespace, data, generation, replies, running, the rooms' count and
 * rooms, the positions' count and `stream, seq, epoch` each, the starts' count (-1: none) and
 * `stream, seq, epoch` each.
 */
import type { StreamName, StreamPosition } from "./history-log.js";
import type { SessionRecord } from "./session-store.js";

declare const packed: unique symbol;
/** A record packed by {@link packRecord}; read it with {@link unpackRecord}, {@link packedSid}, {@link packedGeneration}. */
export type PackedRecord = readonly unknown[] & { readonly [packed]: true };

const SID = 0;
const OWNER = 1;
const PATH = 2;
const NAMESPACE = 3;
const DATA = 4;
const GENERATION = 5;
const REPLIES = 6;
const RUNNING = 7;
/** Where the rooms' count is: after the fixed fields above. */
const FIXED = 8;

function packPositions(out: unknown[], positions: Readonly<Record<StreamName, StreamPosition>>): void {
  const at = out.length;
  out.push(0);
  let count = 0;
  for (const stream in positions) {
    const pos = positions[stream] as StreamPosition;
    out.push(stream, pos.seq, pos.epoch);
    count++;
  }
  out[at] = count;
}

/**
 * The record as one array.
 * @example
 * held.packed = packRecord(record); // unpackRecord(held.packed) deep-equals record
 */
export function packRecord(record: SessionRecord): PackedRecord {
  const { sid, owner, path, namespace, data, generation, replies, running, rooms } = record;
  const out: unknown[] = [sid, owner, path, namespace, data, generation, replies, running, rooms.length];
  for (const room of rooms) out.push(room);
  packPositions(out, record.positions);
  if (record.starts === undefined) out.push(-1);
  else packPositions(out, record.starts);
  return out as unknown as PackedRecord;
}

function unpackPositions(p: PackedRecord, at: number): [Record<StreamName, StreamPosition> | undefined, number] {
  const count = p[at] as number;
  if (count < 0) return [undefined, at + 1];
  const positions: Record<StreamName, StreamPosition> = {};
  let i = at + 1;
  for (let k = 0; k < count; k++, i += 3) positions[p[i] as StreamName] = { seq: p[i + 1] as number, epoch: p[i + 2] as string };
  return [positions, i];
}

/**
 * The record again (new objects; equal to the one packed).
 * @example
 * const record = unpackRecord(held.packed); // at a take or an expiry
 */
export function unpackRecord(p: PackedRecord): SessionRecord {
  const roomCount = p[FIXED] as number;
  const rooms = p.slice(FIXED + 1, FIXED + 1 + roomCount) as string[];
  const [positions, afterPositions] = unpackPositions(p, FIXED + 1 + roomCount);
  const [starts] = unpackPositions(p, afterPositions);
  const record: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
    sid: p[SID] as string,
    owner: p[OWNER] as string,
    path: p[PATH] as string,
    rooms,
    data: p[DATA] as string,
    positions: positions ?? {},
    generation: p[GENERATION] as number,
    replies: p[REPLIES] as SessionRecord["replies"],
  };
  // The optional parts only when packed with them (a record never has them as undefined).
  if (p[NAMESPACE] !== undefined) record.namespace = p[NAMESPACE] as string;
  if (starts !== undefined) record.starts = starts;
  if (p[RUNNING] !== undefined) record.running = p[RUNNING] as readonly number[];
  return record;
}

/** The packed record's session id. */
export function packedSid(p: PackedRecord): string {
  return p[SID] as string;
}

/** The packed record's generation. */
export function packedGeneration(p: PackedRecord): number {
  return p[GENERATION] as number;
}
