/**
 * The Lua scripts of the Redis session store (session-store.ts), each one atomic step on one
 * session's keys, or on one bucket's deadlines and the hashes it names. Keys and fields: see
 * session-store.ts; where the keys are: session-layout.ts.
 */
import { script } from "./scripts.js";

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/** KEYS: hash, deadlines. ARGV: sid, record, owner, digest, generation, lease, keep, holder ("" = not kept). */
const OPEN = `${NOW}
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'o', ARGV[3], 'd', ARGV[4], 'g', ARGV[5])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'n', ARGV[8]) end
redis.call('ZADD', KEYS[2], now + ARGV[6], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6] + ARGV[7])`;

/**
 * KEYS: hash. ARGV: record, generation, "1" to tell the holder of replies ("" = no notices), channel
 * prefix, channel suffix, publish command ("" = the caller publishes), notice head, sid, then
 * request id and reply frame of each reply settled since the last update. { 1 } if written: the
 * record holds those replies, their running marks go. A newer generation (another node took the
 * session) keeps the record, but each reply replaces its mark, unfenced, for that node to read, and
 * the node holding the session now is handed it (`<notice head><id>:<sid length>:<sid><frame>`), so
 * a retry there waiting for it is answered at once: { 0, holder, id, id, ... } (holder "" and no
 * ids when none is told, or the script told it itself).
 */
const UPDATE = `local g = redis.call('HGET', KEYS[1], 'g')
if not g then return { 0 } end
if tonumber(g) > tonumber(ARGV[2]) then
  local n = false
  if ARGV[3] ~= '' then n = redis.call('HGET', KEYS[1], 'n') end
  if not n or n == '' then n = false end
  local told = { 0, '' }
  for i = 9, #ARGV, 2 do
    local f = 'q:' .. ARGV[i]
    if redis.call('HEXISTS', KEYS[1], f) == 1 then
      redis.call('HSET', KEYS[1], f, ARGV[i + 1])
      if n and ARGV[6] ~= '' then
        redis.call(ARGV[6], ARGV[4] .. n .. ARGV[5], ARGV[7] .. ARGV[i] .. ':' .. #ARGV[8] .. ':' .. ARGV[8] .. ARGV[i + 1])
      elseif n then
        told[2] = n
        told[#told + 1] = ARGV[i]
      end
    end
  end
  return told
end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
for i = 9, #ARGV, 2 do redis.call('HDEL', KEYS[1], 'q:' .. ARGV[i]) end
return { 1 }`;

/** KEYS: hash. ARGV: request ids. Marks them running, if the session exists (a new key would have no TTL). */
const MARK = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV do redis.call('HSET', KEYS[1], 'q:' .. ARGV[i], '') end
return 1`;

/**
 * KEYS: hash, deadlines. ARGV: sid, generation, delay, keep, "1" for a detach ("0": a lease
 * renewal). Sets the deadline unless a newer generation holds the session (then -1: it
 * moved; 0: it is gone); a detach also clears the holder.
 */
const DEADLINE = `${NOW}
local g = redis.call('HGET', KEYS[1], 'g')
if not g then return 0 end
if tonumber(g) > tonumber(ARGV[2]) then return -1 end
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[1], 'n') == 1 then redis.call('HSET', KEYS[1], 'n', '') end
redis.call('ZADD', KEYS[2], now + ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3] + ARGV[4])
return 1`;

/**
 * KEYS: hash, deadlines. ARGV: sid, expected digest (the current `d` or the previous `p`), new
 * digest, lease, keep, holder ("" = none kept), channel prefix, channel suffix, publish command
 * ("" = the caller publishes), notice head. The expected digest becomes `p`, good while the
 * generation this take makes (`pg`) holds the session and until retired: a take that does not
 * write `pg` (a node from before `p`) ends it.
 * { generation, record, { request id, mark, ... }, previous holder if another node else "" } or nil
 * (a mark is "" while the request runs, else its reply). A previous holder that is another node
 * hears `<notice head><generation>:<sid>` on its channel: a socket of the session it still has open
 * is half-open.
 */
const TAKE = `${NOW}
if redis.call('HGET', KEYS[1], 'd') ~= ARGV[2] then
  local m = redis.call('HMGET', KEYS[1], 'p', 'pg', 'g')
  if m[1] ~= ARGV[2] or m[2] ~= m[3] then return nil end
end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'p', ARGV[2])
local g = redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HSET', KEYS[1], 'pg', g)
local held = redis.call('HGET', KEYS[1], 'n')
local away = ''
if ARGV[6] == '' then
  redis.call('HDEL', KEYS[1], 'n')
else
  redis.call('HSET', KEYS[1], 'n', ARGV[6])
  if held and held ~= '' and held ~= ARGV[6] then
    away = held
    if ARGV[9] ~= '' then redis.call(ARGV[9], ARGV[7] .. held .. ARGV[8], ARGV[10] .. g .. ':' .. ARGV[1]) end
  end
end
redis.call('ZADD', KEYS[2], now + ARGV[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4] + ARGV[5])
local q = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'q:' then
    q[#q + 1] = string.sub(f, 3)
    q[#q + 1] = redis.call('HGET', KEYS[1], f)
  end
end
return { g, redis.call('HGET', KEYS[1], 'r'), q, away }`;

/**
 * KEYS: hash, deadlines. ARGV: sid, generation ("" = any). 1 if it ended the session (gone after),
 * 0 if there was none or another generation holds it (untouched).
 */
const END = `local g = redis.call('HGET', KEYS[1], 'g')
if g and ARGV[2] ~= '' and g ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not g then return 0 end
return 1`;

/** KEYS: hash. ARGV: generation. Forgets the previous digest `p` while that generation holds the session. */
const RETIRE = `if redis.call('HGET', KEYS[1], 'g') == ARGV[1] then redis.call('HDEL', KEYS[1], 'p', 'pg') end
return 1`;

/** KEYS: deadlines. ARGV: max. The sids whose deadline has passed (read only; {@link CLAIM} decides). */
const DUE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])`;

/**
 * KEYS: deadlines, then the hash of each sid. ARGV: the sids (of that bucket). Claims those still
 * expired (a take or renewal since DUE moved their deadline; another node may have claimed them):
 * { g, r, g, r, ... }. Every key is named, so on a Redis Cluster all are in the bucket's slot.
 */
const CLAIM = `${NOW}
local reply = {}
for i = 1, #ARGV do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if at and tonumber(at) <= now then
    redis.call('ZREM', KEYS[1], ARGV[i])
    local m = redis.call('HMGET', KEYS[i + 1], 'g', 'r')
    redis.call('DEL', KEYS[i + 1])
    if m[2] then reply[#reply + 1] = m[1] reply[#reply + 1] = m[2] end
  end
end
return reply`;

/** The session store's scripts; each names its keys (one slot each in the sharded mode's layout). */
export const sessionScripts = {
  open: script(OPEN),
  update: script(UPDATE),
  mark: script(MARK),
  deadline: script(DEADLINE),
  take: script(TAKE),
  retire: script(RETIRE),
  end: script(END),
  due: script(DUE),
  claim: script(CLAIM),
};
