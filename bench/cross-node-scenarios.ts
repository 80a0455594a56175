import { Redis } from "ioredis";
import { RedisServer } from "../test/helpers/redis-server.js";
import { clients, type Impl, Node, protocolOf, readCpu, sleep } from "./cross-node-nodes.js";
import { Samples } from "./stats.js";
import { type Conn, dataOffset, messageFrame } from "./wire.js";

/**
 * The two scenarios of the cross-node benchmark, each on a fresh Redis and fresh nodes.
 *
 * saturate: 2 nodes A and B, `perNode` clients on each in one room, one more client on A (not a
 * member) sends; 8 broadcasts kept outstanding (the next leaves when one reached every member).
 * Figures over the measured window: deliveries/s, server CPU per delivery (A + B + Redis CPU time
 * over deliveries), latency send-to-receipt on A (local) and B (cross-node).
 *
 * waste: 4 nodes; a room whose only member is on node 0; a client on node 3 (not a member) sends
 * `publishes` broadcasts to it at a fixed rate. Counted: messages Redis delivered to each node's
 * subscriber per publish, against the 1 node with members; CPU time of the member-less nodes 1
 * and 2 per publish.
 */

export interface SaturateResult {
  deliveries: number;
  seconds: number;
  perSecond: number;
  cpuPerDelivery: number;
  redisPerDelivery: number;
  localP99: number;
  crossP50: number;
  crossP99: number;
  cpuShare: number;
}

export interface WasteResult {
  publishes: number;
  arrivals: number;
  useful: number;
  wasted: number;
  idleNodeCpuPerPublish: number;
  delivered: number;
}

const WINDOW = 8;

async function withNodes<T>(impl: Impl, count: number, body: (nodes: Node[], redis: Redis) => Promise<T>): Promise<T> {
  const server = await RedisServer.launch();
  const redis = new Redis(server.port, "127.0.0.1");
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await Node.start(impl, server.port));
    return await body(nodes, redis);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    redis.disconnect();
    await server.stop();
  }
}

/** Reads the decimal sequence number at the start of a message's data. */
function seqAt(buf: Buffer, start: number): number {
  let n = 0;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

export function saturate(impl: Impl, perNode: number, warmupMs: number, measureMs: number): Promise<SaturateResult> {
  return withNodes(impl, 2, async ([a, b], redis) => {
    if (a === undefined || b === undefined) throw new Error("two nodes expected");
    const protocol = protocolOf(impl);
    const offset = dataOffset(protocol, "b");
    const members = 2 * perNode;
    const sentAt = new Map<number, number>();
    const got = new Map<number, number>();
    const local = new Samples();
    const cross = new Samples();
    let measuring = false;
    let delivered = 0;
    let next = 1;
    let send: () => void = () => {};
    const onMessage = (side: Samples) => (_c: Conn, buf: Buffer, start: number, _end: number, at: number) => {
      const seq = seqAt(buf, start + offset);
      const t = sentAt.get(seq);
      if (t === undefined) return;
      if (measuring) {
        delivered++;
        side.add(at - t);
      }
      const count = (got.get(seq) ?? 0) + 1;
      if (count < members) got.set(seq, count);
      else {
        got.delete(seq);
        sentAt.delete(seq);
        send();
      }
    };
    await clients(a, impl, "room", true, perNode, onMessage(local));
    await clients(b, impl, "room", true, perNode, onMessage(cross));
    const [sender] = await clients(a, impl, "room", false, 1, () => {});
    await sleep(300); // subscriptions settle
    const pad = "x".repeat(48);
    send = () => {
      const seq = next++;
      sentAt.set(seq, performance.now());
      sender?.write(messageFrame(protocol, "b", `${seq}|${pad}`));
    };
    for (let i = 0; i < WINDOW; i++) send();
    await sleep(warmupMs);
    const before = await readCpu([a, b], redis);
    measuring = true;
    await sleep(measureMs);
    measuring = false;
    const after = await readCpu([a, b], redis);
    send = () => {}; // stop: the outstanding broadcasts drain
    const seconds = (after.at - before.at) / 1000;
    const nodesCpu = (after.nodes[0] ?? 0) - (before.nodes[0] ?? 0) + (after.nodes[1] ?? 0) - (before.nodes[1] ?? 0);
    const redisCpu = after.redis - before.redis;
    const [crossP50 = Number.NaN, crossP99 = Number.NaN] = cross.percentiles(50, 99);
    return {
      deliveries: delivered,
      seconds,
      perSecond: delivered / seconds,
      cpuPerDelivery: (nodesCpu + redisCpu) / delivered,
      redisPerDelivery: redisCpu / delivered,
      localP99: local.percentiles(99)[0] ?? Number.NaN,
      crossP50,
      crossP99,
      cpuShare: (100 * (nodesCpu + redisCpu)) / (seconds * 1e6),
    };
  });
}

export function waste(impl: Impl, publishes: number, perSecond: number): Promise<WasteResult> {
  return withNodes(impl, 4, async (nodes, redis) => {
    const protocol = protocolOf(impl);
    let delivered = 0;
    const [n0, , , n3] = nodes;
    if (n0 === undefined || n3 === undefined) throw new Error("four nodes expected");
    await clients(n0, impl, "solo", true, 1, () => {
      delivered++;
    });
    const [sender] = await clients(n3, impl, "solo", false, 1, () => {});
    await sleep(300);
    const frame = messageFrame(protocol, "b", `1|${"x".repeat(48)}`);
    const before = await readCpu(nodes, redis);
    const perTick = Math.max(1, Math.round(perSecond / 100));
    let sent = 0;
    while (sent < publishes) {
      const batch = Math.min(perTick, publishes - sent);
      for (let i = 0; i < batch; i++) sender?.write(frame);
      sent += batch;
      await sleep(10);
    }
    const deadline = Date.now() + 5000;
    while (delivered < publishes && Date.now() < deadline) await sleep(20);
    await sleep(200); // the last arrivals at the other nodes
    const after = await readCpu(nodes, redis);
    const arrivals = after.arrived.map((v, i) => v - (before.arrived[i] ?? 0));
    const total = arrivals.reduce((s, v) => s + v, 0);
    const useful = arrivals[0] ?? 0;
    const idleCpu = [1, 2].reduce((s, i) => s + (after.nodes[i] ?? 0) - (before.nodes[i] ?? 0), 0) / 2;
    return {
      publishes,
      arrivals: total / publishes,
      useful: useful / publishes,
      wasted: (total - useful) / publishes,
      idleNodeCpuPerPublish: idleCpu / publishes,
      delivered: delivered / publishes,
    };
  });
}
