/**
 * A {@link HistoryLog} over Redis Streams, shared by every node: one Lua script appends (XADD with
 * an exact MAXLEN), numbers (a counter in a meta hash) and, when asked, PUBLISHes in one atomic
 * step, so live and replayed messages carry the same numbers. Keys per stream, under a base the
 * layout gives (session-layout.ts: `P:hist:{<stream>}`, or a session's inbox in its bucket's slot
 * `{P:s<b>}:hist:inbox:<sid>`), one hash tag so both land in one Redis Cluster slot:
 *   <base>:meta   hash: e = epoch, s = last seq, x = expired through, a = last append (Redis ms)
 *   <base>:log    stream: entry id `<seq>-1`, fields b = body, t = append time (Redis ms),
 *                 and e = the `except()` socket ids as a JSON array, when there are any
 * The meta hash lives `metaTtl` after the last append, the log `ttl` after it: an idle stream's
 * entries vanish with their age while its numbering stays. A meta hash that vanished (restart
 * without persistence, FLUSHALL, eviction) or a log that vanished while it should still hold
 * entries starts a new epoch: readers then get gap "reset", never a replay of another epoch.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { HistoryEntry, HistoryLog, HistoryWindow, StreamName, StreamPosition } from "../../resume/history-log.js";
import { type LuaScript, runScript } from "./scripts.js";
import { oneRedisLayout, type SessionLayout } from "./session-layout.js";

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

// Shared by both scripts: load the meta (creating or resetting the epoch), then drop entries
// older than ttl from the head of the log, in batches, recording how far that went.
// ARGV[1] ttl, ARGV[2] metaTtl, ARGV[3] a fresh epoch to use if a new one is needed, ARGV[4] size.
const PREPARE = `${NOW}
local ttl = tonumber(ARGV[1])
local size = tonumber(ARGV[4])
local m = redis.call('HMGET', KEYS[1], 'e', 's', 'x', 'a')
local epoch, top, x, a = m[1], tonumber(m[2] or '0'), tonumber(m[3] or '0'), tonumber(m[4] or '0')
local held = redis.call('XLEN', KEYS[2])
if epoch and held == 0 and top > math.max(x, top - size) then
  if now - a >= ttl then x = top else epoch = false end
end
if not epoch then
  epoch, top, x, a = ARGV[3], 0, 0, 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0, 'x', 0, 'a', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
while held > 0 do
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 32)
  local last = 0
  for _, e in ipairs(head) do
    local f = e[2]
    local at = 0
    for i = 1, #f, 2 do if f[i] == 't' then at = tonumber(f[i + 1]) end end
    if at > now - ttl then break end
    last = tonumber(string.match(e[1], '^(%d+)'))
  end
  if last == 0 then break end
  redis.call('XTRIM', KEYS[2], 'MINID', (last + 1) .. '-1')
  x = math.max(x, last)
  held = redis.call('XLEN', KEYS[2])
  if #head < 32 or last < tonumber(string.match(head[#head][1], '^(%d+)')) then break end
end
redis.call('HSET', KEYS[1], 'x', x)`;

/**
 * The append itself, without its reply: KEYS meta, log; ARGV ttl, metaTtl, fresh epoch, size, body,
 * and ARGV[8] the except list ("" = none). Leaves `epoch` and `top` (the new seq) in locals, for
 * scripts that append as one of their steps (inbox-route.ts).
 */
export const APPEND_STEPS = `${PREPARE}
top = top + 1
if ARGV[8] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-1', 'b', ARGV[5], 't', now)
else
  redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-1', 'b', ARGV[5], 't', now, 'e', ARGV[8])
end
redis.call('HSET', KEYS[1], 's', top, 'a', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)`;

/**
 * KEYS: meta, log. ARGV: ttl, metaTtl, fresh epoch, size, body, channel ("" = none), payload,
 * except ("" = none). Returns { epoch, seq }. Publishes `<seq>:<epoch>:<payload>` on the channel
 * when given.
 */
const APPEND = `${APPEND_STEPS}
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], top .. ':' .. epoch .. ':' .. ARGV[7]) end
return { epoch, top }`;

/**
 * KEYS: meta, log. ARGV: ttl, metaTtl, fresh epoch, size, after seq, after epoch, limit.
 * Returns { epoch, top, first, expiredThrough, seq, body, except, seq, body, except, ... } (except
 * "" when the entry has none).
 */
const READ = `${PREPARE}
local first = top + 1
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #oldest > 0 then first = tonumber(string.match(oldest[1][1], '^(%d+)')) end
local from = 1
if ARGV[6] == epoch and tonumber(ARGV[5]) <= top then from = tonumber(ARGV[5]) + 1 end
local start = math.max(from, top - tonumber(ARGV[7]) + 1, first)
local reply = { epoch, top, first, x }
if start <= top then
  for _, e in ipairs(redis.call('XRANGE', KEYS[2], start .. '-1', '+')) do
    local f = e[2]
    local body, except = false, ''
    for i = 1, #f, 2 do
      if f[i] == 'b' then body = f[i + 1] elseif f[i] == 'e' then except = f[i + 1] end
    end
    if body then
      reply[#reply + 1] = string.match(e[1], '^(%d+)')
      reply[#reply + 1] = body
      reply[#reply + 1] = except
    end
  end
end
return reply`;

const script = (lua: string): LuaScript => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });
const appendScript = script(APPEND);
const readScript = script(READ);

/**
 * Options of {@link RedisHistory}; `size` and `ttl` as in `resume.history`.
 * @example
 * new RedisHistory(redis, { size: 100, ttl: 300_000, prefix: "tsws" });
 */
export interface RedisHistoryOptions {
  size: number;
  /** ms */
  ttl: number;
  /** Key prefix; default "tsws". */
  prefix?: string;
  /** How long a stream's numbering outlives its last append, in ms; default 24 hours. */
  metaTtl?: number;
  /** Where a stream's keys are; default `oneRedisLayout(prefix)` (`P:hist:{<stream>}`). */
  layout?: Pick<SessionLayout, "stream">;
}

/**
 * Per-stream history in Redis Streams, for every node of a cluster.
 * @example
 * const log = new RedisHistory(new Redis(url), { size: 100, ttl: 300_000 });
 * const { seq, epoch } = await log.append("room:lobby", pushBody("message", { text: "hi" }));
 */
export class RedisHistory implements HistoryLog {
  readonly #redis: Redis | Cluster;
  readonly #size: number;
  readonly #ttl: number;
  readonly #layout: Pick<SessionLayout, "stream">;
  readonly #metaTtl: number;

  /** @param redis a connection the caller owns (not a subscriber); it is never closed here */
  constructor(redis: Redis | Cluster, options: RedisHistoryOptions) {
    this.#redis = redis;
    this.#size = options.size;
    this.#ttl = options.ttl;
    this.#layout = options.layout ?? oneRedisLayout(options.prefix ?? "tsws");
    this.#metaTtl = options.metaTtl ?? 86_400_000;
  }

  append(stream: StreamName, body: string, except?: readonly string[]): Promise<StreamPosition> {
    return this.publish(stream, body, "", "", except);
  }

  /**
   * Appends and, in the same atomic step, PUBLISHes `<seq>:<epoch>:<payload>` on `channel`, so
   * every node sees the number the message got (read it back with {@link parseStreamPublish}).
   * `except`: the socket ids the message is not for, kept with the entry for replays and fills.
   */
  async publish(
    stream: StreamName,
    body: string,
    channel: string,
    payload: string | Buffer,
    except?: readonly string[],
  ): Promise<StreamPosition> {
    const args = [
      ...this.#common(),
      body,
      channel,
      payload as string,
      except === undefined || except.length === 0 ? "" : JSON.stringify(except),
    ];
    const [epoch, seq] = (await runScript(this.#redis, appendScript, this.#keys(stream), args)) as [string, number];
    return { seq: Number(seq), epoch };
  }

  /**
   * Runs `script`, whose first two keys and eight arguments are an append's (see `APPEND_STEPS`;
   * no channel, no except), with `keys` and `args` after them; resolves with its raw reply.
   */
  appendWith(script: LuaScript, stream: StreamName, body: string, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    return runScript(this.#redis, script, [...this.#keys(stream), ...keys], [...this.#common(), body, "", "", "", ...args]);
  }

  async read(stream: StreamName, after: StreamPosition | undefined, limit: number): Promise<HistoryWindow> {
    const args = [...this.#common(), String(after?.seq ?? 0), after?.epoch ?? "", String(limit)];
    const reply = (await runScript(this.#redis, readScript, this.#keys(stream), args)) as (string | number)[];
    const top = Number(reply[1]);
    const entries: HistoryEntry[] = [];
    for (let i = 4; i < reply.length; i += 3) {
      const seq = Number(reply[i]);
      const body = String(reply[i + 1]);
      const except = String(reply[i + 2]);
      entries.push(except === "" ? { seq, body } : { seq, body, except: JSON.parse(except) as string[] });
    }
    return {
      epoch: String(reply[0]),
      top,
      first: Number(reply[2]),
      trimmedThrough: Math.max(0, top - this.#size),
      expiredThrough: Number(reply[3]),
      entries,
    };
  }

  /**
   * The last position of each stream, read without creating, resetting or trimming anything
   * (undefined: the stream has no numbering, never had or lost it): a plain `HMGET` per stream, the
   * cheap way to tell whether a reader is behind before reading its entries.
   * @example
   * const [top] = await log.tops(["inbox:0f8e"]); // { seq: 12, epoch: "k3x9" }, or undefined
   */
  tops(streams: readonly StreamName[]): Promise<(StreamPosition | undefined)[]> {
    return Promise.all(
      streams.map(async (stream) => {
        const [epoch, seq] = await this.#redis.hmget(this.#keys(stream)[0], "e", "s");
        return epoch === null || epoch === undefined ? undefined : { seq: Number(seq ?? 0), epoch };
      }),
    );
  }

  async position(stream: StreamName): Promise<StreamPosition> {
    const window = await this.read(stream, undefined, 0);
    return { seq: window.top, epoch: window.epoch };
  }

  async drop(stream: StreamName): Promise<void> {
    await this.#redis.del(...this.#keys(stream));
  }

  #keys(stream: StreamName): [string, string] {
    const base = this.#layout.stream(stream);
    return [`${base}:meta`, `${base}:log`];
  }

  #common(): string[] {
    return [String(this.#ttl), String(this.#metaTtl), randomBytes(6).toString("base64url"), String(this.#size)];
  }
}

/**
 * Splits a message PUBLISHed by {@link RedisHistory.publish} into its position and payload.
 * @example
 * sub.on("messageBuffer", (channel, message) => { const { seq, epoch, payload } = parseStreamPublish(message)!; });
 */
export function parseStreamPublish(message: Buffer): { seq: number; epoch: string; payload: Buffer } | undefined {
  const a = message.indexOf(58); // ":"
  const b = a < 0 ? -1 : message.indexOf(58, a + 1);
  if (b < 0) return undefined;
  const seq = Number(message.subarray(0, a).toString());
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { seq, epoch: message.subarray(a + 1, b).toString(), payload: message.subarray(b + 1) };
}
