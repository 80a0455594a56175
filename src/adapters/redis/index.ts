import type { Cluster, Redis } from "ioredis";
import { AdapterError, AdapterErrors } from "../../errors.js";
import { ClassicRedisAdapter } from "./classic.js";
import { type RedisAdapterOptions, resolveRedisAdapterOptions } from "./options.js";
import { ShardedRedisAdapter } from "./sharded.js";
import { isCluster } from "./sharded-layout.js";
import type { RedisAdapter } from "./stats.js";

export type { RedisAdapterOptions } from "./options.js";
export type { RedisAdapter, RedisAdapterStats } from "./stats.js";

/**
 * Creates an adapter that joins every server sharing one Redis (and one `prefix`) into a cluster:
 * rooms, `except`, `sendTo`, `closeSession` and `closeUser` reach sockets on every node, and
 * `members()` lists them. The client is only a template: the adapter opens two connections of
 * its own with `client.duplicate()` (one publishes and keeps room membership, one subscribes)
 * and never closes the client passed in.
 *
 * Two modes (docs/adapters.md compares them). Classic (the default): one channel every node
 * hears, on one Redis. Sharded (`{ sharded: true }` or `{ sharded: { partitions } }`): rooms in
 * partitions, each node listening only where it has members; runs on a `Redis.Cluster` (required
 * there) or on a single Redis 7.
 * @example
 * import { Redis } from "ioredis";
 * import { createRedisAdapter } from "tswebsockets/redis";
 * const server = createServer({ handlers: [Chat], adapter: createRedisAdapter(new Redis(process.env.REDIS_URL)) });
 * const onCluster = createRedisAdapter(new Redis.Cluster([{ host: "10.0.0.1", port: 6379 }]), { sharded: true });
 */
export function createRedisAdapter(client: Redis | Cluster, options: RedisAdapterOptions = {}): RedisAdapter {
  if (typeof client?.duplicate !== "function")
    throw new TypeError(
      "createRedisAdapter(client): client must be an ioredis Redis instance (or a Redis.Cluster, with { sharded: true })",
    );
  const resolved = resolveRedisAdapterOptions(options);
  const { sharded, ...rest } = resolved;
  if (sharded !== false) return new ShardedRedisAdapter(client, { ...rest, sharded }, sharded === true ? 64 : (sharded.partitions ?? 64));
  if (isCluster(client)) {
    throw new AdapterError(
      AdapterErrors.redisCrossSlot,
      "createRedisAdapter(cluster): the classic mode keeps keys of many hash slots in one script and cannot run on Redis Cluster; pass { sharded: true }",
    );
  }
  return new ClassicRedisAdapter(client, resolved);
}
