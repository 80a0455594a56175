import { type Checks, isInt, isStr, validate } from "../options/validate.js";

/**
 * Options of `createRedisAdapter`. Every option is optional.
 * @example
 * createRedisAdapter(new Redis(url), { prefix: "chat", nodeTtl: 5000 })
 */
export interface RedisAdapterOptions {
  /** Prefix of the pub/sub channel and of every key; nodes sharing it form one cluster. Default "tsws". */
  prefix?: string;
  /** Milliseconds a node's room memberships outlive its last heartbeat (sent every third of it). Default 10 000. */
  nodeTtl?: number;
  /** Milliseconds `listen()` waits for Redis before it rejects. Default 10 000. */
  startTimeout?: number;
}

const redisChecks: Checks<RedisAdapterOptions> = {
  prefix: [(v) => isStr(v) && v !== "", "a non-empty string"],
  nodeTtl: [isInt(300), "a number of milliseconds, 300 or more"],
  startTimeout: [isInt(1), "a number of milliseconds, 1 or more"],
};

/** Validates the Redis adapter's options and applies defaults; throws a TypeError naming the faulty option. */
export function resolveRedisAdapterOptions(options: RedisAdapterOptions): Required<RedisAdapterOptions> {
  validate(redisChecks, options, "createRedisAdapter(client, options)");
  return { prefix: options.prefix ?? "tsws", nodeTtl: options.nodeTtl ?? 10_000, startTimeout: options.startTimeout ?? 10_000 };
}
