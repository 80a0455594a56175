import type { Cluster, Redis } from "ioredis";
import type { ClusterNode, ClusterOp, SocketPlace } from "../../cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../../cluster/codec.js";
import { AdapterError, AdapterErrors, messageOf } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import { type ResumeBackend, resumeBackend } from "../../resume/backend.js";
import type { Room, SocketId } from "../../types.js";
import { RedisLink } from "./connections.js";
import { InFlight } from "./in-flight.js";
import { LiveNodes } from "./live-nodes.js";
import { type RedisAdapterOptions, resolveRedisAdapterOptions } from "./options.js";
import { runScript, scripts } from "./scripts.js";
import { RedisSessions } from "./session-store.js";
import { isCluster, ShardedRedisAdapter } from "./sharded.js";
import { startError, within } from "./start.js";
import type { RedisAdapter, RedisAdapterStats } from "./stats.js";
import { RedisHistory } from "./streams-log.js";

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
  return new RedisClusterAdapter(client, resolved);
}

type Counter = Exclude<keyof RedisAdapterStats, "inFlight" | "inFlightBytes" | "nodes" | "connected" | "partitions">;

class RedisClusterAdapter implements RedisAdapter {
  readonly #template: Redis;
  readonly #options: Required<RedisAdapterOptions>;
  /** Where operations go. */
  readonly #channel: string;
  /**
   * Where a node says "+<id>" once it is subscribed and "-<id>" when it closes, so the others
   * expect it (or stop expecting it) at once rather than at their next heartbeat.
   */
  readonly #presence: string;
  /** This node's memberships: what Redis is told again, whole, after every reconnection. */
  readonly #mine = new Map<Room, Set<SocketId>>();
  readonly #inFlight: InFlight;
  readonly #counts: Record<Counter, number> = {
    published: 0,
    dropped: 0,
    overflowed: 0,
    undelivered: 0,
    late: 0,
    received: 0,
    ignored: 0,
    arrived: 0,
    lost: 0,
    stale: 0,
    membersLocalOnly: 0,
    membersIncomplete: 0,
  };
  /** Session and user entries ("s:<id>", "u:<id>") of local sockets, counted, to tell a close that matched here. */
  readonly #entries = new Map<string, number>();
  readonly #located = new Map<SocketId, string[]>();
  #node: ClusterNode | undefined;
  #logger: Logger | undefined;
  #link: RedisLink | undefined;
  #live: LiveNodes | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** A heartbeat sent and not answered: while Redis is frozen, no second one joins it. */
  #beating = false;
  /** A membership change could not be written (in-flight bound reached): write everything again at the next heartbeat. */
  #dirty = false;
  /** The restore started by the last (re)connection. */
  #restoring: Promise<void> = Promise.resolve();
  /** The listener added to the caller's client, removed again by stop(). */
  #templateOnError: ((error: Error) => void) | undefined;

  constructor(template: Redis, options: Required<RedisAdapterOptions>) {
    this.#template = template;
    this.#options = options;
    this.#channel = `${options.prefix}:ops`;
    this.#presence = `${options.prefix}:presence`;
    this.#inFlight = new InFlight(options.maxInFlight, options.maxInFlightBytes);
  }

  get stats(): RedisAdapterStats {
    return {
      ...this.#counts,
      inFlight: this.#inFlight.commands,
      inFlightBytes: this.#inFlight.bytes,
      nodes: this.#live?.expected() ?? 0,
      connected: this.#healthy,
      partitions: 0,
    };
  }

  get nodeId(): string | undefined {
    return this.#node?.nodeId;
  }

  /**
   * Resumable sessions across nodes (`createServer({ resume })` with this adapter): history in
   * Redis Streams and sessions in Redis hashes, on a connection of their own under the same prefix.
   */
  [resumeBackend](options: ResolvedResumeOptions, logger: Logger): ResumeBackend {
    const redis = this.#template.duplicate();
    redis.on("error", (error: Error) => logger.debug({ err: error }, `Redis resume store: ${error.message}`));
    const prefix = this.#options.prefix;
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

  get #healthy(): boolean {
    return this.#link?.healthy === true;
  }

  async start(node: ClusterNode): Promise<void> {
    if (this.#node !== undefined) throw new Error("createRedisAdapter: an adapter serves one server; create one per server");
    this.#node = node;
    this.#logger = node.logger;
    this.#live = new LiveNodes(node.nodeId, this.#options.nodeTtl);
    // The template's own faults would otherwise be printed by ioredis as "Unhandled error event";
    // the outage is already reported by the adapter's connections, so a debug line is enough.
    if (this.#template.listenerCount("error") === 0) {
      this.#templateOnError = (error: Error) => node.logger.debug({ err: error }, `Redis adapter (the client passed in): ${error.message}`);
      this.#template.on("error", this.#templateOnError);
    }
    const link = new RedisLink(this.#template, [this.#channel, this.#presence], node.logger, {
      onHealthy: this.#onHealthy,
      onPubClose: this.#onPubClose,
      onMessage: this.#onMessage,
    });
    this.#link = link;
    const deadline = Date.now() + this.#options.startTimeout;
    try {
      await link.started(this.#options.startTimeout);
      await within(this.#restoring, deadline - Date.now(), "no answer to the first writes within startTimeout");
    } catch (error) {
      await this.stop();
      throw startError(error, link.pub);
    }
    this.#heartbeat = setInterval(this.#beat, Math.floor(this.#options.nodeTtl / 3));
    this.#heartbeat.unref();
  }

  publish(op: ClusterOp): void {
    const pub = this.#link?.pub;
    if (pub === undefined || !this.#healthy) {
      this.#counts.dropped++;
      return;
    }
    const sentAt = Date.now();
    const bytes = encodeClusterOp(this.#node?.nodeId ?? "", op, sentAt);
    const size = bytes.length;
    const ticket = this.#inFlight.admit(size, true);
    if (ticket === undefined) {
      this.#counts.overflowed++;
      this.#counts.dropped++;
      return;
    }
    const expected = this.#live?.expected() ?? 1;
    pub.publish(this.#channel, bytes).then(
      (receivers) => {
        if (!this.#inFlight.release(ticket, size, true)) return; // counted when the connection closed
        if (Date.now() - sentAt > this.#options.maxOpAge) this.#drop("late");
        else if (receivers < expected) this.#drop("undelivered");
        else this.#counts.published++;
      },
      () => {
        if (this.#inFlight.release(ticket, size, true)) this.#counts.dropped++;
      },
    );
  }

  join(room: Room, id: SocketId): void {
    let ids = this.#mine.get(room);
    if (ids === undefined) this.#mine.set(room, (ids = new Set()));
    ids.add(id);
    const roomKey = this.#roomKey(room);
    const roomsKey = this.#roomsKey();
    const ttl = this.#options.nodeTtl;
    this.#write((pub) => pub.multi().sadd(roomKey, id).pexpire(roomKey, ttl).sadd(roomsKey, room).pexpire(roomsKey, ttl).exec());
  }

  leave(room: Room, id: SocketId): void {
    const ids = this.#mine.get(room);
    if (!ids?.delete(id)) return;
    if (ids.size === 0) this.#mine.delete(room);
    // An emptied room's name stays in the rooms set until the next heartbeat prunes it.
    const roomKey = this.#roomKey(room);
    this.#write((pub) => pub.srem(roomKey, id));
  }

  locate(id: SocketId, where: SocketPlace | undefined): void {
    const before = this.#located.get(id) ?? [];
    const after: string[] = [];
    if (where?.session !== undefined) after.push(`s:${where.session}`);
    if (where?.user !== undefined) after.push(`u:${where.user}`);
    if (after.length === 0) this.#located.delete(id);
    else this.#located.set(id, after);
    for (const entry of before) if (!after.includes(entry)) countEntry(this.#entries, entry, -1);
    for (const entry of after) if (!before.includes(entry)) countEntry(this.#entries, entry, 1);
  }

  async members(room: Room): Promise<SocketId[]> {
    const local = this.#node?.localMembers(room) ?? [];
    const pub = this.#link?.pub;
    // During an outage only this node can answer: its own members are still exact.
    const ticket = pub !== undefined && this.#healthy ? this.#inFlight.admit(0, false) : undefined;
    if (pub === undefined || ticket === undefined) {
      this.#counts.membersLocalOnly++;
      return local;
    }
    const query = runScript(pub, scripts.members, [this.#key("nodes")], [`${this.#options.prefix}:node:`, `:room:${room}`]);
    // The command stays in flight until Redis answers, however long members() waited.
    query.then(
      () => this.#inFlight.release(ticket, 0, false),
      () => this.#inFlight.release(ticket, 0, false),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#options.membersTimeout);
    });
    try {
      const remote = (await Promise.race([query, timeout])) as SocketId[] | undefined;
      if (remote !== undefined) return [...new Set([...remote, ...local])];
    } catch (error) {
      this.#commandFailed(error);
    } finally {
      clearTimeout(timer);
    }
    this.#counts.membersLocalOnly++;
    return local;
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const link = this.#link;
    const healthy = this.#healthy;
    this.#link = undefined;
    if (link === undefined) return;
    if (healthy) {
      const nodeId = this.#node?.nodeId ?? "";
      // Bounded: a frozen Redis must not hold server.close() forever; the keys then expire by themselves.
      const goodbye = Promise.all([link.pub.publish(this.#presence, `-${nodeId}`), this.#forget(link.pub)]);
      await within(goodbye, this.#options.membersTimeout, "no answer within membersTimeout").catch(this.#commandFailed);
    }
    // Our own disconnect is neither a lost connection nor ioredis giving up: no error line for it.
    link.close();
    if (this.#templateOnError !== undefined) this.#template.off("error", this.#templateOnError);
    this.#templateOnError = undefined;
  }

  #onMessage = (channel: Buffer, message: Buffer): void => {
    const node = this.#node;
    if (node === undefined) return;
    if (channel.length === this.#presence.length && channel.toString() === this.#presence) {
      const id = message.toString("utf8", 1);
      if (id === node.nodeId) return;
      if (message[0] === 0x2b /* + */) this.#live?.joined(id);
      else this.#live?.left(id);
      return;
    }
    this.#counts.arrived++;
    if (senderOf(message) === node.nodeId) return;
    let op: ClusterOp;
    let sentAt: number | undefined;
    try {
      ({ op, sentAt } = decodeClusterOp(message));
    } catch (error) {
      this.#logger?.warn({ err: error, channel: this.#channel }, "Redis adapter: ignored a malformed cluster message");
      return;
    }
    // Delivered late is worse than not delivered (a chat line out of its time, a stale close):
    // Redis was frozen, or this node stalled. The sender counted it as late too, if it saw the delay.
    if (sentAt !== undefined && Date.now() - sentAt > this.#options.maxOpAge) {
      this.#counts.stale++;
      return;
    }
    // This runs inside ioredis' event emitter: a throw here would be an uncaughtException.
    try {
      const here =
        op.type === "broadcast"
          ? op.rooms.some((room) => this.#mine.has(room))
          : op.type === "close"
            ? this.#entries.has(`${op.by === "session" ? "s" : "u"}:${op.value}`)
            : undefined;
      const delivered = node.receive(op);
      this.#counts[(here ?? delivered) ? "received" : "ignored"]++;
    } catch (error) {
      this.#logger?.error({ err: error, type: op.type }, `Redis adapter: carrying out a cluster message failed: ${messageOf(error)}`);
    }
  };

  /**
   * Both connections are (again) up and subscribed. Redis may have lost everything (a restart),
   * so this node tells it its state again, and keeps expecting the nodes it knew until they are
   * back or their heartbeat runs out.
   */
  #onHealthy = (): void => {
    this.#live?.carryOver();
    this.#restoring = this.#restore();
    this.#restoring.catch(this.#commandFailed);
  };

  #onPubClose = (): void => {
    this.#counts.dropped += this.#inFlight.reset();
    this.#beating = false;
  };

  #drop(why: "late" | "undelivered"): void {
    this.#counts[why]++;
    this.#counts.dropped++;
  }

  /** Sends a membership change, unless Redis is away (restored whole later) or the in-flight bound is reached (marked dirty). */
  #write(command: (pub: Redis) => Promise<unknown>): void {
    const pub = this.#link?.pub;
    if (pub === undefined || !this.#healthy) return; // restored whole on reconnection
    const ticket = this.#inFlight.admit(0, false);
    if (ticket === undefined) {
      this.#dirty = true;
      return;
    }
    command(pub).then(
      () => this.#inFlight.release(ticket, 0, false),
      (error: unknown) => {
        this.#inFlight.release(ticket, 0, false);
        this.#commandFailed(error);
      },
    );
  }

  /** Replaces what Redis holds for this node with {@link #mine}, then beats once. */
  async #restore(): Promise<void> {
    const pub = this.#link?.pub;
    if (pub === undefined) return;
    this.#dirty = false;
    await this.#forget(pub);
    const ttl = this.#options.nodeTtl;
    const batch = pub.multi();
    for (const [room, ids] of this.#mine) batch.sadd(this.#roomKey(room), ...ids).pexpire(this.#roomKey(room), ttl);
    if (this.#mine.size > 0) batch.sadd(this.#roomsKey(), ...this.#mine.keys());
    await batch.exec();
    await this.#beatNow();
    await pub.publish(this.#presence, `+${this.#node?.nodeId ?? ""}`);
  }

  #forget(pub: Redis): Promise<unknown> {
    return runScript(pub, scripts.forget, [this.#key("nodes"), this.#roomsKey()], [this.#node?.nodeId ?? "", this.#roomKey("")]);
  }

  #beat = (): void => {
    if (!this.#healthy || this.#beating) return;
    if (this.#dirty && this.#inFlight.commands < this.#options.maxInFlight / 2) {
      this.#restore().catch(this.#commandFailed);
      return;
    }
    // Redis forgot this node while the connection stayed up (a stall longer than nodeTtl, a
    // FLUSHALL): its memberships are gone too, so write them again.
    this.#beatNow()
      .then((forgotten) => {
        if (!forgotten) return;
        this.#live?.carryOver();
        return this.#restore();
      })
      .catch(this.#commandFailed);
  };

  /** Sends one heartbeat; resolves whether Redis had forgotten this node, and updates the live nodes. */
  async #beatNow(): Promise<boolean> {
    const pub = this.#link?.pub;
    if (pub === undefined) throw new Error("the adapter is stopped");
    const args = [this.#node?.nodeId ?? "", String(this.#options.nodeTtl), this.#roomKey("")];
    this.#beating = true;
    try {
      const [forgotten, now, ...flat] = (await runScript(pub, scripts.heartbeat, [this.#key("nodes"), this.#roomsKey()], args)) as (
        | number
        | string
      )[];
      const nodes: [string, number][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) nodes.push([String(flat[i]), Number(flat[i + 1])]);
      this.#live?.update(Number(now), nodes);
      return forgotten === 1;
    } finally {
      this.#beating = false;
    }
  }

  #commandFailed = (error: unknown): void => {
    // Commands fail while Redis is away; the lost connection was logged once and the state is
    // restored on reconnection. A failure on a live connection is a real fault.
    if (this.#healthy) this.#logger?.error({ err: error }, `Redis adapter: a command failed: ${messageOf(error)}`);
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

/** Adds `delta` to an entry's count, removing it at 0. */
function countEntry(counts: Map<string, number>, entry: string, delta: 1 | -1): void {
  const count = (counts.get(entry) ?? 0) + delta;
  if (count > 0) counts.set(entry, count);
  else counts.delete(entry);
}
