// Nodes with resumable sessions on one real Redis, in either Redis adapter mode, with raw protocol
// peers (resume-peer.ts): what test/resume-cross-node.test.ts and test/resume-notices.test.ts
// share. Each node runs the namespace `/x` (a `slow` request it counts, a `dm` and a `message`
// event), keeps the newest socket object of every session it saw, and records its `onClose` and
// `onExpire` calls. A node can be named, so that a test finds its connections in `CLIENT LIST`
// and cuts its subscriber.
import { once } from "node:events";
import { connect } from "node:net";
import { after, before } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { z } from "zod";
import { RedisInboxRoute } from "../../src/adapters/redis/inbox-route.js";
import { createRedisAdapter } from "../../src/adapters/redis/index.js";
import { oneRedisLayout, type SessionLayout, slotLayout } from "../../src/adapters/redis/session-layout.js";
import { RedisHistory } from "../../src/adapters/redis/streams-log.js";
import { defineContract, event, request } from "../../src/contract/index.js";
import { createServer, type EventSocket, events, handle, type Logger, Namespace, type Server } from "../../src/index.js";
import { inboxStream, pushBody } from "../../src/resume/history-log.js";
import { until } from "../helpers.js";
import { RedisServer } from "./redis-server.js";
import { ResumePeer } from "./resume-peer.js";

const contract = defineContract({
  client: { noop: event(z.object({})), slow: request(z.object({ ms: z.number() }), z.number()) },
  server: { dm: event(z.object({ n: z.number() })), message: event(z.object({ n: z.number() })) },
});
export type XSocket = EventSocket<typeof contract>;

export interface XNode {
  readonly server: Server;
  readonly url: string;
  /** The newest socket object of every session this node saw. */
  readonly sockets: Map<string, XSocket>;
  /** Sessions whose `onExpire` ran here. */
  readonly expired: string[];
  /** Sockets whose `onClose` ran here, by id. */
  readonly closes: string[];
  /** How often `slow` ran here. */
  runs: number;
  /** `Date.now()` when the last run of `slow` here returned. */
  settledAt: number;
  view: XSocket["server"] | undefined;
}

/** How a node is started: `name` names its Redis connections; `retryMs` is how long each waits before it reconnects. */
export interface NodeOptions {
  readonly ttl?: number;
  readonly name?: string;
  readonly retryMs?: number;
  /** ioredis' `commandTimeout` for the node's Redis clients, in ms (a stalled Redis then fails its commands). */
  readonly commandTimeout?: number;
  /** The port the node's Redis clients connect to (a proxy in front of the suite's Redis); default the Redis itself. */
  readonly redisPort?: number;
}

const quiet: Logger = { error: (o, m) => console.error(m, o), warn: () => {}, info: () => {}, debug: () => {} };

/** Where each mode keeps a session's keys (the prefixes of these tests say the mode: "...sharded" or "...classic"). */
export const layoutOf = (prefix: string): SessionLayout => (prefix.endsWith("sharded") ? slotLayout(prefix) : oneRedisLayout(prefix));

/** A `sendTo` frame of event `dm`. */
export const dm = (n: number) => JSON.stringify([0, "dm", { n }]);

/** Reply and error frames. */
export const isAnswer = (f: unknown[]) => f[0] === 2 || f[0] === 3;

/**
 * The nodes and peers of one test file, on one Redis; `close()` stops them all.
 * @example
 * const x = new CrossNodes(redis, admin); const { a, b, p, sid } = await x.sessionOnA("x1", false);
 */
export class CrossNodes {
  readonly #redis: RedisServer;
  readonly #admin: Redis;
  readonly nodes: XNode[] = [];
  readonly #templates: Redis[] = [];
  readonly #peers: ResumePeer[] = [];

  constructor(redis: RedisServer, admin: Redis) {
    this.#redis = redis;
    this.#admin = admin;
  }

  async startNode(prefix: string, sharded: boolean, options: NodeOptions = {}): Promise<XNode> {
    const node: XNode = { sockets: new Map(), expired: [], closes: [], runs: 0, settledAt: 0, view: undefined } as unknown as XNode;
    @Namespace("/x")
    class X extends events(contract) {
      static onConnect(socket: XSocket) {
        node.view = socket.server;
        node.sockets.set(socket.id, socket);
        if (!socket.resumed) socket.join("r");
      }
      static onClose(socket: XSocket) {
        node.closes.push(socket.id);
      }
      static onExpire(session: { id: string }) {
        node.expired.push(session.id);
      }
      static events = handle(contract, {
        noop() {},
        async slow(_socket, { ms }) {
          await sleep(ms);
          node.settledAt = Date.now();
          return ++node.runs;
        },
      });
    }
    const { name, retryMs, commandTimeout, redisPort } = options;
    const template = new Redis({
      port: redisPort ?? this.#redis.port,
      host: "127.0.0.1",
      ...(commandTimeout === undefined ? {} : { commandTimeout }),
      ...(name === undefined ? {} : { connectionName: name }),
      ...(retryMs === undefined ? {} : { retryStrategy: () => retryMs }),
    });
    this.#templates.push(template);
    const server = createServer({
      handlers: [X],
      host: "127.0.0.1",
      port: 0,
      adapter: createRedisAdapter(template, { prefix, sharded }),
      logger: quiet,
      resume: { ttl: options.ttl ?? 30_000, history: { size: 100, ttl: 60_000 } },
      heartbeatInterval: 0,
    });
    const { port } = await server.listen();
    Object.assign(node, { server, url: `ws://127.0.0.1:${port}/x` });
    this.nodes.push(node);
    return node;
  }

  peer(url: string): ResumePeer {
    const p = new ResumePeer(url);
    this.#peers.push(p);
    return p;
  }

  /** A second peer holding `p`'s token and positions: the client, reconnected elsewhere while its old connection still looks open. */
  clone(p: ResumePeer, url: string): ResumePeer {
    const q = p.clone(url);
    this.#peers.push(q);
    return q;
  }

  /** Two nodes; a resumable session on a, and a socket on b (so that b's handlers can reach the server). */
  async sessionOnA(prefix: string, sharded: boolean, a: NodeOptions = {}): Promise<{ a: XNode; b: XNode; p: ResumePeer; sid: string }> {
    const nodeA = await this.startNode(prefix, sharded, a);
    const nodeB = await this.startNode(prefix, sharded, { ttl: a.ttl });
    const p = this.peer(nodeA.url);
    await p.connect();
    const sid = p.sid as string;
    await this.peer(nodeB.url).connect();
    await until(() => nodeB.view !== undefined && nodeA.sockets.has(sid), "sockets on both nodes");
    return { a: nodeA, b: nodeB, p, sid };
  }

  /**
   * Appends direct message `{ n }` to session `sid`'s inbox as a node would whose notice to the
   * holder reaches nobody (a notice dropped on the way, or a holder whose subscriber is down): the
   * message is kept in Redis, and the holder does not hear of it.
   */
  async deliverUnheard(prefix: string, sharded: boolean, sid: string, n: number): Promise<Awaited<ReturnType<RedisInboxRoute["deliver"]>>> {
    const layout = layoutOf(prefix);
    const history = new RedisHistory(this.#admin, { size: 100, ttl: 60_000, layout });
    const ghost = { me: () => "ghost", prefix: "nowhere:", suffix: "", command: sharded ? "SPUBLISH" : "PUBLISH" } as const;
    return new RedisInboxRoute(history, ghost, layout).deliver(sid, pushBody("dm", { n }), false);
  }

  /** A fresh session on `node` whose first direct message (`{ n: 1 }`, inbox seq 1) has reached its peer. */
  async firstDm(node: XNode): Promise<{ p: ResumePeer; sid: string }> {
    const p = this.peer(node.url);
    await p.connect();
    const sid = p.sid as string;
    await until(() => node.sockets.has(sid), "the session's socket on its node");
    node.sockets.get(sid)?.emit("dm", { n: 1 });
    await p.next((f) => f[0] === 4 && f[1] === `inbox:${sid}`);
    return { p, sid };
  }

  /** The last seq Redis gave the session's inbox (0 before any). */
  async inboxTop(prefix: string, sid: string): Promise<number> {
    return Number((await this.#admin.hget(`${layoutOf(prefix).stream(inboxStream(sid))}:meta`, "s")) ?? 0);
  }

  /** Waits (bounded, without failing) until the inbox's top reaches `seq`: a send is numbered before the next goes. */
  async numbered(prefix: string, sid: string, seq: number): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && (await this.inboxTop(prefix, sid)) < seq) await sleep(10);
  }

  /**
   * Calls `onLine` with every command Redis runs from now on (its MONITOR lines, e.g.
   * `1700000000.123456 [0 127.0.0.1:5000] "hget" "key" "field"`), read on a plain TCP connection:
   * ioredis' monitor mode can mistake a line that arrives before MONITOR's answer for a reply.
   * Resolves once Redis confirmed MONITOR, with a function that stops it.
   */
  async monitor(onLine: (line: string) => void): Promise<() => void> {
    const socket = connect(this.#redis.port, "127.0.0.1");
    socket.on("error", () => {}); // the test sees a lost Redis through its own connection
    await once(socket, "connect");
    let confirmed: () => void = () => {};
    const ready = new Promise<void>((resolve) => (confirmed = resolve));
    let pending = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      pending += chunk;
      let end = pending.indexOf("\r\n");
      while (end >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (line === "+OK") confirmed();
        else if (line.startsWith("+")) onLine(line.slice(1));
        end = pending.indexOf("\r\n");
      }
    });
    socket.write("MONITOR\r\n");
    await ready;
    return () => socket.destroy();
  }

  /** The ids of the pub/sub connections named `name` (a node's subscriber). */
  async subscribers(name: string): Promise<string[]> {
    const list = (await this.#admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
    const ids: string[] = [];
    for (const line of list.split("\n")) {
      const id = / name=(\S+) /.exec(line)?.[1] === name ? /id=(\d+)/.exec(line)?.[1] : undefined;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  /** Cuts the subscriber connection of the node named `name` (CLIENT KILL); resolves how many connections were cut. */
  async cutSubscriber(name: string): Promise<number> {
    const ids = await this.subscribers(name);
    for (const id of ids) await this.#admin.call("CLIENT", "KILL", "ID", id);
    return ids.length;
  }

  /**
   * Waits until the node named `name` has a subscriber connection again, and a little more for its
   * subscriptions to be answered: a node stopped in the middle of them would reject ioredis' own
   * resubscribe commands, unhandled.
   */
  async subscribedAgain(name: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while ((await this.subscribers(name)).length === 0) {
      if (Date.now() > deadline) throw new Error(`${name} did not subscribe again within ${ms} ms`);
      await sleep(50);
    }
    await sleep(200);
  }

  async close(): Promise<void> {
    for (const p of this.#peers) p.ws?.terminate();
    await Promise.all(this.nodes.map((n) => n.server.close()));
    for (const t of this.#templates) t.disconnect();
  }
}

/** The direct messages `p` received, in arrival order. */
export function dms(p: ResumePeer): ResumePeer["pushes"] {
  return p.pushes.filter((x) => x.stream === `inbox:${p.sid}`);
}

/**
 * The hooks of a describe block whose tests use {@link CrossNodes}: one Redis launched before them,
 * every node, peer and connection stopped after them. Read `x` and `admin` inside the tests.
 * @example
 * const env = crossNodesSuite();
 * it("…", async () => { const { sid } = await env.x.sessionOnA("p1", false); await env.admin.exists(sid); });
 */
export function crossNodesSuite(): { readonly x: CrossNodes; readonly admin: Redis } {
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  let x: CrossNodes | undefined;
  before(async () => {
    redis = await RedisServer.launch();
    admin = new Redis(redis.port, "127.0.0.1");
    x = new CrossNodes(redis, admin);
  });
  after(async () => {
    await x?.close();
    admin?.disconnect();
    await redis?.stop();
  });
  return {
    get x() {
      if (x === undefined) throw new Error("crossNodesSuite: read x inside a test, after the before hook");
      return x;
    },
    get admin() {
      if (admin === undefined) throw new Error("crossNodesSuite: read admin inside a test, after the before hook");
      return admin;
    },
  };
}
