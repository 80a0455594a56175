/**
 * Where the Redis resume stores keep a session's keys (its hash, its inbox's history) and the
 * deadlines that make sessions expire. Every script of the stores names the keys it touches, and
 * on a Redis Cluster those keys must share one hash slot, so the layout decides what shares a tag:
 *
 * - {@link oneRedisLayout} (the classic mode, one Redis): `P:sess:{<sid>}`, one sorted set of all
 *   deadlines `P:sess:deadlines`, the inbox under `P:hist:{inbox:<sid>}`. A session's scripts touch
 *   keys of several slots, which one Redis does not mind.
 * - {@link slotLayout} (the sharded mode, on a Redis Cluster or one Redis): sessions are spread over
 *   `buckets` buckets, b = FNV-1a(sid) mod buckets, and a session's hash, its inbox's keys and the
 *   deadlines of its bucket share the hash tag `{P:s<b>}`: every script names keys of one slot. A
 *   node looks for expired sessions in every bucket.
 *
 * A room's history keeps its own tag (`P:hist:{room:<name>}`) in both: it is touched alone.
 */
import type { StreamName } from "../../resume/history-log.js";
import { hashOf } from "./sharded-layout.js";

/**
 * The keys of the Redis resume stores.
 * @example
 * const layout: SessionLayout = slotLayout("tsws"); layout.hash("0f8e"); // "{tsws:s<b>}:sess:0f8e"
 */
export interface SessionLayout {
  /** How many deadline sets there are (1 on one Redis); each is polled for expired sessions. */
  readonly buckets: number;
  /** The deadline set session `sid` is in: 0 to `buckets - 1`. */
  bucketOf(sid: string): number;
  /** Session `sid`'s hash (record, owner, token digest, generation, holder, running marks). */
  hash(sid: string): string;
  /** The sorted set sid -> expiry (Redis ms) of bucket `bucket`; in the slot of that bucket's sessions. */
  deadlines(bucket: number): string;
  /** The base of a history stream's keys: `<base>:meta` and `<base>:log`. */
  stream(stream: StreamName): string;
}

/** Buckets of {@link slotLayout}: hash slots holding sessions, and sorted sets each node polls. */
export const SESSION_BUCKETS = 64;

const INBOX = "inbox:";

/**
 * The layout of the classic mode, on one Redis.
 * @example
 * oneRedisLayout("tsws").hash("0f8e"); // "tsws:sess:{0f8e}"
 */
export function oneRedisLayout(prefix: string): SessionLayout {
  const deadlines = `${prefix}:sess:deadlines`;
  return {
    buckets: 1,
    bucketOf: () => 0,
    hash: (sid) => `${prefix}:sess:{${sid}}`,
    deadlines: () => deadlines,
    stream: (stream) => `${prefix}:hist:{${stream}}`,
  };
}

/**
 * The layout of the sharded mode: a session's keys in the slot of its bucket's tag `{P:s<b>}`.
 * @example
 * const layout = slotLayout("tsws"); // 64 buckets
 * layout.deadlines(layout.bucketOf(sid)); // "{tsws:s<b>}:deadlines", same slot as layout.hash(sid)
 */
export function slotLayout(prefix: string, buckets = SESSION_BUCKETS): SessionLayout {
  const bucketOf = (sid: string) => hashOf(sid) % buckets;
  const tag = (sid: string) => `{${prefix}:s${bucketOf(sid)}}`;
  return {
    buckets,
    bucketOf,
    hash: (sid) => `${tag(sid)}:sess:${sid}`,
    deadlines: (bucket) => `{${prefix}:s${bucket}}:deadlines`,
    stream: (stream) => (stream.startsWith(INBOX) ? `${tag(stream.slice(INBOX.length))}:hist:${stream}` : `${prefix}:hist:{${stream}}`),
  };
}
