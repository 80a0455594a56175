import type { Redis } from "ioredis";
import type { Adapter, ClusterNode, ClusterOp } from "../../cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../../cluster/codec.js";
import { AdapterError, AdapterErrors, messageOf } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { Room, SocketId } from "../../types.js";
import { RedisLink } from "./connections.js";
import { InFlight } from "./in-flight.js";
import { LiveNodes } from "./live-nodes.js";
import { type RedisAdapterOptions, resolveRedisAdapterOptions } from "./options.js";
import { runScript, scripts } from "./scripts.js";

export type { RedisAdapterOptions } from "./options.js";

/**
 * What the Redis adapter has carried so far; read it to alert on a Redis outage. Counters only
 * grow; `inFlight`, `inFlightBytes`, `nodes` and `connected` are the state right now.
 * @example
 * setInterval(() => { if (!adapter.stats.connected) alert(`Redis down, ${adapter.stats.dropped} dropped`) }, 10_000);
 */
export interface RedisAdapterStats {
  /** Operations Redis delivered, in time, to every node expected to receive them. */
  published: number;
  /** Operations that did not reach every other node: the sum of `overflowed`, `undelivered`, `late` and those lost with the connection. Never retried. */
  dropped: number;
  /** Dropped without being sent: `maxInFlight` or `maxInFlightBytes` was reached (Redis slow or frozen). */
  overflowed: number;
  /** Sent, but PUBLISH reached fewer nodes than were alive (a node was still reconnecting). */
  undelivered: number;
  /** Sent, but Redis answered after `maxOpAge`: the other nodes discard it as stale. */
  late: number;
  /** Operations received from other nodes and carried out here. */
  received: number;
  /** Operations received from other nodes older than `maxOpAge`, discarded rather than delivered late. */
  stale: number;
  /** `members()` calls answered with this node's members only because Redis was down, busy or slower than `membersTimeout`. */
  membersLocalOnly: number;
  /** Commands sent to Redis and not answered yet (at most `maxInFlight`). */
  inFlight: number;
  /** Bytes of operations published and not answered yet (at most `maxInFlightBytes`). */
  inFlightBytes: number;
  /** Nodes a publish is expected to reach, this one included. */
  nodes: number;
  /** Both connections are up and the subscription is confirmed. */
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

type Counter = "published" | "dropped" | "overflowed" | "undelivered" | "late" | "received" | "stale" | "membersLocalOnly";

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
    stale: 0,
    membersLocalOnly: 0,
  };
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
    };
  }

  get nodeId(): string | undefined {
    return this.#node?.nodeId;
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
      const where = `${link.pub.options.host ?? "?"}:${link.pub.options.port ?? "?"}`;
      const failure = new AdapterError(AdapterErrors.redisUnreachable, `Redis adapter: cannot use Redis at ${where}: ${messageOf(error)}`);
      failure.cause = error;
      throw failure;
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
    this.#counts.received++;
    // This runs inside ioredis' event emitter: a throw here would be an uncaughtException.
    try {
      node.receive(op);
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

/** `promise`, or a rejection with `message` after `ms` milliseconds. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
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
