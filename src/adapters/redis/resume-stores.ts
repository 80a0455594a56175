/**
 * The stores resumable sessions use with the Redis adapter (both modes on one Redis): history in
 * Redis Streams and sessions in Redis hashes, on a connection of their own under the adapter's
 * prefix. Not on a Redis Cluster: the session store keeps one sorted set of deadlines beside each
 * session's hash, and its scripts touch both (two hash slots).
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import type { ResumeBackend } from "../../resume/backend.js";
import { RedisSessions } from "./session-store.js";
import { RedisHistory } from "./streams-log.js";

/**
 * A resume backend over a duplicate of `template`.
 * @example
 * [resumeBackend](options, logger) { return redisResumeStores(this.#template, this.#options.prefix, options, logger); }
 */
export function redisResumeStores(template: Redis, prefix: string, options: ResolvedResumeOptions, logger: Logger): ResumeBackend {
  const redis = template.duplicate();
  redis.on("error", (error: Error) => logger.debug({ err: error }, `Redis resume store: ${error.message}`));
  const history = new RedisHistory(redis, { size: options.history.size, ttl: options.history.ttl, prefix });
  const sessions = new RedisSessions(redis, { ttl: options.ttl, prefix, logger });
  return {
    history,
    sessions,
    close: async () => {
      sessions.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
