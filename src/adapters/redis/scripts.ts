import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { messageOf } from "../../errors.js";

/*
 * Keys, all under the prefix P:
 *   P:nodes                     sorted set: node id -> the Redis time (ms) its heartbeat runs out
 *   P:node:<id>:rooms           set: the rooms where node <id> has members
 *   P:node:<id>:room:<room>     set: node <id>'s socket ids in <room>
 * Every key carries a TTL of `nodeTtl`, refreshed by the owner's heartbeat, so a killed node's
 * keys vanish by themselves; `members()` reads only nodes whose heartbeat has not run out, so a
 * killed node's sockets leave member lists within `nodeTtl` even before its keys expire.
 */

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/**
 * KEYS: nodes, my rooms set. ARGV: my id, ttl, my room-key prefix.
 * Returns { 1 if Redis had forgotten this node else 0, Redis' time (ms), id, expiry, id, expiry, ... }
 * with every node whose heartbeat is current: the nodes a publish is expected to reach.
 */
const HEARTBEAT = `${NOW}
local forgotten = redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('PEXPIRE', ARGV[3] .. room, ARGV[2]) == 0 then redis.call('SREM', KEYS[2], room) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local reply = { forgotten, now }
for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')) do reply[#reply + 1] = v end
return reply`;

/** KEYS: nodes, my rooms set. ARGV: my id, my room-key prefix. Forgets everything this node recorded. */
const FORGET = `for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[2] .. room) end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])`;

/** KEYS: nodes. ARGV: node-key prefix, ":room:<room>". The union of the room's sets of live nodes. */
const MEMBERS = `${NOW}
local keys = {}
for i, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do keys[i] = ARGV[1] .. id .. ARGV[2] end
if #keys == 0 then return {} end
return redis.call('SUNION', unpack(keys))`;

/**
 * A Lua script with its SHA-1 digest, for EVALSHA.
 * @example
 * await runScript(pub, scripts.forget, [nodesKey, roomsKey], [nodeId, roomKeyPrefix]);
 */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): LuaScript => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });

/** The adapter's scripts: they keep several keys consistent in one step. */
export const scripts = { heartbeat: script(HEARTBEAT), forget: script(FORGET), members: script(MEMBERS) };

/**
 * Runs a Lua script by its digest, sending its text only when Redis does not know it yet.
 * @example
 * const ids = (await runScript(pub, scripts.members, [nodesKey], [nodePrefix, `:room:${room}`])) as string[];
 */
export async function runScript(connection: Redis, s: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await connection.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!messageOf(error).startsWith("NOSCRIPT")) throw error;
    return connection.eval(s.lua, keys.length, ...keys, ...args);
  }
}
