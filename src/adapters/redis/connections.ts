import type { Redis } from "ioredis";
import type { Logger } from "../../logger.js";

/**
 * What a {@link RedisLink} tells the adapter.
 * @example
 * new RedisLink(template, [channel], logger, { onHealthy: restore, onPubClose: countLost, onMessage });
 */
export interface LinkEvents {
  /** Both connections are up and the subscription is confirmed: cross-node delivery works (again). */
  onHealthy(): void;
  /** The publishing connection closed: what was in flight on it will never be answered. */
  onPubClose(): void;
  /** A message on one of the subscribed channels. */
  onMessage(channel: Buffer, message: Buffer): void;
}

/**
 * The adapter's two connections, made with `template.duplicate()`: one publishes and keeps
 * membership, one subscribes. The link is *healthy* only when both are ready and the subscription
 * is confirmed by Redis: after a restart the two reconnect separately, and a node that counted
 * itself back on the publishing connection alone would miss what others sent meanwhile.
 * @example
 * const link = new RedisLink(client, ["tsws:ops"], logger, events); await link.started(10_000);
 */
export class RedisLink {
  readonly pub: Redis;
  readonly sub: Redis;
  readonly #channels: string[];
  readonly #events: LinkEvents;
  #subscribed = false;
  #healthy = false;
  /** Called when the link first becomes healthy, while started() waits. */
  #onStarted: (() => void) | undefined;

  constructor(template: Redis, channels: string[], logger: Logger, events: LinkEvents) {
    this.#channels = channels;
    this.#events = events;
    // Our key names are built inside Lua scripts too, where ioredis' keyPrefix would not apply.
    const own = { lazyConnect: false, keyPrefix: "" };
    // No offline queue and no resending: while Redis is away an operation is dropped and counted,
    // never held in memory and never delivered twice.
    this.pub = template.duplicate({ ...own, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    // We subscribe again ourselves on every ready, to know when the subscription is confirmed.
    this.sub = template.duplicate({ ...own, autoResubscribe: false, autoResendUnfulfilledCommands: false });
    watch(this.pub, "publishing", logger);
    watch(this.sub, "subscribing", logger);
    this.pub.on("ready", this.#check);
    this.pub.on("close", () => {
      this.#check();
      events.onPubClose();
    });
    this.sub.on("ready", this.#subscribe);
    this.sub.on("close", () => {
      this.#subscribed = false;
      this.#check();
    });
    this.sub.on("messageBuffer", (channel: Buffer, message: Buffer) => events.onMessage(channel, message));
  }

  /** Both connections up and subscribed. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /**
   * Resolves once the link is healthy; rejects at the first connection error (a refused
   * connection, a wrong password: waiting would only hide it) or after `timeout` ms.
   */
  started(timeout: number): Promise<void> {
    if (this.#healthy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#onStarted = undefined;
        this.pub.off("error", done);
        this.sub.off("error", done);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => done(new Error(`no answer within ${timeout} ms`)), timeout);
      this.#onStarted = done;
      this.pub.on("error", done);
      this.sub.on("error", done);
    });
  }

  /** Closes both connections without logging them as lost. */
  close(): void {
    for (const connection of [this.pub, this.sub]) {
      connection.removeAllListeners("close").removeAllListeners("end").removeAllListeners("ready");
      connection.disconnect();
    }
  }

  #subscribe = (): void => {
    const sub = this.sub;
    sub.subscribe(...this.#channels).then(
      () => {
        if (sub.status !== "ready") return; // closed again meanwhile; the next ready subscribes again
        this.#subscribed = true;
        this.#check();
      },
      // A failed SUBSCRIBE on a live connection: close it, so the reconnection subscribes afresh.
      () => sub.status === "ready" && sub.disconnect(true),
    );
  };

  #check = (): void => {
    const healthy = this.pub.status === "ready" && this.sub.status === "ready" && this.#subscribed;
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    if (!healthy) return;
    this.#onStarted?.();
    this.#events.onHealthy();
  };
}

/**
 * Listens to a connection's faults: one clear line when it is lost and one when it is back, so an
 * outage is visible without a line per reconnection attempt.
 */
function watch(connection: Redis, role: string, logger: Logger): void {
  let wasReady = false;
  let reported = false;
  connection.on("error", (error: Error) => {
    if (reported) logger.debug({ err: error }, `Redis adapter (${role} connection): ${error.message}`);
    else {
      reported = true;
      logger.error(
        { err: error },
        `Redis adapter (${role} connection): ${error.message}; cross-node messages are dropped until Redis is back`,
      );
    }
  });
  connection.on("close", () => {
    if (!wasReady) return;
    wasReady = false;
    if (!reported) {
      reported = true;
      logger.error({}, `Redis adapter (${role} connection): connection lost; cross-node messages are dropped until Redis is back`);
    }
  });
  connection.on("ready", () => {
    wasReady = true;
    if (reported) logger.warn({}, `Redis adapter (${role} connection): connected again; cross-node delivery resumes`);
    reported = false;
  });
  connection.on("end", () => {
    if (reported) logger.error({}, `Redis adapter (${role} connection): ioredis stopped reconnecting (its retryStrategy gave up)`);
  });
}
