import type { Adapter } from "../../cluster/adapter.js";

/**
 * What the Redis adapter has carried so far; read it to alert on a Redis outage. Counters only
 * grow; `inFlight`, `inFlightBytes`, `nodes` and `connected` are the state right now.
 * @example
 * setInterval(() => { if (!adapter.stats.connected) alert(`Redis down, ${adapter.stats.dropped} dropped`) }, 10_000);
 */
export interface RedisAdapterStats {
  /** Operations Redis delivered, in time, to every node expected to receive them. */
  published: number;
  /** Operations that did not reach every other node: the sum of `overflowed`, `undelivered`, `late` and those lost with the connection. Never retried. */
  dropped: number;
  /** Dropped without being sent: `maxInFlight` or `maxInFlightBytes` was reached (Redis slow or frozen). */
  overflowed: number;
  /** Sent, but PUBLISH reached fewer nodes than were alive (a node was still reconnecting). */
  undelivered: number;
  /** Sent, but Redis answered after `maxOpAge`: the other nodes discard it as stale. */
  late: number;
  /** Operations received from other nodes and carried out on at least one local socket (or a local session/user). */
  received: number;
  /** Operations received from other nodes that matched no local socket: the waste interest routing avoids (own echoes excluded). */
  ignored: number;
  /** Every message Redis delivered to this node's subscriber: operations (own echoes included), members() questions and answers. */
  arrived: number;
  /** Sharded mode: operations other nodes published to a partition this node listens to that never arrived (a shard's failover, a failed publish), counted from per-publisher sequence gaps. Always 0 in classic mode. */
  lost: number;
  /** Sharded mode: `members()` calls that answered without every node that holds members (one did not answer within `membersTimeout`). */
  membersIncomplete: number;
  /** Sharded mode: partition channels subscribed now (those where this node has members). Always 0 in classic mode. */
  partitions: number;
  /** Operations received from other nodes older than `maxOpAge`, discarded rather than delivered late. */
  stale: number;
  /** `members()` calls answered with this node's members only because Redis was down, busy or slower than `membersTimeout`. */
  membersLocalOnly: number;
  /** Commands sent to Redis and not answered yet (at most `maxInFlight`). */
  inFlight: number;
  /** Bytes of operations published and not answered yet (at most `maxInFlightBytes`). */
  inFlightBytes: number;
  /** Nodes a publish is expected to reach, this one included. */
  nodes: number;
  /** Both connections are up and the subscription is confirmed. */
  connected: boolean;
}

/**
 * The Redis adapter: an {@link Adapter} with counters and this node's id.
 * @example
 * const adapter: RedisAdapter = createRedisAdapter(new Redis(url)); createServer({ handlers: [Chat], adapter });
 */
export interface RedisAdapter extends Adapter {
  /** Counters since start; a fresh object on every read. */
  readonly stats: RedisAdapterStats;
  /** This node's id once started (it names the node's keys in Redis). */
  readonly nodeId: string | undefined;
}
