/**
 * The parts of a session's record that do not depend on the session's own state: what it keeps
 * for its whole life ({@link SessionBase}), its `data` as JSON, and the record object assembled
 * from its parts. SocketSession.record() gathers the rooms, positions and starts.
 */
import type { Logger } from "../logger.js";
import { dataOf, type Socket } from "../socket/socket.js";
import type { StreamName, StreamPosition } from "./history-log.js";
import type { SessionRecord } from "./session-store.js";

/** The record's `replies` of a session that never made its reply cache (most sessions never send a request). */
export const NO_REPLIES: SessionRecord["replies"] = Object.freeze([]);
/** A record's `rooms`, `positions` or `starts` when it has none: one shared frozen value, not a new one per record. */
const NO_ROOMS: SessionRecord["rooms"] = Object.freeze([]);
const NO_POSITIONS: SessionRecord["positions"] = Object.freeze({});

/**
 * What a session keeps of its record for its whole life (the rest is taken from the socket when
 * the record is written).
 * @example
 * const base: SessionBase = { sid: socket.id, owner: "", path: "/chat/a", namespace: "/chat/:room", generation: 0 };
 */
export type SessionBase = Pick<SessionRecord, "sid" | "owner" | "path" | "namespace" | "generation">;

/**
 * The {@link SessionBase} of a record.
 * @example
 * new SocketSession(services, socket, sessionBase(record), record, cache);
 */
export function sessionBase(record: SessionRecord): SessionBase {
  const { sid, owner, path, namespace, generation } = record;
  return namespace === undefined ? { sid, owner, path, generation } : { sid, owner, path, namespace, generation };
}

/**
 * `socket.data` as the record keeps it: JSON, `"{}"` when it was never made or cannot be
 * serialized (then logged: the session keeps `{}` and a resume restores that).
 * @example
 * dataText(socket, logger); // '{"joinedAt":1}'
 */
export function dataText(socket: Socket, logger: Logger): string {
  try {
    const value = dataOf(socket);
    return value === undefined ? "{}" : (JSON.stringify(value) ?? "{}");
  } catch (error) {
    logger.error({ err: error, socket: socket.id }, "resume: socket.data is not JSON-serializable; the session keeps {}");
    return "{}";
  }
}

/**
 * A record from its parts; empty parts become one shared frozen value (a fresh session's first
 * record has only empty ones).
 * @param positions per stream, undefined for none
 * @param starts per stream, undefined for none
 * @example
 * assembleRecord(base, socket.rooms, "{}", undefined, undefined, NO_REPLIES);
 */
export function assembleRecord(
  base: SessionBase,
  joined: ReadonlySet<string>,
  data: string,
  positions: Record<StreamName, StreamPosition> | undefined,
  starts: Record<StreamName, StreamPosition> | undefined,
  replies: SessionRecord["replies"],
): SessionRecord {
  // Written out, not `{ ...base, rooms, ... }`: a spread followed by new keys takes a slow path in
  // V8 (node 20: ~8 µs for this record against ~0.1 µs), and a handshake builds up to three.
  const { sid, owner, path, namespace, generation } = base;
  const rooms = joined.size === 0 ? NO_ROOMS : [...joined];
  const pos = positions ?? NO_POSITIONS;
  const began = starts ?? NO_POSITIONS;
  return namespace === undefined
    ? { sid, owner, path, rooms, data, positions: pos, starts: began, generation, replies }
    : { sid, owner, path, namespace, rooms, data, positions: pos, starts: began, generation, replies };
}
