/**
 * The stores resumable sessions use with the Redis adapter: history in Redis Streams and sessions
 * in Redis hashes, on a connection of their own under the adapter's prefix. The classic mode keeps
 * them on one Redis (`oneRedisLayout`); the sharded mode in slots (`slotLayout`: every script names
 * keys of one hash slot), so they work on a Redis Cluster. With the adapter's direct channels the
 * sessions know their node, a direct message is kept in the inbox and handed to that node
 * (inbox-route.ts), a take tells the previous holder, and a reply written after a take is handed to
 * the new holder (the adapter hands these notices to `sessions.moved()`, `inbox.forwarded()` and
 * `sessions.replied()`, and says when its subscription is back after a cut: `resubscribed()`, so
 * that what the lost notices said is read from Redis).
 */
import type { Cluster, Redis } from "ioredis";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import type { ResumeBackend } from "../../resume/backend.js";
import { Listeners } from "../../resume/listeners.js";
import { oneAtATime } from "../../resume/one-at-a-time.js";
import type { DirectChannels } from "./direct-channels.js";
import { RedisInboxRoute } from "./inbox-route.js";
import { parseMoved, parseReply } from "./resume-notices.js";
import { oneRedisLayout, type SessionLayout } from "./session-layout.js";
import { RedisSessions } from "./session-store.js";
import { isCluster } from "./sharded-layout.js";
import { WireKind } from "./sharded-wire.js";
import { RedisHistory } from "./streams-log.js";

/**
 * The Redis resume backend; its `sessions` take the adapter's `moved` notices, its `inbox` the `inbox` ones.
 * @example
 * const stores: RedisResumeStores = redisResumeStores(template, "tsws", options, logger, channels);
 */
export interface RedisResumeStores extends ResumeBackend {
  readonly sessions: RedisSessions;
  readonly inbox: RedisInboxRoute;
  onResync(listener: () => void): void;
  /**
   * The adapter's subscription to this node's direct channel is confirmed again after a cut: the
   * notices published meanwhile are lost. The sessions held here are checked for a newer
   * generation (a lost `moved`), then the resync listeners read what else was missed.
   */
  resubscribed(): void;
}

/**
 * Hands a notice of the resume stores heard on a node's direct channel (`WireKind.moved`: a take
 * moved a session away; `WireKind.inbox`: a numbered direct message for a session held here;
 * `WireKind.reply`: a reply a retry here waits for) to the stores, in both adapter modes; a
 * malformed one is logged and dropped, nothing else changes.
 * @example
 * if (isResumeNotice(parsed.kind)) takeResumeNotice(this.#resume, parsed.kind, parsed.body, node.logger);
 */
export function takeResumeNotice(stores: RedisResumeStores | undefined, kind: number, body: Buffer, logger: Logger): void {
  if (stores === undefined) return;
  let taken: boolean;
  if (kind === WireKind.moved) {
    const moved = parseMoved(body);
    if (moved !== undefined) stores.sessions.moved(moved.sid, moved.generation);
    taken = moved !== undefined;
  } else if (kind === WireKind.reply) {
    const reply = parseReply(body);
    if (reply !== undefined) stores.sessions.replied(reply.sid, reply.id, reply.frame);
    taken = reply !== undefined;
  } else taken = stores.inbox.forwarded(body);
  if (!taken) logger.warn({ kind }, "Redis adapter: ignored a malformed notice of the resume stores");
}

/**
 * Whether a frame's kind is one of the resume stores' notices (for {@link takeResumeNotice}).
 * @example
 * isResumeNotice(WireKind.reply); // true
 */
export function isResumeNotice(kind: number): boolean {
  return kind === WireKind.moved || kind === WireKind.inbox || kind === WireKind.reply;
}

/**
 * A resume backend over a duplicate of `template` (a `Redis.Cluster` gives a `Redis.Cluster`);
 * `layout` defaults to `oneRedisLayout(prefix)`.
 * @example
 * [resumeBackend](options, logger) { return redisResumeStores(this.#template, this.#options.prefix, options, logger, channels); }
 */
export function redisResumeStores(
  template: Redis | Cluster,
  prefix: string,
  options: ResolvedResumeOptions,
  logger: Logger,
  channels: DirectChannels,
  layout: SessionLayout = oneRedisLayout(prefix),
): RedisResumeStores {
  // The same call on both sides, narrowed: TypeScript cannot call `duplicate` on the union (TS2349).
  const redis = isCluster(template) ? template.duplicate() : template.duplicate();
  redis.on("error", (error: Error) => logger.debug({ err: error }, `Redis resume store: ${error.message}`));
  const history = new RedisHistory(redis, { size: options.history.size, ttl: options.history.ttl, layout });
  const sessions = new RedisSessions(redis, { ttl: options.ttl, layout, logger, channels });
  const listeners = new Listeners<[]>(logger, "resume: a resync listener threw");
  const resync = () => listeners.run({});
  // Now and then too, at the leases' pace: a notice can also be lost without this node's
  // subscriber being cut (a shard's failover on a Cluster), and one HMGET per session held here is
  // cheap next to the lease renewal's script per session.
  const check = setInterval(resync, options.ttl / 3);
  check.unref();
  // One renewal at a time (a Cluster's failover can report several resubscriptions).
  const renewThenResync = oneAtATime(() => sessions.renew().then(resync, resync));
  return {
    history,
    sessions,
    inbox: new RedisInboxRoute(history, channels, layout, logger),
    onResync: (listener) => listeners.add(listener),
    resubscribed: renewThenResync,
    close: async () => {
      clearInterval(check);
      sessions.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
