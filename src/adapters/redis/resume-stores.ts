/**
 * The stores resumable sessions use with the Redis adapter: history in Redis Streams and sessions
 * in Redis hashes, on a connection of their own under the adapter's prefix. The classic mode keeps
 * them on one Redis (`oneRedisLayout`); the sharded mode in slots (`slotLayout`: every script names
 * keys of one hash slot), so they work on a Redis Cluster. With the adapter's direct channels the
 * sessions know their node, a direct message is kept in the inbox and handed to that node
 * (inbox-route.ts), and a take tells the previous holder (the adapter hands these notices to
 * `sessions.moved()` and `inbox.forwarded()`).
 */
import type { Cluster, Redis } from "ioredis";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import type { ResumeBackend } from "../../resume/backend.js";
import { type DirectChannels, parseMoved } from "./direct-channels.js";
import { RedisInboxRoute } from "./inbox-route.js";
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
}

/**
 * Hands a notice of the resume stores heard on a node's direct channel (`WireKind.moved`: a take
 * moved a session away; `WireKind.inbox`: a numbered direct message for a session held here) to
 * the stores, in both adapter modes; a malformed one is logged and dropped, nothing else changes.
 * @example
 * if (parsed.kind === WireKind.moved || parsed.kind === WireKind.inbox) takeResumeNotice(this.#resume, parsed.kind, parsed.body, node.logger);
 */
export function takeResumeNotice(stores: RedisResumeStores | undefined, kind: number, body: Buffer, logger: Logger): void {
  if (stores === undefined) return;
  const moved = kind === WireKind.moved ? parseMoved(body) : undefined;
  if (moved !== undefined) stores.sessions.moved(moved.sid, moved.generation);
  else if (kind === WireKind.moved || !stores.inbox.forwarded(body))
    logger.warn({ kind }, "Redis adapter: ignored a malformed notice of the resume stores");
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
  const redis = isCluster(template) ? template.duplicate() : template.duplicate();
  redis.on("error", (error: Error) => logger.debug({ err: error }, `Redis resume store: ${error.message}`));
  const history = new RedisHistory(redis, { size: options.history.size, ttl: options.history.ttl, layout });
  const sessions = new RedisSessions(redis, { ttl: options.ttl, layout, logger, channels });
  return {
    history,
    sessions,
    inbox: new RedisInboxRoute(history, channels, layout),
    close: async () => {
      sessions.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
