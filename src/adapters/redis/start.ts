import type { Cluster, Redis } from "ioredis";
import { AdapterError, AdapterErrors, messageOf } from "../../errors.js";

/**
 * The error `listen()` rejects with when the adapter could not start, with a code that says what
 * happened: Redis refused a command spanning hash slots (`TSWS_REDIS_CROSSSLOT`: the classic mode on
 * a Redis Cluster), Redis answered with an error (`TSWS_REDIS_REFUSED`: a wrong password, a
 * replica, a missing command), or Redis could not be reached or did not answer
 * (`TSWS_REDIS_UNREACHABLE`). The original error is its `cause`.
 * @example
 * catch (error) { throw startError(error, pub) }
 */
export function startError(error: unknown, connection: Redis | Cluster | undefined): AdapterError {
  const message = messageOf(error);
  const where = addressOf(connection);
  let failure: AdapterError;
  if (message.startsWith("CROSSSLOT") || message.includes("non local key") || message.includes("same slots allocation group")) {
    failure = new AdapterError(
      AdapterErrors.redisCrossSlot,
      `Redis adapter: Redis at ${where} refused a command spanning hash slots (${message}); on Redis Cluster use createRedisAdapter(cluster, { sharded: true })`,
    );
  } else if (/^(ERR|NOAUTH|WRONGPASS|NOPERM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|MOVED|NOSCRIPT)\b/.test(message)) {
    failure = new AdapterError(AdapterErrors.redisRefused, `Redis adapter: Redis at ${where} refused a command: ${message}`);
  } else {
    failure = new AdapterError(AdapterErrors.redisUnreachable, `Redis adapter: cannot use Redis at ${where}: ${message}`);
  }
  failure.cause = error;
  return failure;
}

/** host:port of a connection, or the startup nodes of a cluster. */
function addressOf(connection: Redis | Cluster | undefined): string {
  if (connection === undefined) return "?";
  if ((connection as { isCluster?: boolean }).isCluster === true) {
    const nodes = (connection as unknown as { startupNodes: unknown[] }).startupNodes;
    const named = nodes.map((n) =>
      typeof n === "object" && n !== null
        ? `${(n as { host?: string }).host ?? "127.0.0.1"}:${(n as { port?: number }).port ?? 6379}`
        : String(n),
    );
    return `cluster ${named.join(",")}`;
  }
  const { host, port } = (connection as Redis).options;
  return `${host ?? "?"}:${port ?? "?"}`;
}

/** Resolves once a connection is ready; rejects at its first error (a refused connection: waiting would only hide it). */
export function untilReady(connection: Redis | Cluster): Promise<void> {
  if (connection.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      connection.off("ready", ready);
      connection.off("error", done);
      if (error === undefined) resolve();
      else reject(error);
    };
    const ready = () => done();
    connection.on("ready", ready);
    connection.on("error", done);
  });
}

/**
 * `promise`, or a rejection with `message` after `ms` milliseconds.
 * @example
 * await within(link.started(), 10_000, "no answer within startTimeout");
 */
export async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
