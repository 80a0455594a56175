/**
 * The nodes a publish is expected to reach, this one included, so that PUBLISH's receiver count
 * can tell a message that missed a node. Redis' list of nodes whose heartbeat is current is the
 * source, read at each heartbeat; expiry times are kept in this node's clock.
 *
 * When Redis may have lost that list (it restarted empty, or forgot this node), the nodes known
 * before are *carried*: still expected until their heartbeat would have run out, or until Redis
 * lists them again. Without that, a restarted Redis would list only the nodes that came back, and
 * messages missing a node still reconnecting would look delivered.
 * @example
 * const receivers = await pub.publish(channel, bytes); if (receivers < liveNodes.expected()) undelivered++;
 */
export class LiveNodes {
  readonly #self: string;
  readonly #ttl: number;
  /** Node id -> when its heartbeat runs out (this node's clock), as Redis last said. */
  #listed = new Map<string, number>();
  /** Nodes known before Redis may have lost them -> when their heartbeat runs out. */
  readonly #carried = new Map<string, number>();

  /** `ttl`: how long a node announced by {@link joined} is expected without a heartbeat seen (ms). */
  constructor(self: string, ttl: number) {
    this.#self = self;
    this.#ttl = ttl;
  }

  /** Takes a heartbeat's answer: Redis' time and, per live node, when its heartbeat runs out (Redis' clock). */
  update(redisNow: number, nodes: readonly (readonly [string, number])[]): void {
    const offset = Date.now() - redisNow;
    this.#listed = new Map(nodes.map(([id, expiry]) => [id, expiry + offset]));
    for (const id of this.#listed.keys()) this.#carried.delete(id);
  }

  /** Redis may have lost every node's record: keep expecting the nodes known so far until they run out. */
  carryOver(): void {
    for (const [id, expiry] of this.#listed) if (id !== this.#self) this.#carried.set(id, Math.max(expiry, this.#carried.get(id) ?? 0));
    this.#listed = new Map();
  }

  /** A node said it is (back) in the cluster, subscribed: expect it at once rather than at the next heartbeat. */
  joined(id: string): void {
    this.#listed.set(id, Math.max(Date.now() + this.#ttl, this.#listed.get(id) ?? 0));
    this.#carried.delete(id);
  }

  /** A node said it is leaving (a graceful close): stop expecting it at once. */
  left(id: string): void {
    this.#listed.delete(id);
    this.#carried.delete(id);
  }

  /** How many nodes a publish should reach, this one included. */
  expected(): number {
    const now = Date.now();
    let count = 1;
    for (const [id, expiry] of this.#listed) if (id !== this.#self && expiry >= now) count++;
    for (const [id, expiry] of this.#carried) {
      if (expiry >= now) count++;
      else this.#carried.delete(id);
    }
    return count;
  }
}
