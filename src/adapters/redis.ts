/**
 * The former home of the Redis adapter, kept so imports of `src/adapters/redis.js` (the examples)
 * go on working while the source tree is restructured; the adapter lives in `./redis/`.
 * @example
 * import { createRedisAdapter } from "tswebsockets/redis";
 */
export { createRedisAdapter, type RedisAdapter, type RedisAdapterOptions, type RedisAdapterStats } from "./redis/index.js";
