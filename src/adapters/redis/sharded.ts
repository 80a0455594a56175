import type { Cluster, Redis } from "ioredis";
import type { ClusterNode, ClusterOp, SocketPlace } from "../../cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../../cluster/codec.js";
import { messageOf } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import { type ResumeBackend, resumeBackend } from "../../resume/backend.js";
import { oneAtATime } from "../../resume/one-at-a-time.js";
import type { Room, SocketId } from "../../types.js";
import type { DirectChannels } from "./direct-channels.js";
import { InFlight } from "./in-flight.js";
import { linkAll, Pacer, sweepIndex } from "./index-sets.js";
import { MembersQuestions } from "./members-questions.js";
import type { RedisAdapterOptions } from "./options.js";
import { isResumeNotice, type RedisResumeStores, redisResumeStores, takeResumeNotice } from "./resume-stores.js";
import { runScript } from "./scripts.js";
import { slotLayout } from "./session-layout.js";
import { isCluster, ShardedLayout, shardedScripts } from "./sharded-layout.js";
import { frame, type MembersAnswer, type MembersQuestion, SequenceGaps, unframe, WireKind } from "./sharded-wire.js";
import { startError, untilReady, within } from "./start.js";
import type { RedisAdapter, RedisAdapterStats } from "./stats.js";

type Counter = Exclude<keyof RedisAdapterStats, "inFlight" | "inFlightBytes" | "nodes" | "connected" | "partitions">;
/** One Redis command: a membership write is two of them, sent in this order on one connection. */
type Command = (pub: Redis | Cluster) => Promise<unknown>;

/** Delays before a refused notice of the resume stores is sent again, in ms (see `#notify`). */
const NOTICE_RETRIES_MS: readonly number[] = [250, 1_000, 4_000];

/**
 * The sharded mode of the Redis adapter (`{ sharded: true }`): rooms are spread over partitions
 * whose keys and sharded channel share one hash slot; a node listens (SSUBSCRIBE) only to the
 * partitions where it has local members, and to its own direct channel. Works on Redis Cluster
 * and on a single Redis 7. Key and channel layout: sharded-layout.ts and docs/adapters.md.
 * @example
 * const adapter = createRedisAdapter(new Redis.Cluster(nodes), { sharded: true });
 */
export class ShardedRedisAdapter implements RedisAdapter {
  readonly #template: Redis | Cluster;
  readonly #options: Required<RedisAdapterOptions>;
  readonly #layout: ShardedLayout;
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
  /** This node's rooms and their local sockets: a room is written to Redis when it appears here or empties. */
  readonly #mine = new Map<Room, Set<SocketId>>();
  /** Partition -> how many of this node's rooms are in it; subscribed while above 0. */
  readonly #interest = new Map<number, number>();
  /** Partition -> per-publisher sequence numbers seen since this node subscribed to it. */
  readonly #gaps = new Map<number, SequenceGaps>();
  /** Per publisher and partition, the next sequence number. */
  readonly #seqs = new Map<number, number>();
  /** Socket id -> its `at` entries ("i:<id>", "s:<session>", "u:<user>"); entry -> local sockets holding it. */
  readonly #located = new Map<SocketId, string[]>();
  readonly #entries = new Map<string, number>();
  /** Node id -> when its heartbeat runs out (this node's clock), as last read from Redis. */
  #live = new Map<string, number>();
  readonly #questions: MembersQuestions;
  #node: ClusterNode | undefined;
  #pub: Redis | Cluster | undefined;
  #sub: Redis | Cluster | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #dirty = false;
  /** Publishes held back behind an owner lookup, and the last of them. */
  #waiting = 0;
  #templateOnError: ((error: Error) => void) | undefined;
  /** The resume stores, told of the `moved`, `inbox` and `reply` notices on this node's direct channel. */
  #resume: RedisResumeStores | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(template: Redis | Cluster, options: Required<RedisAdapterOptions>, partitions: number) {
    this.#template = template;
    this.#options = options;
    this.#questions = new MembersQuestions(() => this.#me, options.membersTimeout, this.#counts);
    this.#layout = new ShardedLayout(options.prefix, partitions);
    this.#inFlight = new InFlight(options.maxInFlight, options.maxInFlightBytes);
  }

  get stats(): RedisAdapterStats {
    const now = Date.now();
    let nodes = 1;
    for (const [id, expiry] of this.#live) if (id !== this.nodeId && expiry >= now) nodes++;
    return {
      ...this.#counts,
      inFlight: this.#inFlight.commands,
      inFlightBytes: this.#inFlight.bytes,
      nodes,
      connected: this.#healthy,
      partitions: this.#interest.size,
    };
  }

  get nodeId(): string | undefined {
    return this.#node?.nodeId;
  }

  /**
   * Resumable sessions across nodes, on a Redis Cluster or one Redis: the stores keep each
   * session's keys in the slot of its bucket (`slotLayout`), and their notices to a node (`moved`,
   * `inbox`, `reply`) leave on this adapter's publishing connection once a script has answered,
   * since a script may not SPUBLISH on another slot's channel.
   */
  [resumeBackend](options: ResolvedResumeOptions, logger: Logger): ResumeBackend {
    const direct = this.#layout.direct("");
    const at = direct.indexOf("}");
    const channels: DirectChannels = {
      me: () => this.#me,
      prefix: direct.slice(0, at),
      suffix: direct.slice(at),
      command: "SPUBLISH",
      send: (node, notice) => this.#notify(this.#layout.direct(node), notice, 0),
    };
    const prefix = this.#options.prefix;
    const stores = redisResumeStores(this.#template, prefix, options, logger, channels, slotLayout(prefix));
    this.#resume = stores;
    return stores;
  }

  get #me(): string {
    return this.#node?.nodeId ?? "";
  }

  get #healthy(): boolean {
    return this.#pub?.status === "ready" && this.#sub?.status === "ready";
  }

  async start(node: ClusterNode): Promise<void> {
    if (this.#node !== undefined) throw new Error("createRedisAdapter: an adapter serves one server; create one per server");
    this.#node = node;
    const own = { keyPrefix: "", lazyConnect: false };
    const template = this.#template;
    if (isCluster(template)) {
      this.#pub = template.duplicate([], { ...own, enableOfflineQueue: false });
      // ioredis keeps one subscriber connection per shard master and subscribes again after a failover.
      // Connected at start, not at the first SSUBSCRIBE: a join is then listening within one round trip.
      const redisOptions = { ...template.options.redisOptions, lazyConnect: false };
      this.#sub = template.duplicate([], { ...own, shardedSubscribers: true, redisOptions });
    } else {
      this.#pub = template.duplicate({ ...own, enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
      // Subscribed again by this adapter on "ready" (below), not by ioredis: ioredis 6.0 sends its
      // own SSUBSCRIBEs after a reconnect with no rejection handler, so a connection that drops
      // again before they are answered ends in an unhandled rejection (a process exit on Node >= 15).
      this.#sub = template.duplicate({ ...own, autoResubscribe: false, autoResendUnfulfilledCommands: false });
    }
    const pub = this.#pub;
    const sub = this.#sub;
    // The template's own faults would otherwise be printed by ioredis as "Unhandled error event".
    if (template.listenerCount("error") === 0) {
      this.#templateOnError = (error: Error) => node.logger.debug({ err: error }, `Redis adapter (the client passed in): ${error.message}`);
      template.on("error", this.#templateOnError);
    }
    for (const [connection, role] of [
      [pub, "publishing"],
      [sub, "subscribing"],
    ] as const) {
      connection.on("error", (error: Error) => node.logger.debug({ err: error }, `Redis adapter (${role}, sharded): ${error.message}`));
    }
    pub.on("close", () => {
      this.#counts.dropped += this.#inFlight.reset();
    });
    pub.on("ready", () => {
      if (this.#heartbeat !== undefined) this.#restore().catch(this.#failed);
    });
    // After a reconnect: on one Redis this SSUBSCRIBE of the direct channel and every partition
    // with members here is the resubscription itself; on a Cluster ioredis subscribes each shard
    // again by itself, and this one, sent after its own, is answered once the direct channel is
    // heard again. Either way its answer tells the resume stores that notices sent meanwhile were lost.
    // One at a time (a failover makes ioredis say "subscribersReady" at each of its many attempts).
    const subscribeAgain = oneAtATime(async () => {
      if (this.#heartbeat === undefined) return;
      const direct = this.#layout.direct(node.nodeId);
      const channels = isCluster(sub) ? [direct] : [direct, ...[...this.#interest.keys()].map((p) => this.#layout.channel(p))];
      await sub.ssubscribe(...channels).then(() => this.#resume?.resubscribed(), this.#failed);
    });
    sub.on("ready", subscribeAgain);
    // On a Cluster the connection stays ready while ioredis replaces the subscriber of a shard whose
    // master failed over (its subscriber group then says "subscribersReady"): the direct channel
    // may be on that shard, and notices sent to it meanwhile lost.
    if (isCluster(sub)) sub.on("subscribersReady", subscribeAgain);
    sub.on("smessageBuffer", this.#onMessage);
    try {
      await within(Promise.all([untilReady(pub), untilReady(sub)]), this.#options.startTimeout, "no answer within startTimeout");
      await within(sub.ssubscribe(this.#layout.direct(node.nodeId)), this.#options.startTimeout, "SSUBSCRIBE got no answer");
      await within(this.#restore(), this.#options.startTimeout, "no answer to the first writes within startTimeout");
    } catch (error) {
      await this.stop();
      throw startError(error, pub);
    }
    this.#heartbeat = setInterval(this.#beat, Math.floor(this.#options.nodeTtl / 3));
    this.#heartbeat.unref();
  }

  publish(op: ClusterOp): void {
    if (this.#pub === undefined || !this.#healthy) {
      this.#counts.dropped++;
      return;
    }
    const sentAt = Date.now();
    const body = encodeClusterOp(this.#me, op, sentAt);
    if (op.type === "broadcast") {
      const partitions = new Set(op.rooms.map((room) => this.#layout.partitionOf(room)));
      this.#inOrder(() => {
        for (const p of partitions) {
          const seq = (this.#seqs.get(p) ?? 0) + 1;
          this.#seqs.set(p, seq);
          this.#send(this.#layout.channel(p), frame(WireKind.op, seq, body), sentAt);
        }
      });
      return;
    }
    const entry = op.type === "sendTo" ? `i:${op.id}` : `${op.by === "session" ? "s" : "u"}:${op.value}`;
    const bytes = frame(WireKind.op, 0, body);
    const owners = this.#command((pub) => pub.smembers(this.#layout.at(entry)));
    this.#inOrder(() =>
      owners.then(
        async (found) => {
          if (found === undefined) this.#drop("overflowed");
          // Waiting for Redis to take them keeps them ahead of later publishes, which may go to other shards.
          else
            await Promise.all(
              found.filter((owner) => owner !== this.#me).map((owner) => this.#send(this.#layout.direct(owner), bytes, sentAt)),
            );
        },
        () => {
          this.#counts.dropped++;
        },
      ),
    );
  }

  /**
   * Issues publishes in the order they were made: a sendTo or close, until Redis has taken it
   * (an owner lookup, then its SPUBLISH), holds back the ones after it; otherwise they go at once.
   */
  #inOrder(step: () => void | Promise<void>): void {
    if (this.#waiting === 0) {
      const result = step();
      if (result === undefined) return;
      this.#waiting++;
      this.#tail = result.finally(() => this.#waiting--);
      return;
    }
    this.#waiting++;
    this.#tail = this.#tail.then(step).finally(() => this.#waiting--);
  }

  join(room: Room, id: SocketId): void {
    let ids = this.#mine.get(room);
    if (ids === undefined) {
      this.#mine.set(room, (ids = new Set()));
      const p = this.#layout.partitionOf(room);
      this.#link(this.#layout.rooms(p, this.#me), this.#layout.room(room), room, true);
      const count = (this.#interest.get(p) ?? 0) + 1;
      this.#interest.set(p, count);
      if (count === 1) this.#listen(p, true);
    }
    ids.add(id);
  }

  leave(room: Room, id: SocketId): void {
    const ids = this.#mine.get(room);
    if (!ids?.delete(id) || ids.size > 0) return;
    this.#mine.delete(room);
    const p = this.#layout.partitionOf(room);
    this.#link(this.#layout.rooms(p, this.#me), this.#layout.room(room), room, false);
    const count = (this.#interest.get(p) ?? 1) - 1;
    if (count > 0) this.#interest.set(p, count);
    else {
      this.#interest.delete(p);
      this.#listen(p, false);
    }
  }

  locate(id: SocketId, where: SocketPlace | undefined): void {
    const before = this.#located.get(id) ?? [];
    const after = where === undefined ? [] : [`i:${id}`];
    if (where?.session !== undefined) after.push(`s:${where.session}`);
    if (where?.user !== undefined) after.push(`u:${where.user}`);
    if (after.length === 0) this.#located.delete(id);
    else this.#located.set(id, after);
    for (const entry of before) if (!after.includes(entry)) this.#entry(entry, -1);
    for (const entry of after) if (!before.includes(entry)) this.#entry(entry, 1);
  }

  async members(room: Room): Promise<SocketId[]> {
    const node = this.#node;
    const local = node?.localMembers(room) ?? [];
    if (node === undefined || !this.#healthy) {
      this.#counts.membersLocalOnly++;
      return local;
    }
    const p = this.#layout.partitionOf(room);
    return this.#questions.ask(room, local, {
      send: (question) =>
        this.#command(
          (pub) =>
            runScript(pub, shardedScripts.members, [this.#layout.room(room)], [this.#layout.channel(p), question, this.#me]) as Promise<
              string[]
            >,
        ),
      // A node this one saw alive whose heartbeat has run out is not waited for; one never seen yet (just started) is.
      skip: (id) => (this.#live.get(id) ?? Number.POSITIVE_INFINITY) < Date.now(),
      failed: this.#failed,
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const pub = this.#pub;
    const sub = this.#sub;
    const healthy = this.#healthy;
    this.#pub = this.#sub = undefined;
    if (pub !== undefined && healthy && this.#node !== undefined) {
      // Marked expired first (score 0): members() stops waiting for this node, and if the sweep is
      // cut short by the bound (50,000 rooms take about a second), the next heartbeat of another
      // node finds it expired and sweeps the rest. Off the nodes set once swept.
      const nodes = this.#layout.nodes;
      const goodbye = Promise.all([pub.zadd(nodes, 0, this.#me), this.#sweep(pub, this.#me)]).then(() => pub.zrem(nodes, this.#me));
      await within(goodbye, this.#options.membersTimeout, "no answer within membersTimeout").catch(this.#failed);
    }
    for (const connection of [pub, sub]) {
      connection?.removeAllListeners("close").removeAllListeners("ready");
      connection?.disconnect();
    }
    if (this.#templateOnError !== undefined) this.#template.off("error", this.#templateOnError);
    this.#templateOnError = undefined;
  }

  #onMessage = (channel: Buffer, message: Buffer): void => {
    const node = this.#node;
    if (node === undefined) return;
    this.#counts.arrived++;
    const parsed = unframe(message);
    try {
      if (parsed?.kind === WireKind.op) this.#onOp(node, channel.toString(), parsed.seq, parsed.body);
      else if (parsed?.kind === WireKind.ask) this.#onQuestion(node, JSON.parse(parsed.body.toString()) as MembersQuestion);
      else if (parsed?.kind === WireKind.answer) this.#questions.answer(JSON.parse(parsed.body.toString()) as MembersAnswer);
      else if (parsed !== undefined && isResumeNotice(parsed.kind)) takeResumeNotice(this.#resume, parsed.kind, parsed.body, node.logger);
      else node.logger.warn({ channel: channel.toString() }, "Redis adapter: ignored a malformed cluster message");
    } catch (error) {
      // This runs inside ioredis' event emitter: a throw here would be an uncaughtException.
      node.logger.error({ err: error }, `Redis adapter: handling a cluster message failed: ${messageOf(error)}`);
    }
  };

  #onOp(node: ClusterNode, channel: string, seq: number, body: Buffer): void {
    const sender = senderOf(body);
    const p = this.#layout.partitionOfChannel(channel);
    if (p >= 0 && seq > 0 && sender !== undefined) this.#counts.lost += this.#gaps.get(p)?.see(sender, seq) ?? 0;
    if (sender === this.#me) return; // our own broadcast, back because we listen to its partition
    const { op, sentAt } = decodeClusterOp(body);
    if (sentAt !== undefined && Date.now() - sentAt > this.#options.maxOpAge) {
      this.#counts.stale++;
      return;
    }
    if (op.type === "broadcast") {
      // Each socket is served by the lowest partition among the op's rooms it is in: once in all.
      const rooms = op.rooms.filter((room) => this.#layout.partitionOf(room) === p && this.#mine.has(room));
      if (rooms.length === 0) {
        this.#counts.ignored++;
        return;
      }
      let except = op.except;
      for (const room of op.rooms) {
        if (this.#layout.partitionOf(room) < p && this.#mine.has(room)) except = [...except, ...node.localMembers(room)];
      }
      this.#counts.received++;
      node.receive({ ...op, rooms, except });
      return;
    }
    const here = op.type === "sendTo" ? this.#located.has(op.id) : this.#entries.has(`${op.by === "session" ? "s" : "u"}:${op.value}`);
    this.#counts[here ? "received" : "ignored"]++;
    node.receive(op);
  }

  #onQuestion(node: ClusterNode, question: MembersQuestion): void {
    if (question.from === this.#me || !this.#mine.has(question.room)) return;
    const answer: MembersAnswer = { from: this.#me, qid: question.qid, ids: node.localMembers(question.room) };
    this.#send(this.#layout.direct(question.from), frame(WireKind.answer, 0, Buffer.from(JSON.stringify(answer))), undefined);
  }

  /**
   * SPUBLISH within the in-flight bounds; `sentAt` given for operations (counted), undefined for
   * answers. Resolves false when it was not sent (over the bounds, or Redis refused it).
   */
  #send(channel: string, bytes: Buffer, sentAt: number | undefined): Promise<boolean> {
    const pub = this.#pub;
    const counted = sentAt !== undefined;
    const ticket = pub === undefined ? undefined : this.#inFlight.admit(bytes.length, counted);
    if (pub === undefined || ticket === undefined) {
      if (counted) this.#drop("overflowed");
      return Promise.resolve(false);
    }
    return pub.spublish(channel, bytes).then(
      () => {
        if (!this.#inFlight.release(ticket, bytes.length, counted) || !counted) return true;
        if (Date.now() - sentAt > this.#options.maxOpAge) this.#drop("late");
        else this.#counts.published++;
        return true;
      },
      (error: unknown) => {
        if (this.#inFlight.release(ticket, bytes.length, counted) && counted) this.#counts.dropped++;
        this.#failed(error);
        return false;
      },
    );
  }

  /**
   * Sends a resume stores' notice to a node's direct channel. A `moved` or `reply` notice Redis
   * refuses (a shard failing over) is sent again after each of {@link NOTICE_RETRIES_MS}: what it
   * tells is in Redis already, and a late or second one changes nothing at the receiver (fenced by
   * the generation; no retry waiting). An `inbox` notice is not: a late one could arrive after the
   * inbox's epoch changed and move the client back to the old one; the receiver reads what it missed
   * when its subscription is back (`resubscribed`) and at its check every ttl / 3.
   */
  #notify(channel: string, notice: Buffer, attempt: number): void {
    void this.#send(channel, notice, undefined).then((sent) => {
      const delay = NOTICE_RETRIES_MS[attempt];
      if (sent || delay === undefined || this.#heartbeat === undefined || notice[0] === WireKind.inbox) return;
      setTimeout(() => this.#notify(channel, notice, attempt + 1), delay).unref();
    });
  }

  #drop(why: "overflowed" | "late"): void {
    this.#counts[why]++;
    this.#counts.dropped++;
  }

  /** Runs a command within the in-flight bounds; resolves undefined when the bound is reached. */
  async #command<T>(run: (pub: Redis | Cluster) => Promise<T>): Promise<T | undefined> {
    const pub = this.#pub;
    const ticket = pub === undefined || !this.#healthy ? undefined : this.#inFlight.admit(0, false);
    if (pub === undefined || ticket === undefined) return undefined;
    try {
      return await run(pub);
    } finally {
      this.#inFlight.release(ticket, 0, false);
    }
  }

  /**
   * Lists this node in `set` and `name` in its `index` (or removes both): two plain commands, the
   * index written first and removed last (index-sets.ts says why that order is enough).
   */
  #link(index: string, set: string, name: string, on: boolean): void {
    const me = this.#me;
    if (on) this.#write([(pub) => pub.sadd(index, name), (pub) => pub.sadd(set, me)]);
    else this.#write([(pub) => pub.srem(set, me), (pub) => pub.srem(index, name)]);
  }

  /** Membership writes, in order; when one cannot be sent now, everything is written again at the next heartbeat. */
  #write(commands: Command[]): void {
    if (!this.#healthy) {
      this.#dirty = true;
      return;
    }
    for (const command of commands) {
      this.#command(command).then((done) => {
        if (done === undefined) this.#dirty = true;
      }, this.#failed);
    }
  }

  #entry(entry: string, delta: 1 | -1): void {
    const count = (this.#entries.get(entry) ?? 0) + delta;
    if (count > 0) this.#entries.set(entry, count);
    else this.#entries.delete(entry);
    if (delta === 1 && count !== 1) return;
    if (delta === -1 && count !== 0) return;
    const p = this.#layout.partitionOf(entry);
    this.#link(this.#layout.keys(p, this.#me), this.#layout.at(entry), entry, delta === 1);
  }

  #listen(p: number, on: boolean): void {
    const sub = this.#sub;
    if (sub === undefined) return;
    const channel = this.#layout.channel(p);
    if (on) this.#gaps.set(p, new SequenceGaps());
    else this.#gaps.delete(p);
    (on ? sub.ssubscribe(channel) : sub.sunsubscribe(channel)).catch(this.#failed);
  }

  /**
   * Replaces what Redis holds for this node with its local state, then beats. Plain commands of at
   * most 16 elements, a few hundred unanswered (index-sets.ts): never one long command, and a
   * heartbeat sent meanwhile is not stuck behind the whole restore.
   */
  async #restore(): Promise<void> {
    const pub = this.#pub;
    if (pub === undefined) return;
    this.#dirty = false;
    const pacer = new Pacer();
    await this.#sweep(pub, this.#me, pacer);
    // Read after the sweep: a join made during it is written again here, a leave is not. One made
    // from here on is sent at once; linkAll then skips what was left before its turn came.
    const room = (n: string) => this.#mine.has(n);
    const entry = (n: string) => this.#entries.has(n);
    for (const [p, names] of groupBy([...this.#mine.keys()], (n) => this.#layout.partitionOf(n))) {
      linkAll(pacer, pub, this.#layout.rooms(p, this.#me), (n) => this.#layout.room(n, p), this.#me, names, room);
    }
    for (const [p, names] of groupBy([...this.#entries.keys()], (n) => this.#layout.partitionOf(n))) {
      linkAll(pacer, pub, this.#layout.keys(p, this.#me), (n) => this.#layout.at(n, p), this.#me, names, entry);
    }
    await pacer.drain();
    await this.#beatNow();
  }

  /** Removes every entry of `node` (this one restarting, or one whose heartbeat ran out): a page of each index set at a time. */
  async #sweep(pub: Redis | Cluster, node: string, pacer = new Pacer()): Promise<void> {
    const layout = this.#layout;
    const all: Promise<void>[] = [];
    for (let p = 0; p < layout.partitions; p++) {
      all.push(
        sweepIndex(pacer, pub, layout.rooms(p, node), (n) => layout.room(n, p), node),
        sweepIndex(pacer, pub, layout.keys(p, node), (n) => layout.at(n, p), node),
      );
    }
    await Promise.all(all);
    await pacer.drain();
  }

  #beat = (): void => {
    if (!this.#healthy || this.#beating) return;
    if (this.#dirty) {
      this.#restore().catch(this.#failed);
      return;
    }
    this.#beatNow()
      .then((forgotten) => (forgotten ? this.#restore() : undefined))
      .catch(this.#failed);
  };

  /** One O(1) heartbeat; sweeps the nodes it found expired; resolves whether Redis had forgotten this node. */
  async #beatNow(): Promise<boolean> {
    const pub = this.#pub;
    if (pub === undefined) throw new Error("the adapter is stopped");
    this.#beating = true;
    try {
      const reply = (await runScript(pub, shardedScripts.heartbeat, [this.#layout.nodes], [this.#me, String(this.#options.nodeTtl)])) as (
        | string
        | number
      )[];
      const [forgotten, now, count] = reply.map(Number);
      const offset = Date.now() - (now ?? 0);
      const expired = reply.slice(3, 3 + (count ?? 0)).map(String);
      const live = new Map<string, number>();
      for (let i = 3 + (count ?? 0); i + 1 < reply.length; i += 2) live.set(String(reply[i]), Number(reply[i + 1]) + offset);
      for (const [id, expiry] of this.#live) if (!live.has(id)) live.set(id, Math.min(expiry, Date.now() - 1));
      this.#live = live;
      for (const id of expired) this.#sweep(pub, id).catch(this.#failed);
      return forgotten === 1;
    } finally {
      this.#beating = false;
    }
  }

  #failed = (error: unknown): void => {
    if (this.#healthy) this.#node?.logger.error({ err: error }, `Redis adapter (sharded): a command failed: ${messageOf(error)}`);
  };
}

function groupBy<T>(items: T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}
