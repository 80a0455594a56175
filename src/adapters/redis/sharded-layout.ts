import type { Cluster, Redis } from "ioredis";
import type { Room } from "../../types.js";
import { script } from "./scripts.js";

/**
 * FNV-1a (32 bits) of a name's UTF-16 code units: how the sharded mode spreads rooms, entries and
 * sessions over partitions and buckets, the same on every node.
 * @example
 * hashOf("lobby") % 64; // the partition of room "lobby" at 64 partitions
 */
export function hashOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/*
 * Keys and channels of the sharded mode, all under the prefix P. `{...}` is a hash tag: Redis
 * Cluster places a key or sharded channel by the text between the braces alone, so everything
 * tagged `{P:p<n>}` lives in one hash slot and one script or transaction can touch it all.
 *
 *   {P:p<n>}:ops              sharded channel of partition n: broadcasts to its rooms, members() questions
 *   {P:p<n>}:room:<room>      set: the nodes with local members in <room> (room n = hash(room) mod partitions)
 *   {P:p<n>}:rooms:<node>     set: <node>'s rooms in partition n (to clean up after a node that died)
 *   {P:p<n>}:at:<kind>:<key>  set: the nodes holding socket id / session / user <key> (kind i, s, u)
 *   {P:p<n>}:keys:<node>      set: <node>'s entries in the `at` sets of partition n
 *   {P:n:<node>}:direct       sharded channel of one node: sendTo, closes and members() answers
 *   {P}:nodes                 sorted set: node id -> Redis time (ms) its heartbeat runs out
 *   {P:s<b>}:...              with `resume`: sessions, their inboxes and deadlines, by bucket (session-layout.ts)
 *
 * Nothing but `{P}:nodes` has a TTL: the liveness of everything else is that of its node, and the
 * node whose heartbeat finds another node expired removes that node's entries, a page of its
 * index sets at a time (index-sets.ts). Memberships are written with plain commands of at most
 * 16 elements (index-sets.ts); the scripts below are the two steps that must read and act at once.
 */

/**
 * Where one cluster's keys and channels are, for a prefix and a partition count.
 * @example
 * const layout = new ShardedLayout("tsws", 64); layout.partitionOf("lobby"); // 0..63
 */
export class ShardedLayout {
  readonly prefix: string;
  readonly partitions: number;
  readonly nodes: string;

  constructor(prefix: string, partitions: number) {
    this.prefix = prefix;
    this.partitions = partitions;
    this.nodes = `{${prefix}}:nodes`;
  }

  /** The partition of a room, or of an `at` entry: {@link hashOf} the name, mod the partition count. */
  partitionOf(name: string): number {
    return hashOf(name) % this.partitions;
  }

  channel(partition: number): string {
    return `${this.#tag(partition)}:ops`;
  }

  /** The partition a partition channel belongs to, or -1 for any other channel. */
  partitionOfChannel(channel: string): number {
    const head = `{${this.prefix}:p`;
    if (!channel.startsWith(head) || !channel.endsWith("}:ops")) return -1;
    return Number(channel.slice(head.length, -"}:ops".length));
  }

  /** A room's node set; `partition` given when the room was found in a partition's index (a sweep). */
  room(room: Room, partition = this.partitionOf(room)): string {
    return `${this.#tag(partition)}:room:${room}`;
  }

  rooms(partition: number, node: string): string {
    return `${this.#tag(partition)}:rooms:${node}`;
  }

  /** An `at` entry: "i:<socket id>", "s:<session>" or "u:<user>"; `partition` as for {@link room}. */
  at(entry: string, partition = this.partitionOf(entry)): string {
    return `${this.#tag(partition)}:at:${entry}`;
  }

  keys(partition: number, node: string): string {
    return `${this.#tag(partition)}:keys:${node}`;
  }

  direct(node: string): string {
    return `{${this.prefix}:n:${node}}:direct`;
  }

  #tag(partition: number): string {
    return `{${this.prefix}:p${partition}}`;
  }
}

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/** KEYS: a room's node set. ARGV: the partition channel, the question. The nodes, asked in the same step. */
const MEMBERS = `local nodes = redis.call('SMEMBERS', KEYS[1])
if #nodes > 1 or (#nodes == 1 and nodes[1] ~= ARGV[3]) then redis.call('SPUBLISH', ARGV[1], ARGV[2]) end
return nodes`;

/**
 * KEYS: the nodes sorted set. ARGV: my id, ttl. O(live nodes), whatever the rooms.
 * Returns { 1 if Redis had forgotten me else 0, Redis time, count of expired nodes, expired ids..., id, expiry, ... }.
 * An expired node is returned by exactly one heartbeat (it is removed in the same step): that node sweeps it.
 */
const HEARTBEAT = `${NOW}
local forgotten = redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local reply = { forgotten, now, #expired }
for _, id in ipairs(expired) do reply[#reply + 1] = id end
for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')) do reply[#reply + 1] = v end
return reply`;

/** The sharded mode's scripts: each declares keys of one hash slot only. */
export const shardedScripts = {
  members: script(MEMBERS),
  heartbeat: script(HEARTBEAT),
};

/**
 * Whether an ioredis client is a `Redis.Cluster`.
 * @example
 * const where = isCluster(client) ? "a Redis Cluster" : "one Redis";
 */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}
