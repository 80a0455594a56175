import type { Redis } from "ioredis";
import type { ClusterNode, ClusterOp, SocketPlace } from "../../cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../../cluster/codec.js";
import { messageOf } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedResumeOptions } from "../../options/resume.js";
import { type ResumeBackend, resumeBackend } from "../../resume/backend.js";
import type { Room, SocketId } from "../../types.js";
import { RedisLink } from "./connections.js";
import type { DirectChannels } from "./direct-channels.js";
import { InFlight } from "./in-flight.js";
import { CHUNK, linkAll, Pacer, sweepIndex } from "./index-sets.js";
import { LiveNodes } from "./live-nodes.js";
import { MembersQuestions } from "./members-questions.js";
import type { RedisAdapterOptions } from "./options.js";
import { isResumeNotice, type RedisResumeStores, redisResumeStores, takeResumeNotice } from "./resume-stores.js";
import { runScript, scripts } from "./scripts.js";
import { frame, type MembersAnswer, type MembersQuestion, unframe, WireKind } from "./sharded-wire.js";
import { startError, within } from "./start.js";
import type { RedisAdapter, RedisAdapterStats } from "./stats.js";

type Counter = Exclude<keyof RedisAdapterStats, "inFlight" | "inFlightBytes" | "nodes" | "connected" | "partitions">;

/**
 * The classic mode of the Redis adapter (the default): broadcasts on one channel every node
 * hears, on one Redis; sendTo, closes and members() questions on the direct channel of the
 * nodes concerned only. Redis is written to when a room appears on or empties from a node and
 * when a socket id, session or user appears or leaves, never per join; the heartbeat is O(1) per
 * node. Key and channel layout: scripts.ts and docs/adapters.md.
 * @example
 * const adapter = createRedisAdapter(new Redis(url)); // classic
 */
export class ClassicRedisAdapter implements RedisAdapter {
  readonly #template: Redis;
  readonly #options: Required<RedisAdapterOptions>;
  readonly #channel: string;
  readonly #presence: string;
  /** This node's rooms and their local sockets: what Redis is told again, whole, after every reconnection. */
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
  /** Socket id -> its entries ("i:<id>", "s:<session>", "u:<user>"); entry -> local sockets holding it. */
  readonly #located = new Map<SocketId, string[]>();
  readonly #entries = new Map<string, number>();
  readonly #questions: MembersQuestions;
  #direct = "";
  #node: ClusterNode | undefined;
  #link: RedisLink | undefined;
  #live: LiveNodes | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** A heartbeat sent and not answered: while Redis is frozen, no second one joins it. */
  #beating = false;
  /** A membership change could not be written (in-flight bound reached): write everything again at the next heartbeat. */
  #dirty = false;
  #restoring: Promise<void> = Promise.resolve();
  #templateOnError: ((error: Error) => void) | undefined;
  /** The resume stores, told of the `moved`, `inbox` and `reply` notices on this node's direct channel. */
  #resume: RedisResumeStores | undefined;

  constructor(template: Redis, options: Required<RedisAdapterOptions>) {
    this.#template = template;
    this.#options = options;
    this.#questions = new MembersQuestions(() => this.#me, options.membersTimeout, this.#counts);
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

  /**
   * Resumable sessions across nodes (`createServer({ resume })` with this adapter): history in
   * Redis Streams and sessions in Redis hashes, on a connection of their own under the same prefix.
   */
  [resumeBackend](options: ResolvedResumeOptions, logger: Logger): ResumeBackend {
    const channels: DirectChannels = { me: () => this.#me, prefix: this.#key("direct:"), suffix: "", command: "PUBLISH" };
    const stores = redisResumeStores(this.#template, this.#options.prefix, options, logger, channels);
    this.#resume = stores;
    return stores;
  }

  get nodeId(): string | undefined {
    return this.#node?.nodeId;
  }

  get #me(): string {
    return this.#node?.nodeId ?? "";
  }

  get #healthy(): boolean {
    return this.#link?.healthy === true;
  }

  async start(node: ClusterNode): Promise<void> {
    if (this.#node !== undefined) throw new Error("createRedisAdapter: an adapter serves one server; create one per server");
    this.#node = node;
    this.#direct = this.#key(`direct:${node.nodeId}`);
    this.#live = new LiveNodes(node.nodeId, this.#options.nodeTtl);
    // The template's own faults would otherwise be printed by ioredis as "Unhandled error event".
    if (this.#template.listenerCount("error") === 0) {
      this.#templateOnError = (error: Error) => node.logger.debug({ err: error }, `Redis adapter (the client passed in): ${error.message}`);
      this.#template.on("error", this.#templateOnError);
    }
    const link = new RedisLink(this.#template, [this.#channel, this.#presence, this.#direct], node.logger, {
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
    const body = encodeClusterOp(this.#me, op, sentAt);
    // Routed operations travel framed on direct channels; broadcasts bare on the shared one.
    const bytes = op.type === "broadcast" ? body : frame(WireKind.op, 0, body);
    const size = bytes.length;
    const ticket = this.#inFlight.admit(size, true);
    if (ticket === undefined) {
      this.#counts.overflowed++;
      this.#counts.dropped++;
      return;
    }
    // One command either way, on one connection: Redis keeps them in the order they were made.
    let sent: Promise<[number, number]>;
    if (op.type === "broadcast") {
      const expected = this.#live?.expected() ?? 1;
      sent = pub.publish(this.#channel, bytes).then((reached) => [reached, expected]);
    } else {
      const entry = op.type === "sendTo" ? `i:${op.id}` : `${op.by === "session" ? "s" : "u"}:${op.value}`;
      sent = runScript(
        pub,
        scripts.route,
        [this.#key(`at:${entry}`), this.#key("nodes")],
        [this.#key("direct:"), bytes, this.#me],
      ) as Promise<[number, number]>;
    }
    sent.then(
      ([reached, meant]) => {
        if (!this.#inFlight.release(ticket, size, true)) return; // counted when the connection closed
        if (Date.now() - sentAt > this.#options.maxOpAge) this.#drop("late");
        else if (reached < meant) this.#drop("undelivered");
        else this.#counts.published++;
      },
      () => {
        if (this.#inFlight.release(ticket, size, true)) this.#counts.dropped++;
      },
    );
  }

  join(room: Room, id: SocketId): void {
    let ids = this.#mine.get(room);
    if (ids === undefined) {
      this.#mine.set(room, (ids = new Set()));
      const roomsKey = this.#roomsKey();
      this.#write((pub) => pub.sadd(roomsKey, room));
    }
    ids.add(id);
  }

  leave(room: Room, id: SocketId): void {
    const ids = this.#mine.get(room);
    if (!ids?.delete(id) || ids.size > 0) return;
    this.#mine.delete(room);
    const roomsKey = this.#roomsKey();
    this.#write((pub) => pub.srem(roomsKey, room));
  }

  locate(id: SocketId, where: SocketPlace | undefined): void {
    const before = this.#located.get(id) ?? [];
    const after = where === undefined ? [] : [`i:${id}`];
    if (where?.session !== undefined) after.push(`s:${where.session}`);
    if (where?.user !== undefined) after.push(`u:${where.user}`);
    if (after.length === 0) this.#located.delete(id);
    else this.#located.set(id, after);
    const linked: string[] = [];
    const unlinked: string[] = [];
    for (const entry of before) if (!after.includes(entry) && this.#count(entry, -1) === 0) unlinked.push(entry);
    for (const entry of after) if (!before.includes(entry) && this.#count(entry, 1) === 1) linked.push(entry);
    // Plain commands (at most 3 entries), the index written first and removed last: index-sets.ts says why.
    const index = this.#atIndex(this.#me);
    const me = this.#me;
    if (unlinked.length > 0) {
      for (const name of unlinked) this.#write((pub) => pub.srem(this.#key(`at:${name}`), me));
      this.#write((pub) => pub.srem(index, ...unlinked));
    }
    if (linked.length > 0) {
      this.#write((pub) => pub.sadd(index, ...linked));
      for (const name of linked) this.#write((pub) => pub.sadd(this.#key(`at:${name}`), me));
    }
  }

  async members(room: Room): Promise<SocketId[]> {
    const local = this.#node?.localMembers(room) ?? [];
    const pub = this.#link?.pub;
    const ticket = pub !== undefined && this.#healthy ? this.#inFlight.admit(0, false) : undefined;
    // During an outage only this node can answer: its own members are still exact.
    if (pub === undefined || ticket === undefined) {
      this.#counts.membersLocalOnly++;
      return local;
    }
    return this.#questions.ask(room, local, {
      send: (question) => {
        const args = [this.#key("node:"), room, this.#key("direct:"), question, this.#me];
        const asked = runScript(pub, scripts.members, [this.#key("nodes")], args) as Promise<string[]>;
        // The command stays in flight until Redis answers, however long members() waited.
        const release = () => this.#inFlight.release(ticket, 0, false);
        asked.then(release, release);
        return asked;
      },
      failed: this.#commandFailed,
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const link = this.#link;
    const healthy = this.#healthy;
    this.#link = undefined;
    if (link === undefined) return;
    if (healthy) {
      // Bounded: a frozen Redis must not hold server.close() forever; the keys then expire by themselves.
      // Marked expired first (score 0): members() and routing leave this node out at once, and if
      // the removal is cut short by the bound, the next heartbeat of another node finds it expired
      // and removes the rest. Off the nodes set once forgotten.
      const nodes = this.#key("nodes");
      const goodbye = Promise.all([
        link.pub.zadd(nodes, 0, this.#me),
        link.pub.publish(this.#presence, `-${this.#me}`),
        this.#forget(link.pub, this.#me),
      ]).then(() => link.pub.zrem(nodes, this.#me));
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
    const name = channel.toString();
    if (name === this.#presence) {
      const id = message.toString("utf8", 1);
      if (id === node.nodeId) return;
      if (message[0] === 0x2b /* + */) this.#live?.joined(id);
      else this.#live?.left(id);
      return;
    }
    this.#counts.arrived++;
    // This runs inside ioredis' event emitter: a throw here would be an uncaughtException.
    try {
      if (name === this.#channel) {
        if (senderOf(message) !== node.nodeId) this.#onOp(node, message);
        return;
      }
      const parsed = unframe(message);
      if (parsed?.kind === WireKind.op) this.#onOp(node, parsed.body);
      else if (parsed?.kind === WireKind.ask) this.#onQuestion(node, JSON.parse(parsed.body.toString()) as MembersQuestion);
      else if (parsed?.kind === WireKind.answer) this.#questions.answer(JSON.parse(parsed.body.toString()) as MembersAnswer);
      else if (parsed !== undefined && isResumeNotice(parsed.kind)) takeResumeNotice(this.#resume, parsed.kind, parsed.body, node.logger);
      else node.logger.warn({ channel: name }, "Redis adapter: ignored a malformed cluster message");
    } catch (error) {
      node.logger.error({ err: error }, `Redis adapter: carrying out a cluster message failed: ${messageOf(error)}`);
    }
  };

  #onOp(node: ClusterNode, body: Buffer): void {
    let decoded: ReturnType<typeof decodeClusterOp>;
    try {
      decoded = decodeClusterOp(body);
    } catch (error) {
      node.logger.warn({ err: error, channel: this.#channel }, "Redis adapter: ignored a malformed cluster message");
      return;
    }
    const { op, sentAt } = decoded;
    // Delivered late is worse than not delivered (a chat line out of its time, a stale close).
    if (sentAt !== undefined && Date.now() - sentAt > this.#options.maxOpAge) {
      this.#counts.stale++;
      return;
    }
    const here =
      op.type === "broadcast"
        ? op.rooms.some((room) => this.#mine.has(room))
        : this.#entries.has(op.type === "sendTo" ? `i:${op.id}` : `${op.by === "session" ? "s" : "u"}:${op.value}`);
    // A broadcast is carried out only where its rooms have members; a routed operation came here because this node holds its target.
    const delivered = here || op.type !== "broadcast" ? node.receive(op) : false;
    this.#counts[here || delivered ? "received" : "ignored"]++;
  }

  #onQuestion(node: ClusterNode, question: MembersQuestion): void {
    const answer: MembersAnswer = { from: this.#me, qid: question.qid, ids: node.localMembers(question.room) };
    const bytes = frame(WireKind.answer, 0, Buffer.from(JSON.stringify(answer)));
    const direct = this.#key(`direct:${question.from}`);
    this.#write((pub) => pub.publish(direct, bytes), false);
  }

  /** Redis is (again) up and subscribed: it may have lost everything (a restart), so this node tells it its state again. */
  #onHealthy = (): void => {
    this.#live?.carryOver();
    this.#restoring = this.#restore();
    this.#restoring.catch(this.#commandFailed);
    // Subscribed (again): the resume stores' notices sent to this node while it was not are lost.
    this.#resume?.resubscribed();
  };

  #onPubClose = (): void => {
    this.#counts.dropped += this.#inFlight.reset();
    this.#beating = false;
  };

  #drop(why: "late" | "undelivered"): void {
    this.#counts[why]++;
    this.#counts.dropped++;
  }

  #count(entry: string, delta: 1 | -1): number {
    const count = (this.#entries.get(entry) ?? 0) + delta;
    if (count > 0) this.#entries.set(entry, count);
    else this.#entries.delete(entry);
    return count;
  }

  /** Sends a state change, unless Redis is away (restored whole later) or the in-flight bound is reached (marked dirty). */
  #write(command: (pub: Redis) => Promise<unknown>, state = true): void {
    const pub = this.#link?.pub;
    if (pub === undefined || !this.#healthy) return; // restored whole on reconnection
    const ticket = this.#inFlight.admit(0, false);
    if (ticket === undefined) {
      if (state) this.#dirty = true;
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

  /**
   * Replaces what Redis holds for this node with its local state, then beats once and says it is
   * here. Plain commands of at most 16 elements, a few hundred unanswered (index-sets.ts): never one
   * long command, and a heartbeat sent meanwhile is not stuck behind the whole restore.
   */
  async #restore(): Promise<void> {
    const pub = this.#link?.pub;
    if (pub === undefined) return;
    this.#dirty = false;
    // Loaded before any use: a first EVALSHA answered NOSCRIPT would be sent again after the
    // publishes made meanwhile, and a routed operation would be overtaken by them.
    await Promise.all(Object.values(scripts).map((s) => pub.script("LOAD", s.lua)));
    const pacer = new Pacer();
    await this.#forget(pub, this.#me, pacer);
    // Read after the removal; a room left from here on is skipped if its turn has not come yet (its SREM went out at once).
    const rooms = [...this.#mine.keys()];
    const roomsKey = this.#roomsKey();
    for (let i = 0; i < rooms.length; i += CHUNK) {
      const chunk = rooms.slice(i, i + CHUNK);
      pacer.send(() => {
        const held = chunk.filter((room) => this.#mine.has(room));
        return held.length === 0 ? Promise.resolve() : pub.sadd(roomsKey, ...held);
      });
    }
    const at = (name: string) => this.#key(`at:${name}`);
    linkAll(pacer, pub, this.#atIndex(this.#me), at, this.#me, [...this.#entries.keys()], (name) => this.#entries.has(name));
    await pacer.drain();
    await this.#beatNow();
    await pub.publish(this.#presence, `+${this.#me}`);
  }

  /** Removes what Redis holds for `node` (this one restarting or closing, or one whose heartbeat ran out), a page at a time. */
  async #forget(pub: Redis, node: string, pacer = new Pacer()): Promise<void> {
    // UNLINK frees a large set in a background thread: Redis' own work for it is O(1), whatever the rooms.
    await pacer.run(() => pub.unlink(this.#key(`node:${node}:rooms`)));
    await sweepIndex(pacer, pub, this.#atIndex(node), (name) => this.#key(`at:${name}`), node);
    await pacer.drain();
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

  /** One O(1) heartbeat; sweeps the nodes it found expired; resolves whether Redis had forgotten this node. */
  async #beatNow(): Promise<boolean> {
    const pub = this.#link?.pub;
    if (pub === undefined) throw new Error("the adapter is stopped");
    this.#beating = true;
    try {
      const keys = [this.#key("nodes"), this.#roomsKey(), this.#atIndex(this.#me)];
      const reply = (await runScript(pub, scripts.heartbeat, keys, [this.#me, String(this.#options.nodeTtl)])) as (number | string)[];
      const [forgotten, now, count] = reply.slice(0, 3).map(Number);
      const expired = reply.slice(3, 3 + (count ?? 0)).map(String);
      const nodes: [string, number][] = [];
      for (let i = 3 + (count ?? 0); i + 1 < reply.length; i += 2) nodes.push([String(reply[i]), Number(reply[i + 1])]);
      this.#live?.update(Number(now), nodes);
      for (const id of expired) this.#forget(pub, id).catch(this.#commandFailed);
      return forgotten === 1;
    } finally {
      this.#beating = false;
    }
  }

  #commandFailed = (error: unknown): void => {
    // Commands fail while Redis is away; the lost connection was logged once and the state is
    // restored on reconnection. A failure on a live connection is a real fault.
    if (this.#healthy) this.#node?.logger.error({ err: error }, `Redis adapter: a command failed: ${messageOf(error)}`);
  };

  #key(name: string): string {
    return `${this.#options.prefix}:${name}`;
  }

  #roomsKey(): string {
    return this.#key(`node:${this.#me}:rooms`);
  }

  #atIndex(node: string): string {
    return this.#key(`node:${node}:at`);
  }
}
