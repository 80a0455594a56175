import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { messageOf } from "../../errors.js";

/*
 * Keys and channels of the classic mode, all under the prefix P (one Redis):
 *   P:nodes              sorted set: node id -> the Redis time (ms) its heartbeat runs out
 *   P:node:<id>:rooms    set: the rooms where node <id> has local members (written when a room
 *                        appears on or empties from that node, not on every join)
 *   P:at:<entry>         set: the nodes holding socket id / session / user <entry> ("i:", "s:", "u:")
 *   P:node:<id>:at       set: node <id>'s entries in the `at` sets (to remove them after it died)
 *   P:ops                channel every node hears: broadcasts
 *   P:presence           channel: "+<id>" when a node is subscribed, "-<id>" when it closes
 *   P:direct:<id>        channel of one node: sendTo, closes and members() questions and answers
 * The heartbeat refreshes a node's three keys whatever its room count (O(1) per node); the `at`
 * sets carry no TTL: the node whose heartbeat finds another expired sweeps that node's entries,
 * a page at a time. Memberships are written with plain commands of at most 16 elements
 * (index-sets.ts); the scripts below are the steps that must read and act at once, O(nodes).
 * `members()` and routed operations read only nodes whose heartbeat is current.
 */

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/**
 * KEYS: nodes, my rooms set, my at index. ARGV: my id, ttl. O(live nodes), whatever the rooms.
 * Returns { 1 if Redis had forgotten this node else 0, Redis' time (ms), count of expired nodes,
 * expired ids..., id, expiry, id, expiry, ... }. An expired node is returned by exactly one
 * heartbeat (removed in the same step): that node sweeps it. The node's own sets live three TTLs,
 * so that they outlast its entry in the nodes set until a survivor has swept them.
 */
const HEARTBEAT = `${NOW}
local forgotten = redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('PEXPIRE', KEYS[1], ARGV[2] * 3)
redis.call('PEXPIRE', KEYS[2], ARGV[2] * 3)
redis.call('PEXPIRE', KEYS[3], ARGV[2] * 3)
local reply = { forgotten, now, #expired }
for _, id in ipairs(expired) do reply[#reply + 1] = id end
for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')) do reply[#reply + 1] = v end
return reply`;

/**
 * KEYS: nodes. ARGV: node-key prefix "P:node:", room, direct-channel prefix, the question, my id.
 * Asks every live node with members of the room (its rooms set holds it) on its direct channel,
 * in the same step; returns those nodes. O(live nodes).
 */
const MEMBERS = `${NOW}
local holders = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if redis.call('SISMEMBER', ARGV[1] .. id .. ':rooms', ARGV[2]) == 1 then
    holders[#holders + 1] = id
    if id ~= ARGV[5] then redis.call('PUBLISH', ARGV[3] .. id, ARGV[4]) end
  end
end
return holders`;

/**
 * KEYS: an at set, nodes. ARGV: direct-channel prefix, the operation, my id. Publishes the
 * operation to each live node holding the entry but this one; returns { subscribers reached, nodes meant }.
 */
const ROUTE = `${NOW}
local reached, meant = 0, 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local expiry = redis.call('ZSCORE', KEYS[2], id)
  if id ~= ARGV[3] and expiry and tonumber(expiry) >= now then
    meant = meant + 1
    reached = reached + redis.call('PUBLISH', ARGV[1] .. id, ARGV[2])
  end
end
return { reached, meant }`;

/**
 * A Lua script with its SHA-1 digest, for EVALSHA.
 * @example
 * await runScript(pub, scripts.route, [atKey, nodesKey], [directPrefix, bytes, nodeId]);
 */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

/**
 * A script with its digest.
 * @example
 * const ping = script("return redis.call('PING')");
 */
export const script = (lua: string): LuaScript => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });

/** The classic mode's scripts: each reads or writes several keys in one step. */
export const scripts = { heartbeat: script(HEARTBEAT), members: script(MEMBERS), route: script(ROUTE) };

/**
 * Whether an EVALSHA failed because Redis does not know the script: "NOSCRIPT ...", or, on a Redis
 * Cluster, ioredis' "Too many Cluster redirections. Last error: ReplyError: NOSCRIPT ..." when a
 * command's retries through a failover ran out on the promoted replica, which has not its old
 * master's script cache (Redis replicates a script's effects, not the script): the node answers
 * again, and the script's text gets it run there.
 * @example
 * if (!unknownScript(error)) throw error; return connection.eval(s.lua, keys.length, ...keys, ...args);
 */
export function unknownScript(error: unknown): boolean {
  const message = messageOf(error);
  return message.startsWith("NOSCRIPT") || message.includes("Last error: ReplyError: NOSCRIPT");
}

/**
 * Runs a Lua script by its digest, sending its text only when Redis does not know it yet.
 * @example
 * const holders = (await runScript(pub, scripts.members, [nodesKey], [nodePrefix, room, directPrefix, question, nodeId])) as string[];
 */
export async function runScript(connection: Redis | Cluster, s: LuaScript, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
  try {
    return await connection.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!unknownScript(error)) throw error;
    return connection.eval(s.lua, keys.length, ...keys, ...args);
  }
}
