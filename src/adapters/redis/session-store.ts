/**
 * A {@link SessionStore} over Redis, shared by every node, so a session outlives the node that
 * held it. Keys (where: session-layout.ts; each script names keys of one slot in the sharded mode):
 *   hash(sid)           r = the record as JSON, o = owner, d = SHA-256 of the token's secret (hex), g = generation,
 *                       p = the digest of the token that took it last, until retired (see SessionStore.take),
 *                       pg = the generation that take made (p counts only while g equals it),
 *                       n = the node holding it ("" while detached; absent when the store was made without channels),
 *                       q:<request id> = "" while that request runs, its reply frame once settled (until a record holds it)
 *   deadlines(bucket)   sorted set: sid -> when it expires (Redis ms), for the sessions of one bucket
 * A detached session's deadline is `ttl` after its close; an attached one's is a lease the holding
 * node renews every `ttl / 3`, so a session whose node died expires `ttl` after the last renewal.
 * Every node polls every bucket's deadlines; one script per bucket removes each expired sid and its
 * hash atomically (after re-reading its deadline), so exactly one node runs `onExpire` for it, also
 * when the node that held it is gone.
 * The holder `n` is written in the same steps as the generation (open, take, detach), so a direct
 * message can be routed to the session's node or kept in its inbox in one atomic step
 * (inbox-route.ts), and a take tells the previous holder on its direct channel: in the same step,
 * or, where a script cannot publish there (a Redis Cluster), right after it (direct-channels.ts).
 * A reply written to a running mark after a take is handed to the holder the same way.
 */
import type { Cluster, Redis } from "ioredis";
import { consoleLogger, type Logger } from "../../logger.js";
import { Listeners } from "../../resume/listeners.js";
import type { ReplyState, SessionRecord, SessionStore, TakeResult } from "../../resume/session-store.js";
import { issueToken, parseToken, sameDigest } from "../../resume/session-token.js";
import type { DirectChannels } from "./direct-channels.js";
import { MOVED_HEAD, movedNotice, REPLY_HEAD, replyNotice } from "./resume-notices.js";
import { runScript } from "./scripts.js";
import { oneRedisLayout, type SessionLayout } from "./session-layout.js";
import { sessionScripts as scripts } from "./session-scripts.js";

/** Hashes outlive their deadline by this much, so a cluster that was down a while can still claim (and announce) them. */
const KEEP = 86_400_000;

/**
 * Options of {@link RedisSessions}.
 * @example
 * new RedisSessions(redis, { ttl: 120_000, prefix: "tsws", pollEvery: 1_000 });
 */
export interface RedisSessionsOptions {
  /** ms a detached session waits for a resume. */
  ttl: number;
  /** Key prefix; default "tsws". */
  prefix?: string;
  /** Where the keys are; default `oneRedisLayout(prefix)`. The sharded mode's is `slotLayout(prefix)`. */
  layout?: SessionLayout;
  /** How often this node looks for expired sessions (in every bucket), in ms; default min(1000, ttl / 4). */
  pollEvery?: number;
  logger?: Logger;
  /**
   * This node's id and how to reach a node (the adapter's direct channels): with them the store
   * keeps which node holds each session and tells the previous holder of a take. Without (a store
   * used on its own), neither.
   */
  channels?: DirectChannels;
}

/**
 * Resumable sessions in Redis.
 * @example
 * const store = new RedisSessions(new Redis(url), { ttl: 120_000 });
 * store.onExpire((record) => announceLeave(record));
 */
export class RedisSessions implements SessionStore {
  readonly #redis: Redis | Cluster;
  readonly #ttl: number;
  readonly #layout: SessionLayout;
  readonly #logger: Logger;
  readonly #expired: Listeners<[SessionRecord]>;
  readonly #moved: Listeners<[string, number]>;
  readonly #replied: Listeners<[string, number, string]>;
  readonly #channels: DirectChannels | undefined;
  /** Sessions attached on this node, by sid, with their generation: their leases are renewed here. */
  readonly #attached = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[];

  /** @param redis a connection the caller owns (not a subscriber); it is never closed here */
  constructor(redis: Redis | Cluster, options: RedisSessionsOptions) {
    this.#redis = redis;
    this.#ttl = options.ttl;
    this.#layout = options.layout ?? oneRedisLayout(options.prefix ?? "tsws");
    this.#logger = options.logger ?? consoleLogger;
    this.#expired = new Listeners(this.#logger, "an onExpire listener threw");
    this.#moved = new Listeners(this.#logger, "resume: a moved listener threw");
    this.#replied = new Listeners(this.#logger, "resume: a reply listener threw");
    this.#channels = options.channels;
    const poll = setInterval(() => void this.claimExpired(), options.pollEvery ?? Math.min(1_000, options.ttl / 4));
    const renew = setInterval(() => void this.renew(), options.ttl / 3);
    poll.unref();
    renew.unref();
    this.#timers = [poll, renew];
  }

  async open(record: SessionRecord): Promise<string> {
    const { token, digest } = issueToken(record.sid);
    const args = [
      record.sid,
      JSON.stringify(record),
      record.owner,
      digest.toString("hex"),
      String(record.generation),
      String(this.#ttl),
      String(KEEP),
      this.#channels?.me() ?? "",
    ];
    await runScript(this.#redis, scripts.open, this.#keys(record.sid), args);
    this.#attached.set(record.sid, record.generation);
    return token;
  }

  async update(record: SessionRecord, settled: readonly (readonly [number, string])[] = []): Promise<boolean> {
    const channels = this.#channels;
    const args: (string | Buffer)[] = [JSON.stringify(record), String(record.generation)];
    if (channels === undefined || settled.length === 0) args.push("", "", "", "", "", "");
    else {
      const command = channels.send === undefined ? channels.command : "";
      args.push("1", channels.prefix, channels.suffix, command, REPLY_HEAD, record.sid);
    }
    for (const [id, frame] of settled) args.push(String(id), frame);
    const [written, holder = "", ...told] = (await runScript(this.#redis, scripts.update, [this.#hash(record.sid)], args)) as [
      number,
      string?,
      ...string[],
    ];
    // Where the script could not publish (a Redis Cluster), the holder is handed the replies now.
    if (holder !== "" && told.length > 0) {
      const frames = new Map(settled);
      for (const id of told) {
        channels?.send?.(holder, replyNotice(id, record.sid, frames.get(Number(id)) ?? ""));
      }
    }
    return written === 1;
  }

  async markRunning(sid: string, ids: readonly number[]): Promise<void> {
    await runScript(this.#redis, scripts.mark, [this.#hash(sid)], ids.map(String));
  }

  async replyOf(sid: string, id: number): Promise<ReplyState> {
    return this.#redis.hget(this.#hash(sid), `q:${id}`);
  }

  async detach(sid: string, generation: number): Promise<void> {
    if (this.#attached.get(sid) === generation) this.#attached.delete(sid);
    await runScript(this.#redis, scripts.deadline, this.#keys(sid), [sid, String(generation), String(this.#ttl), String(KEEP), "1"]);
  }

  async retire(sid: string, generation: number): Promise<void> {
    await runScript(this.#redis, scripts.retire, [this.#hash(sid)], [String(generation)]);
  }

  async take(token: string, owner: string): Promise<TakeResult> {
    try {
      return await this.#take(token, owner);
    } catch (error) {
      if (!lasting(error)) throw error; // unavailable: the upgrade is refused 503, the client retries
      this.#logger.error({ err: error }, "resume: Redis answered a take with an error retrying cannot clear; the token resumes nothing");
      return { ok: false, reason: "unknown" };
    }
  }

  async #take(token: string, owner: string): Promise<TakeResult> {
    const parsed = parseToken(token);
    if (parsed === undefined) return { ok: false, reason: "unknown" };
    const [current = null, previous = null, since = null, generation = null, storedOwner = null] = await this.#redis.hmget(
      this.#hash(parsed.sid),
      "d",
      "p",
      "pg",
      "g",
      "o",
    );
    // The secret's digest is compared here, in constant time, not by string equality in Lua. The
    // previous token counts only while the generation its take made holds the session.
    const digest =
      matching(parsed.digest, current) ?? (since !== null && since === generation ? matching(parsed.digest, previous) : undefined);
    if (digest === undefined) return { ok: false, reason: "unknown" };
    if (storedOwner !== owner) return { ok: false, reason: "owner" };
    const next = issueToken(parsed.sid);
    const channels = this.#channels;
    const args: (string | Buffer)[] = [parsed.sid, digest, next.digest.toString("hex"), String(this.#ttl), String(KEEP)];
    const command = channels?.send === undefined ? (channels?.command ?? "PUBLISH") : "";
    args.push(channels?.me() ?? "", channels?.prefix ?? "", channels?.suffix ?? "", command, MOVED_HEAD);
    const taken = (await runScript(this.#redis, scripts.take, this.#keys(parsed.sid), args)) as [number, string, string[], string] | null;
    if (taken === null) return { ok: false, reason: "unknown" }; // taken or expired meanwhile
    // Where the script could not publish (a Redis Cluster), the previous holder is told now.
    if (taken[3] !== "") channels?.send?.(taken[3], movedNotice(taken[0], parsed.sid));
    const record = this.#withMarks(this.#record(taken[0], taken[1]), taken[2]);
    this.#attached.set(record.sid, record.generation);
    return { ok: true, record, token: next.token };
  }

  async end(sid: string, generation?: number): Promise<boolean> {
    if (generation === undefined || this.#attached.get(sid) === generation) this.#attached.delete(sid);
    const args = [sid, generation === undefined ? "" : String(generation)];
    return (await runScript(this.#redis, scripts.end, this.#keys(sid), args)) === 1;
  }

  onExpire(listener: (record: SessionRecord) => void): void {
    this.#expired.add(listener);
  }

  onMoved(listener: (sid: string, generation: number) => void): void {
    this.#moved.add(listener);
  }

  /**
   * Session `sid` was taken by another node (generation `generation`): the adapter calls this
   * when the take's notice arrives on this node's direct channel; the lease renewal calls it when
   * it finds a newer generation (a notice that did not arrive).
   */
  moved(sid: string, generation: number): void {
    if ((this.#attached.get(sid) ?? Number.POSITIVE_INFINITY) < generation) this.#attached.delete(sid);
    this.#moved.run({ sid }, sid, generation);
  }

  onReplied(listener: (sid: string, id: number, frame: string) => void): void {
    this.#replied.add(listener);
  }

  /**
   * The reply of request `id` of session `sid`, marked running, was written by the node that ran
   * it after this node took the session: the adapter calls this when the `reply` notice arrives
   * on this node's direct channel.
   */
  replied(sid: string, id: number, frame: string): void {
    this.#replied.run({ sid }, sid, id, frame);
  }

  /**
   * Claims expired sessions now, in every bucket (also run every `pollEvery`), and runs the
   * listeners for each; returns how many.
   */
  async claimExpired(): Promise<number> {
    const buckets = Array.from({ length: this.#layout.buckets }, (_, bucket) => this.#claimIn(bucket));
    const results = await Promise.allSettled(buckets);
    // One warning per poll, not one per bucket (a shard down fails every bucket it serves).
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      const where = this.#layout.buckets === 1 ? "" : ` in ${failed.length} of ${this.#layout.buckets} buckets`;
      this.#logger.warn({ err: failed[0]?.reason }, `resume: could not claim expired sessions${where} (will retry)`);
    }
    return results.reduce((sum, r) => sum + (r.status === "fulfilled" ? r.value : 0), 0);
  }

  /** Claims up to 100 expired sessions of one bucket: a read of the due sids, then one script that re-checks and takes them. */
  async #claimIn(bucket: number): Promise<number> {
    const deadlines = this.#layout.deadlines(bucket);
    const due = (await runScript(this.#redis, scripts.due, [deadlines], ["100"])) as string[];
    if (due.length === 0) return 0;
    const hashes = due.map((sid) => this.#layout.hash(sid));
    const reply = (await runScript(this.#redis, scripts.claim, [deadlines, ...hashes], due)) as string[];
    for (let i = 0; i < reply.length; i += 2) {
      const record = this.#record(reply[i]!, reply[i + 1]!);
      this.#attached.delete(record.sid);
      this.#expired.run({ sid: record.sid }, record);
    }
    return reply.length / 2;
  }

  /**
   * Renews the leases of the sessions attached here now, as every `ttl / 3`: a session a newer
   * generation holds (its take's `moved` notice was lost) is reported to the moved listeners. Run
   * when this node's subscriber is back after a cut. One pipeline per bucket (one slot each, for
   * a Redis Cluster). Never rejects (a failure is logged).
   */
  async renew(): Promise<void> {
    const buckets = new Map<number, [string, number][]>();
    for (const entry of this.#attached) {
      const bucket = this.#layout.bucketOf(entry[0]);
      const list = buckets.get(bucket);
      if (list === undefined) buckets.set(bucket, [entry]);
      else list.push(entry);
    }
    const failed = (await Promise.allSettled([...buckets.values()].map((renewed) => this.#renewIn(renewed)))).filter(
      (r) => r.status === "rejected",
    );
    if (failed.length > 0) this.#logger.warn({ err: failed[0]?.reason }, "resume: could not renew attached sessions (will retry)");
  }

  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#attached.clear();
  }

  async #renewIn(renewed: [string, number][]): Promise<void> {
    // LOAD first in the same pipeline, so the EVALSHAs after it never meet NOSCRIPT.
    const pipeline = this.#redis.pipeline().script("LOAD", scripts.deadline.lua);
    for (const [sid, generation] of renewed) {
      pipeline.evalsha(scripts.deadline.sha, 2, ...this.#keys(sid), sid, String(generation), String(this.#ttl), String(KEEP), "0");
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null);
    if (failed !== undefined) throw failed[0];
    // A newer generation holds a session this node thought attached here: its take's notice was
    // lost (this node's subscriber was down), so the socket still open here is half-open.
    renewed.forEach(([sid, generation], i) => {
      if (Number(results[i + 1]?.[1]) === -1 && this.#attached.get(sid) === generation) this.moved(sid, generation + 1);
    });
  }

  /** The record with the running marks: ids still running, and replies that settled after the record was last written. */
  #withMarks(record: SessionRecord, marks: readonly string[]): SessionRecord {
    if (marks.length === 0) return record;
    const running: number[] = [];
    const replies = [...record.replies];
    for (let i = 0; i < marks.length; i += 2) {
      const id = Number(marks[i]);
      const mark = marks[i + 1] ?? "";
      if (mark === "") running.push(id);
      else if (!replies.some(([known]) => known === id)) replies.push([id, mark]);
    }
    return { ...record, replies, running };
  }

  #record(generation: string | number, json: string): SessionRecord {
    return { ...(JSON.parse(json) as SessionRecord), generation: Number(generation) };
  }

  #hash(sid: string): string {
    return this.#layout.hash(sid);
  }

  #keys(sid: string): [string, string] {
    return [this.#layout.hash(sid), this.#layout.deadlines(this.#layout.bucketOf(sid))];
  }
}

/**
 * Whether Redis answered with an error that will not clear by retrying (WRONGTYPE on a session's
 * key, a script error), rather than being unavailable: unreachable, timed out, or answering
 * CLUSTERDOWN, TRYAGAIN, LOADING, MASTERDOWN, BUSY or READONLY (a failover, a restart) for now.
 */
function lasting(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === "ReplyError" &&
    !/^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|BUSY|READONLY)\b/.test(error.message)
  );
}

/** `stored` (a digest in hex, or null) when `digest` is it, compared in constant time; else undefined. */
function matching(digest: Buffer, stored: string | null): string | undefined {
  return stored !== null && stored.length === 64 && sameDigest(digest, Buffer.from(stored, "hex")) ? stored : undefined;
}
