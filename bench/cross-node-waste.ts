import { clients, type Impl, protocolOf, readCpu, sleep, withNodes } from "./cross-node-nodes.js";
import { messageFrame } from "./wire.js";

/**
 * The waste scenario of the cross-node benchmark (the fan-out one: bench/cross-node-fanout.ts), on
 * a fresh Redis and fresh nodes: 4 nodes; a room whose only member is on node 0; a client on node 3 (not a member) sends
 * `publishes` broadcasts to it at a fixed rate. Counted: messages Redis delivered to each node's
 * subscriber per publish, against the 1 node with members; CPU time of the member-less nodes 1
 * and 2 per publish.
 */

export interface WasteResult {
  publishes: number;
  arrivals: number;
  useful: number;
  wasted: number;
  idleNodeCpuPerPublish: number;
  delivered: number;
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
