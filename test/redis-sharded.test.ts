import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createRedisAdapter, type RedisAdapter } from "../src/adapters/redis/index.js";
import { ShardedLayout } from "../src/adapters/redis/sharded-layout.js";
import { AdapterError, AdapterErrors, type Server } from "../src/index.js";
import { ChatClient, eventually, startNode } from "./helpers/cluster-chat.js";
import { RedisCluster } from "./helpers/redis-cluster.js";

/*
 * Issue 18: interest routing counted (not timed), and errors that say what happened on a Redis
 * Cluster. The 50,000-room bound on Redis work per call: redis-rooms-scale.test.ts.
 */

const slow = { timeout: 120_000 };

/** `count` room names, each in a partition of its own (so a count per room is not blurred by a neighbour). */
function roomsInOwnPartitions(count: number, prefix: string): string[] {
  const layout = new ShardedLayout("count", 64);
  const used = new Set<number>();
  const rooms: string[] = [];
  for (let i = 0; rooms.length < count; i++) {
    const p = layout.partitionOf(`${prefix}${i}`);
    if (used.has(p)) continue;
    used.add(p);
    rooms.push(`${prefix}${i}`);
  }
  return rooms;
}

describe("the sharded Redis adapter on a 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await RedisCluster.launch(3);
  });
  after(() => cluster.stop());

  it("with 4 nodes, a publish reaches exactly the nodes with members of its room, and a sendTo only the socket's node", slow, async () => {
    const clients = [0, 1, 2, 3].map(() => new Redis.Cluster(cluster.nodes));
    const adapters = clients.map(() => undefined as unknown as RedisAdapter);
    const nodes: { server: Server; port: number }[] = [];
    for (let i = 0; i < 4; i++) {
      adapters[i] = createRedisAdapter(clients[i]!, { prefix: "count", sharded: true });
      nodes.push(await startNode(adapters[i]));
    }
    const chats: ChatClient[] = [];
    const chatNode: number[] = [];
    try {
      // 20 rooms with members on one node, 20 on two (10 rooms × 4 = 40 rooms in 40 distinct partitions).
      const rooms = roomsInOwnPartitions(40, "r");
      const holders = rooms.map((_, i) => (i < 20 ? [i % 4] : [i % 4, (i + 1) % 4]));
      for (const [i, room] of rooms.entries()) {
        for (const n of holders[i]!) {
          chats.push(await ChatClient.connect(nodes[n]!.port, room));
          chatNode.push(n);
        }
      }
      const arrived = () => adapters.reduce((sum, a) => sum + a.stats.arrived, 0);
      const ignored = () => adapters.reduce((sum, a) => sum + a.stats.ignored, 0);
      await eventually(() => adapters.every((a) => a.stats.inFlight === 0), "every join is written");
      const before = arrived();
      const ignoredBefore = ignored();
      let expected = 0;
      for (const [i, room] of rooms.entries()) {
        for (const node of nodes) {
          node.server.to(room).send(`${room} from ${node.port}`);
          expected += holders[i]!.length; // own echo included when the publisher has members
        }
      }
      // Every member receives the 4 publishes of its room.
      // The id line, then the 4 publishes of its room.
      await eventually(() => chats.every((c) => c.received.length === 5), "every member got its room's 4 messages");
      await eventually(() => arrived() - before >= expected, "the arrivals are counted");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const publishes = rooms.length * 4;
      const perPublish = (arrived() - before) / publishes;
      const ideal = expected / publishes;
      console.log(
        `# 4 nodes, 160 publishes: ${perPublish} Redis-to-node arrivals per publish (nodes with members: ${ideal}; classic mode: 4)`,
      );
      assert.equal(arrived() - before, expected, `arrivals per publish ${perPublish} (ideal ${ideal}; classic mode: 4)`);
      assert.equal(ignored() - ignoredBefore, 0, "no node received an op it had no socket for");

      // sendTo: one target per node, from each of the 3 other nodes: 1 arrival each.
      const directBefore = arrived();
      let sends = 0;
      for (let target = 0; target < 4; target++) {
        const holder = chats[chatNode.indexOf(target)]!;
        for (let from = 0; from < 4; from++) {
          if (from === target) continue;
          nodes[from]!.server.sendTo(holder.id, `direct ${from}`);
          sends++;
        }
      }
      await eventually(() => arrived() - directBefore >= sends, "every sendTo arrived");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(arrived() - directBefore, sends, "one arrival per sendTo (classic mode: 4)");
    } finally {
      for (const c of chats) c.close();
      await Promise.all(nodes.map((n) => n.server.close()));
      for (const c of clients) c.disconnect();
    }
  });

  it("refuses the classic mode on a Redis.Cluster with TSWS_REDIS_CROSSSLOT, not 'unreachable'", () => {
    const client = new Redis.Cluster(cluster.nodes, { lazyConnect: true });
    assert.throws(
      () => createRedisAdapter(client),
      (error: unknown) =>
        error instanceof AdapterError && error.code === AdapterErrors.redisCrossSlot && /sharded: true/.test(error.message),
    );
    client.disconnect();
  });
});
