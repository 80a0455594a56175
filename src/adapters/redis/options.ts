import { type Checks, isInt, isStr, validate } from "../../options/validate.js";

/**
 * Options of `createRedisAdapter`. Every option is optional; times are in milliseconds.
 * @example
 * createRedisAdapter(new Redis(url), { prefix: "chat", nodeTtl: 5000, maxInFlightBytes: 8 * 2 ** 20 })
 */
export interface RedisAdapterOptions {
  /** Prefix of the pub/sub channels and of every key; nodes sharing it form one cluster. Default "tsws". */
  prefix?: string;
  /** Milliseconds a node's room memberships outlive its last heartbeat (sent every third of it). Default 10 000. */
  nodeTtl?: number;
  /** Milliseconds `listen()` waits for Redis before it rejects; a refused connection rejects at once. Default 10 000. */
  startTimeout?: number;
  /** Commands sent to Redis and not answered yet; past it, publishes are dropped and counted. Default 4096. */
  maxInFlight?: number;
  /** Bytes of operations published and not answered yet; past it, publishes are dropped and counted. Default 4 MiB. */
  maxInFlightBytes?: number;
  /** Milliseconds after which an operation is stale: a receiving node drops it (counted) rather than deliver it late. Default 5000. */
  maxOpAge?: number;
  /** Milliseconds `members()` waits for Redis before it answers with this node's members only. Default 1000. */
  membersTimeout?: number;
  /**
   * The sharded mode: `true` (64 partitions) or `{ partitions }` (1 to 16384). Rooms are spread over
   * partitions whose keys and sharded channel share one hash slot; a node listens only to the
   * partitions where it has members. Required on `Redis.Cluster`; also runs on one Redis 7. Default
   * false: the classic mode, one channel every node hears.
   */
  sharded?: boolean | { partitions?: number };
}

/** Each option's check and how the TypeError describes what it accepts. */
const checks: Checks<RedisAdapterOptions> = {
  prefix: [(v) => isStr(v) && v !== "", "a non-empty string"],
  nodeTtl: [isInt(300), "a number of milliseconds, 300 or more"],
  startTimeout: [isInt(1), "a number of milliseconds, 1 or more"],
  maxInFlight: [isInt(1), "an integer of 1 or more"],
  maxInFlightBytes: [isInt(1024), "a number of bytes, 1024 or more"],
  maxOpAge: [isInt(1), "a number of milliseconds, 1 or more"],
  membersTimeout: [isInt(1), "a number of milliseconds, 1 or more"],
  sharded: [
    (v) =>
      typeof v === "boolean" ||
      (typeof v === "object" &&
        v !== null &&
        ((v as { partitions?: unknown }).partitions === undefined || isInt(1, 16384)((v as { partitions?: unknown }).partitions))),
    "true, false or { partitions: an integer from 1 to 16384 }",
  ],
};

const defaults: Required<RedisAdapterOptions> = {
  prefix: "tsws",
  nodeTtl: 10_000,
  startTimeout: 10_000,
  maxInFlight: 4096,
  maxInFlightBytes: 4 * 1024 * 1024,
  maxOpAge: 5000,
  membersTimeout: 1000,
  sharded: false,
};

/**
 * Validates the Redis adapter's options and applies defaults; throws a TypeError naming the faulty option.
 * @example
 * resolveRedisAdapterOptions({ nodeTtl: 5 }); // TypeError: createRedisAdapter: option "nodeTtl" must be a number of milliseconds, 300 or more, got 5
 */
export function resolveRedisAdapterOptions(options: RedisAdapterOptions): Required<RedisAdapterOptions> {
  validate(checks, options, "createRedisAdapter(client, options)");
  const resolved = { ...defaults };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) Object.assign(resolved, { [key]: value });
  return resolved;
}
