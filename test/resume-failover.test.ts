// Failover of resumable sessions: 3 nodes in child processes on one real Redis (Redis adapter:
// history in Redis Streams, sessions in Redis hashes), 300 clients in 30 rooms, messages flowing
// from clients on every node; one node is killed with SIGKILL and its clients resume on the
// others. Every message numbered in a room's history must reach every member from its first one
// on exactly once, in order, with no gap announced. Also: one node's subscriber connection cut
// for 5 s (CLIENT KILL) costs its members nothing: the node fills the hole from history.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import type { Server } from "../src/index.js";
import { RedisServer } from "./helpers/redis-server.js";
import { startResumeNode } from "./helpers/resume-chat.js";
import { ResumePeer } from "./helpers/resume-peer.js";

const ROOMS = 30;
const CLIENTS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function spawnNode(redisPort: number, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("helpers/resume-node.ts", import.meta.url))], {
    env: { ...process.env, REDIS_PORT: String(redisPort), PREFIX: prefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return { child, port: (JSON.parse(line.toString()) as { port: number }).port };
}

/** Checks every client's room stream: consecutive from its first seq to the room's top, no gap. */
async function verify(redis: Redis, prefix: string, clients: ResumePeer[], roomOf: (i: number) => string) {
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let delivered = 0;
  for (let i = 0; i < clients.length; i++) {
    const c = clients[i] as ResumePeer;
    const stream = `room:${roomOf(i)}`;
    const top = Number(await redis.hget(`${prefix}:hist:{${stream}}:meta`, "s"));
    const seqs = c.seqs(stream);
    delivered += seqs.length;
    const seen = new Set<number>();
    for (let k = 0; k < seqs.length; k++) {
      const s = seqs[k] as number;
      if (seen.has(s)) duplicated++;
      else if (k > 0 && s < (seqs[k - 1] as number)) outOfOrder++;
      seen.add(s);
    }
    const first = seqs[0] ?? top + 1;
    for (let s = first; s <= top; s++) if (!seen.has(s)) lost++;
    assert.deepEqual(
      c.gaps.filter((g) => g.stream !== undefined),
      [],
      `client ${i} got no gap`,
    );
  }
  return { lost, duplicated, outOfOrder, delivered };
}

describe("resumable sessions across nodes (real Redis, child processes)", { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let admin: Redis;
  const children: ChildProcess[] = [];
  before(async () => {
    redis = await RedisServer.launch();
    admin = new Redis(redis.port, "127.0.0.1");
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    admin.disconnect();
    await redis.stop();
  });

  it(`kill -9 of one node of 3: its clients resume on the others, 0 lost, 0 duplicated, in order (${CLIENTS} clients, ${ROOMS} rooms)`, async () => {
    const prefix = "fo";
    const nodes = await Promise.all([0, 1, 2].map(() => spawnNode(redis.port, prefix)));
    for (const n of nodes) children.push(n.child);
    const alive = new Set([0, 1, 2]);
    const roomOf = (i: number) => `r${i % ROOMS}`;
    const nodeOf = new Map<ResumePeer, number>();
    const clients: ResumePeer[] = [];
    let stopping = false;
    let resumes = 0;
    const url = (node: number, i: number) => `ws://127.0.0.1:${nodes[node]?.port}/chat/${roomOf(i)}`;
    for (let i = 0; i < CLIENTS; i++) {
      const c = new ResumePeer(url(i % 3, i));
      nodeOf.set(c, i % 3);
      clients.push(c);
    }
    for (let i = 0; i < CLIENTS; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.connect()));
    const reconnect = async (c: ResumePeer, i: number) => {
      while (!stopping) {
        const target = [...alive][i % alive.size] as number;
        c.url = url(target, i);
        nodeOf.set(c, target);
        try {
          await c.connect();
          resumes++;
          return;
        } catch {
          await sleep(100);
        }
      }
    };
    clients.forEach((c, i) => {
      c.onDrop = () => void reconnect(c, i);
    });

    let sent = 0;
    const publisher = setInterval(() => {
      for (let k = 0; k < 6; k++) {
        const c = clients[Math.floor(Math.random() * CLIENTS)] as ResumePeer;
        if (c.ws.readyState !== 1 || !alive.has(nodeOf.get(c) as number)) continue;
        c.send([0, "say", { text: `m${sent++}` }]);
      }
    }, 20);
    await sleep(3000);
    const victim = 2;
    alive.delete(victim);
    nodes[victim]?.child.kill("SIGKILL");
    await sleep(4000);
    clearInterval(publisher);
    const victims = clients.filter((_, i) => i % 3 === victim);
    const deadline = Date.now() + 20_000;
    while (victims.some((c) => c.controls.filter((f) => f[1] === "resumed").length === 0) && Date.now() < deadline) await sleep(100);
    await sleep(1500);
    stopping = true;
    const resumed = victims.filter((c) => c.controls.some((f) => f[1] === "resumed")).length;
    const sameId = victims.filter((c) => c.controls.some((f) => f[1] === "resumed" && (f[2] as { sid: string }).sid === c.sid)).length;
    const result = await verify(admin, prefix, clients, roomOf);
    console.log(JSON.stringify({ sent, resumes, resumed, sameId, ...result }));
    assert.equal(resumed, victims.length, "every client of the killed node resumed");
    assert.equal(sameId, victims.length);
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    assert.equal(result.outOfOrder, 0);
    assert.ok(result.delivered > 1000, "messages flowed");
    for (const c of clients) c.close();
    for (const n of nodes) n.child.kill("SIGKILL");
  });

  it("one node's subscriber connection cut for 5 s: its members of history rooms lose 0 messages, with no client action", async () => {
    const prefix = "cut";
    const servers: Server[] = [];
    const ports: number[] = [];
    const templates: Redis[] = [];
    for (const name of ["cut-a", "cut-b"]) {
      const template = new Redis({ port: redis.port, host: "127.0.0.1", connectionName: name });
      templates.push(template);
      const adapter = createRedisAdapter(template, { prefix });
      const { server, port } = await startResumeNode(adapter);
      servers.push(server);
      ports.push(port);
    }
    const rooms = 4;
    const roomOf = (i: number) => `c${i % rooms}`;
    const clients: ResumePeer[] = [];
    for (let i = 0; i < 40; i++) clients.push(new ResumePeer(`ws://127.0.0.1:${ports[i % 2]}/chat/${roomOf(i)}`));
    await Promise.all(clients.map((c) => c.connect()));
    let dropped = 0;
    for (const c of clients) c.onDrop = () => dropped++;
    let sent = 0;
    const publisher = setInterval(() => {
      for (let k = 0; k < 4; k++)
        (clients[Math.floor(Math.random() * clients.length)] as ResumePeer).send([0, "say", { text: `m${sent++}` }]);
    }, 20);
    await sleep(1000);
    // Cut node B's subscriber: kill its pub/sub connection again each time it comes back, for 5 s.
    let kills = 0;
    const cutUntil = Date.now() + 5000;
    while (Date.now() < cutUntil) {
      const list = (await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
      for (const line of list.split("\n")) {
        if (!line.includes("name=cut-b ")) continue;
        const id = /id=(\d+)/.exec(line)?.[1];
        if (id !== undefined) {
          await admin.call("CLIENT", "KILL", "ID", id);
          kills++;
        }
      }
      await sleep(50);
    }
    await sleep(2500); // messages keep flowing after the cut: every hole shows up and is filled
    clearInterval(publisher);
    await sleep(1500);
    const result = await verify(admin, prefix, clients, roomOf);
    const notCarried = (servers[0]?.adapterStats?.dropped ?? 0) + (servers[1]?.adapterStats?.dropped ?? 0);
    console.log(JSON.stringify({ sent, kills, dropped, notCarried, ...result }));
    assert.ok(kills >= 1, "the subscriber was cut");
    assert.ok(notCarried > 0, "pub/sub lost operations during the cut (what history had to fill)");
    assert.equal(dropped, 0, "no client was disconnected");
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    assert.equal(result.outOfOrder, 0);
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
    for (const t of templates) t.disconnect();
  });
});
