import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Adapter, ClusterNode, ClusterOp } from "../cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../cluster/codec.js";
import { AdapterError, AdapterErrors, messageOf } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Room, SocketId } from "../types.js";
import { type RedisAdapterOptions, resolveRedisAdapterOptions } from "./redis-options.js";

export type { RedisAdapterOptions } from "./redis-options.js";

/**
 * What the Redis adapter has carried so far; read it to alert on a Redis outage.
 * @example
 * setInterval(() => { if (!adapter.stats.connected) alert(`Redis down, ${adapter.stats.dropped} dropped`) }, 10_000);
 */
export interface RedisAdapterStats {
  /** Operations Redis accepted for the other nodes. */
  published: number;
  /** Operations that could not reach Redis (it was down or the connection dropped): never retried. */
  dropped: number;
  /** Operations received from other nodes and carried out here. */
  received: number;
  /** Whether the publishing connection is up right now. */
  connected: boolean;
}

/**
 * The Redis adapter: an {@link Adapter} with counters and this node's id.
 * @example
 * const adapter: RedisAdapter = createRedisAdapter(new Redis(url)); createServer({ handlers: [Chat], adapter });
 */
export interface RedisAdapter extends Adapter {
  /** Counters since start; a fresh object on every read. */
  readonly stats: RedisAdapterStats;
  /** This node's id once started (it names the node's keys in Redis). */
  readonly nodeId: string | undefined;
}

/**
 * Creates an adapter that joins every server sharing one Redis (and one `prefix`) into a cluster:
 * rooms, `except`, `sendTo`, `closeSession` and `closeUser` reach sockets on every node, and
 * `members()` lists them. The client is only a template: the adapter opens two connections of
 * its own with `client.duplicate()` (one publishes and keeps room membership, one subscribes)
 * and never closes the client passed in.
 * @example
 * import { Redis } from "ioredis";
 * import { createRedisAdapter } from "tswebsockets/redis";
 * const server = createServer({ handlers: [Chat], adapter: createRedisAdapter(new Redis(process.env.REDIS_URL)) });
 */
export function createRedisAdapter(client: Redis, options: RedisAdapterOptions = {}): RedisAdapter {
  if (typeof client?.duplicate !== "function") throw new TypeError("createRedisAdapter(client): client must be an ioredis Redis instance");
  return new RedisClusterAdapter(client, resolveRedisAdapterOptions(options));
}

/*
 * Keys, all under the prefix P:
 *   P:nodes                     sorted set: node id -> the Redis time (ms) its heartbeat runs out
 *   P:node:<id>:rooms           set: the rooms where node <id> has members
 *   P:node:<id>:room:<room>     set: node <id>'s socket ids in <room>
 * Every key carries a TTL of `nodeTtl`, refreshed by the owner's heartbeat, so a killed node's
 * keys vanish by themselves; `members()` reads only nodes whose heartbeat has not run out, so a
 * killed node's sockets leave member lists within `nodeTtl` even before its keys expire.
 */

const NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)";

/** KEYS: nodes, my rooms set. ARGV: my id, ttl, my room-key prefix. Returns 1 if Redis had forgotten this node. */
const HEARTBEAT = `${NOW}
local forgotten = redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('PEXPIRE', ARGV[3] .. room, ARGV[2]) == 0 then redis.call('SREM', KEYS[2], room) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return forgotten`;

/** KEYS: nodes, my rooms set. ARGV: my id, my room-key prefix. Forgets everything this node recorded. */
const FORGET = `for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[2] .. room) end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])`;

/** KEYS: nodes. ARGV: node-key prefix, ":room:<room>". The union of the room's sets of live nodes. */
const MEMBERS = `${NOW}
local keys = {}
for i, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do keys[i] = ARGV[1] .. id .. ARGV[2] end
if #keys == 0 then return {} end
return redis.call('SUNION', unpack(keys))`;

interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}
const script = (lua: string): LuaScript => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });
const scripts = { heartbeat: script(HEARTBEAT), forget: script(FORGET), members: script(MEMBERS) };

class RedisClusterAdapter implements RedisAdapter {
  readonly #template: Redis;
  readonly #options: Required<RedisAdapterOptions>;
  readonly #channel: string;
  /** This node's memberships: what Redis is told again, whole, after every reconnection. */
  readonly #mine = new Map<Room, Set<SocketId>>();
  #node: ClusterNode | undefined;
  #logger: Logger | undefined;
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** The listener added to the caller's client, removed again by stop(). */
  #templateOnError: ((error: Error) => void) | undefined;
  #published = 0;
  #dropped = 0;
  #received = 0;
  /** Publishes sent and not yet answered; counted as dropped if the connection closes under them. */
  #inFlight = 0;
  /** Bumped when the connection closes, so answers to older publishes are not counted twice. */
  #generation = 0;

  constructor(template: Redis, options: Required<RedisAdapterOptions>) {
    this.#template = template;
    this.#options = options;
    this.#channel = `${options.prefix}:ops`;
  }

  get stats(): RedisAdapterStats {
    return { published: this.#published, dropped: this.#dropped, received: this.#received, connected: this.#ready };
  }

  get nodeId(): string | undefined {
    return this.#node?.nodeId;
  }

  get #ready(): boolean {
    return this.#pub?.status === "ready";
  }

  async start(node: ClusterNode): Promise<void> {
    if (this.#node !== undefined) throw new Error("createRedisAdapter: an adapter serves one server; create one per server");
    this.#node = node;
    this.#logger = node.logger;
    // Our key names are built inside Lua scripts too, where ioredis' keyPrefix would not apply.
    const own = { lazyConnect: false, keyPrefix: "" };
    // No offline queue and no resending: while Redis is away an operation is dropped and counted,
    // never held in memory and never delivered twice.
    const pub = this.#template.duplicate({ ...own, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    const sub = this.#template.duplicate({ ...own, autoResubscribe: true });
    // The template's own faults would otherwise be printed by ioredis as "Unhandled error event";
    // the outage is already reported by the adapter's connections, so a debug line is enough.
    if (this.#template.listenerCount("error") === 0) {
      this.#templateOnError = (error: Error) => node.logger.debug({ err: error }, `Redis adapter (the client passed in): ${error.message}`);
      this.#template.on("error", this.#templateOnError);
    }
    this.#pub = pub;
    this.#sub = sub;
    const bothReady = Promise.all([readyOf(pub), readyOf(sub)]);
    watch(pub, "publishing", node.logger, this.#onPubReady, this.#onPubClose);
    watch(sub, "subscribing", node.logger);
    sub.on("messageBuffer", this.#onMessage);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.#options.startTimeout} ms`)), this.#options.startTimeout);
    });
    try {
      await Promise.race([bothReady.then(() => sub.subscribe(this.#channel)), timeout]);
      await this.#restore();
    } catch (error) {
      await this.stop();
      const where = `${pub.options.host ?? "?"}:${pub.options.port ?? "?"}`;
      throw new AdapterError(AdapterErrors.redisUnreachable, `Redis adapter: cannot use Redis at ${where}: ${messageOf(error)}`);
    } finally {
      clearTimeout(timer);
    }
    this.#heartbeat = setInterval(this.#beat, Math.floor(this.#options.nodeTtl / 3));
    this.#heartbeat.unref();
  }

  publish(op: ClusterOp): void {
    const pub = this.#pub;
    if (pub === undefined || pub.status !== "ready") {
      this.#dropped++;
      return;
    }
    const generation = this.#generation;
    this.#inFlight++;
    pub.publish(this.#channel, encodeClusterOp(this.#node?.nodeId ?? "", op)).then(
      () => this.#settle(generation, true),
      () => this.#settle(generation, false),
    );
  }

  join(room: Room, id: SocketId): void {
    let ids = this.#mine.get(room);
    if (ids === undefined) this.#mine.set(room, (ids = new Set()));
    ids.add(id);
    const pub = this.#pub;
    if (pub?.status !== "ready") return; // restored whole on reconnection
    const roomKey = this.#roomKey(room);
    const roomsKey = this.#roomsKey();
    const ttl = this.#options.nodeTtl;
    pub.multi().sadd(roomKey, id).pexpire(roomKey, ttl).sadd(roomsKey, room).pexpire(roomsKey, ttl).exec().catch(this.#commandFailed);
  }

  leave(room: Room, id: SocketId): void {
    const ids = this.#mine.get(room);
    if (!ids?.delete(id)) return;
    if (ids.size === 0) this.#mine.delete(room);
    // An emptied room's name stays in the rooms set until the next heartbeat prunes it.
    if (this.#pub?.status === "ready") this.#pub.srem(this.#roomKey(room), id).catch(this.#commandFailed);
  }

  async members(room: Room): Promise<SocketId[]> {
    const local = this.#node?.localMembers(room) ?? [];
    // During an outage only this node can answer: its own members are still exact.
    if (!this.#ready) return local;
    try {
      const remote = (await this.#run(
        scripts.members,
        [this.#key("nodes")],
        [`${this.#options.prefix}:node:`, `:room:${room}`],
      )) as SocketId[];
      return [...new Set([...remote, ...local])];
    } catch (error) {
      this.#commandFailed(error);
      return local;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const pub = this.#pub;
    const sub = this.#sub;
    this.#pub = this.#sub = undefined;
    if (pub?.status === "ready") await this.#forget(pub).catch(this.#commandFailed);
    // Our own disconnect is neither a lost connection nor ioredis giving up: no error line for it.
    for (const connection of [pub, sub]) connection?.removeAllListeners("close").removeAllListeners("end");
    if (this.#templateOnError !== undefined) this.#template.off("error", this.#templateOnError);
    this.#templateOnError = undefined;
    pub?.disconnect();
    sub?.disconnect();
  }

  #onMessage = (_channel: Buffer, message: Buffer): void => {
    const node = this.#node;
    if (node === undefined || senderOf(message) === node.nodeId) return;
    let op: ClusterOp;
    try {
      op = decodeClusterOp(message).op;
    } catch (error) {
      this.#logger?.warn({ err: error, channel: this.#channel }, "Redis adapter: ignored a malformed cluster message");
      return;
    }
    this.#received++;
    // This runs inside ioredis' event emitter: a throw here would be an uncaughtException.
    try {
      node.receive(op);
    } catch (error) {
      this.#logger?.error({ err: error, type: op.type }, `Redis adapter: carrying out a cluster message failed: ${messageOf(error)}`);
    }
  };

  /** (Re)connected: Redis may have lost everything (a restart), so tell it this node's state again. */
  #onPubReady = (): void => {
    if (this.#heartbeat !== undefined) this.#restore().catch(this.#commandFailed);
  };

  #onPubClose = (): void => {
    this.#dropped += this.#inFlight;
    this.#inFlight = 0;
    this.#generation++;
  };

  #settle(generation: number, ok: boolean): void {
    if (generation !== this.#generation) return;
    this.#inFlight--;
    if (ok) this.#published++;
    else this.#dropped++;
  }

  /** Replaces what Redis holds for this node with {@link #mine}, then beats once. */
  async #restore(): Promise<void> {
    const pub = this.#pub;
    if (pub === undefined) return;
    await this.#forget(pub);
    const ttl = this.#options.nodeTtl;
    const batch = pub.multi();
    for (const [room, ids] of this.#mine) batch.sadd(this.#roomKey(room), ...ids).pexpire(this.#roomKey(room), ttl);
    if (this.#mine.size > 0) batch.sadd(this.#roomsKey(), ...this.#mine.keys());
    await batch.exec();
    await this.#beatNow();
  }

  #forget(pub: Redis): Promise<unknown> {
    return this.#run(scripts.forget, [this.#key("nodes"), this.#roomsKey()], [this.#node?.nodeId ?? "", this.#roomKey("")], pub);
  }

  #beat = (): void => {
    if (!this.#ready) return;
    // Redis forgot this node while the connection stayed up (a stall longer than nodeTtl, a
    // FLUSHALL): its memberships are gone too, so write them again.
    this.#beatNow()
      .then((forgotten) => (forgotten === 1 ? this.#restore() : undefined), this.#commandFailed)
      .catch(this.#commandFailed);
  };

  #beatNow(): Promise<unknown> {
    const args = [this.#node?.nodeId ?? "", String(this.#options.nodeTtl), this.#roomKey("")];
    return this.#run(scripts.heartbeat, [this.#key("nodes"), this.#roomsKey()], args);
  }

  /** Runs a Lua script by its digest, sending its text only when Redis does not know it yet. */
  async #run(s: LuaScript, keys: string[], args: string[], pub = this.#pub): Promise<unknown> {
    if (pub === undefined) throw new Error("the adapter is stopped");
    try {
      return await pub.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!messageOf(error).startsWith("NOSCRIPT")) throw error;
      return pub.eval(s.lua, keys.length, ...keys, ...args);
    }
  }

  #commandFailed = (error: unknown): void => {
    // Commands fail while Redis is away; the lost connection was logged once and the state is
    // restored on reconnection. A failure on a live connection is a real fault.
    if (this.#ready) this.#logger?.error({ err: error }, `Redis adapter: a command failed: ${messageOf(error)}`);
  };

  #key(name: string): string {
    return `${this.#options.prefix}:${name}`;
  }

  #roomsKey(): string {
    return this.#key(`node:${this.#node?.nodeId ?? ""}:rooms`);
  }

  #roomKey(room: Room): string {
    return this.#key(`node:${this.#node?.nodeId ?? ""}:room:${room}`);
  }
}

/** Resolves the first time the connection is ready. */
function readyOf(connection: Redis): Promise<void> {
  return connection.status === "ready" ? Promise.resolve() : new Promise((resolve) => connection.once("ready", () => resolve()));
}

/**
 * Listens to a connection's faults: one clear line when it is lost and one when it is back, so an
 * outage is visible without a line per reconnection attempt.
 */
function watch(connection: Redis, role: string, logger: Logger, onReady?: () => void, onClose?: () => void): void {
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
    onClose?.();
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
    onReady?.();
  });
  connection.on("end", () => {
    if (reported) logger.error({}, `Redis adapter (${role} connection): ioredis stopped reconnecting (its retryStrategy gave up)`);
  });
}
