// Issue 16: mixins in both directions. Inbound DROP keeps the socket open; onOutbound filters and
// transforms per receiver for raw sends, sendTo, broadcasts and events, on one node and across two.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { z } from "zod";
import { createRedisAdapter } from "../src/adapters/redis/index.js";
import { defineContract, event } from "../src/contract/index.js";
import {
  BaseMixin,
  createServer,
  DROP,
  type EventSocket,
  events,
  handle,
  type Message,
  mixins,
  Namespace,
  type Outbound,
  type OutboundEvent,
  type Server,
  type Socket,
  variant,
} from "../src/index.js";
import { RedisServer } from "./helpers/redis-server.js";
import { Peer } from "./helpers/tsws-peer.js";
import { Client, gate, start, until } from "./helpers.js";

const roleOf = (socket: Socket) => new URL(socket.request.url, "http://x").searchParams.get("role") ?? "plain";
const shout = variant((m: string) => m.toUpperCase());

/** Per receiver: "muted" gets nothing, "shout" gets raw text upper-cased (one variant), others keep it. */
class RawFilter extends BaseMixin {
  static onOutbound(socket: Socket, m: Outbound) {
    if (socket.data.role === "muted") return DROP;
    if (socket.data.role === "shout" && typeof m === "string") return shout(m);
    return undefined;
  }
}

/** Drops every third inbound message of a socket connected with ?role=every-third. */
class EveryThird extends BaseMixin {
  static onMessage(socket: Socket) {
    if (socket.data.role !== "every-third") return undefined;
    const n = ((socket.data.count as number | undefined) ?? 0) + 1;
    socket.data.count = n;
    return n % 3 === 0 ? DROP : undefined;
  }
}

const notes = defineContract({
  client: { post: event(z.object({ text: z.string() })) },
  server: { note: event(z.object({ text: z.string(), secret: z.string().optional() })) },
});
const publicNote = variant((m: OutboundEvent) => ({ event: m.event, data: { text: (m.data as { text: string }).text } }));

/** Events: "muted" gets nothing, non-admins get the note without its secret, admins get it whole. */
class Redact extends BaseMixin {
  static onOutbound(socket: Socket, m: Outbound) {
    if (socket.data.role === "muted") return DROP;
    if (typeof m === "string" || Buffer.isBuffer(m) || socket.data.role === "admin") return undefined;
    return publicNote(m);
  }
}

function handlers() {
  @Namespace("/raw")
  class Raw extends mixins(RawFilter, EveryThird) {
    static onConnect(socket: Socket) {
      socket.data.role = roleOf(socket);
      socket.join("raw");
    }
    static onMessage(socket: Socket, message: Message) {
      const text = String(message);
      if (text.startsWith("all:")) socket.server.to("raw").send(text.slice(4));
      else if (text.startsWith("to:")) {
        const [, id, body] = text.split(":");
        socket.server.sendTo(id as string, body as string);
      } else socket.send(`echo ${text}`);
    }
  }
  @Namespace("/notes")
  class Notes extends events(notes, Redact) {
    static onConnect(socket: EventSocket<typeof notes>) {
      socket.data.role = roleOf(socket);
      socket.join("notes");
      socket.emit("note", { text: "welcome", secret: "s0" });
    }
    static events = handle(notes, {
      post(socket, { text }) {
        socket.server.to("notes").emit("note", { text, secret: `secret of ${text}` });
      },
    });
  }
  return [Raw, Notes];
}

const noteFrames = (peer: Peer) => peer.frames.filter((f) => f[0] === 0 && f[1] === "note").map((f) => f[2]);

describe("inbound DROP", () => {
  const server = createServer({ handlers: handlers(), host: "127.0.0.1", port: 0 });
  let url = "";
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("drops every third message: the handler sees the others in order and the socket stays open", async () => {
    const c = await Client.open(`${url}/raw?role=every-third`);
    for (let i = 1; i <= 9; i++) c.send(`m${i}`);
    const got = await c.received(6);
    assert.deepEqual(got, ["echo m1", "echo m2", "echo m4", "echo m5", "echo m7", "echo m8"]);
    c.send("m10");
    assert.equal((await c.received(7))[6], "echo m10");
    assert.equal(c.ws.readyState, c.ws.OPEN);
    await c.close();
  });
});

describe("onOutbound on one node", () => {
  const server = createServer({ handlers: handlers(), host: "127.0.0.1", port: 0 });
  let url = "";
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("filters and transforms raw sends, sendTo and broadcasts per receiver", async () => {
    const [plain, muted, shouter] = await Promise.all(["plain", "muted", "shout"].map((role) => Client.open(`${url}/raw?role=${role}`)));
    await until(() => server.size === 3, "three sockets");
    plain!.send("all:hello room");
    await plain!.received(1);
    await shouter!.received(1);
    assert.deepEqual(plain!.messages, ["hello room"]);
    assert.deepEqual(shouter!.messages, ["HELLO ROOM"]);
    shouter!.send("own"); // its own send passes its hooks too
    assert.equal((await shouter!.received(2))[1], "ECHO OWN");
    const mutedId = [...(await server.to("raw").members())].find((id) => server.getSocket(id)?.data.role === "muted") as string;
    plain!.send(`to:${mutedId}:direct`);
    plain!.send("all:second");
    await plain!.received(2);
    await shouter!.received(3);
    assert.deepEqual(muted!.messages, [], "the muted socket got nothing, not even sendTo");
    assert.equal(muted!.ws.readyState, muted!.ws.OPEN);
    await Promise.all([plain, muted, shouter].map((c) => c!.close()));
  });

  it("shows event emits as { event, data }: dropped, redacted or kept per receiver", async () => {
    const [admin, user, muted] = await Promise.all(["admin", "user", "muted"].map((role) => Peer.open(`${url}/notes?role=${role}`)));
    await Promise.all([admin, user].map((p) => p!.next((f) => f[1] === "note")));
    assert.deepEqual(admin!.frames.length, 0);
    user!.send([0, "post", { text: "hi" }]);
    const [a, u] = await Promise.all([admin, user].map((p) => p!.next((f) => f[1] === "note" && (f[2] as { text: string }).text === "hi")));
    assert.deepEqual(a![2], { text: "hi", secret: "secret of hi" });
    assert.deepEqual(u![2], { text: "hi" });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(noteFrames(muted!), [], "the muted socket got neither its welcome nor the broadcast");
    for (const p of [admin, user, muted]) p!.ws.close();
  });

  it("refuses an async onOutbound when the class is composed, naming it", () => {
    class Slow extends BaseMixin {}
    Object.defineProperty(Slow, "onOutbound", { value: async () => undefined }); // what the types forbid, as plain JS would write it
    @Namespace("/slow")
    class SlowHandler extends mixins(Slow) {}
    assert.throws(() => createServer({ handlers: [SlowHandler] }), /Slow\.onOutbound must be synchronous/);
  });
});

describe("onOutbound across two nodes over Redis", () => {
  let redis: RedisServer;
  const servers: Server[] = [];
  const connections: Redis[] = [];
  const urls: string[] = [];
  before(async () => {
    redis = await RedisServer.launch();
    for (let i = 0; i < 2; i++) {
      const client = new Redis(redis.port, "127.0.0.1");
      connections.push(client);
      const server = createServer({
        handlers: handlers(),
        host: "127.0.0.1",
        port: 0,
        adapter: createRedisAdapter(client, { prefix: "outbound" }),
      });
      servers.push(server);
      urls.push(await start(server));
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    for (const c of connections) c.disconnect();
    await redis.stop();
  });

  it("applies the receiving node's hooks to raw broadcasts and event emits from the other node", async () => {
    const sender = await Client.open(`${urls[0]}/raw?role=plain`);
    const [plain, muted, shouter] = await Promise.all(
      ["plain", "muted", "shout"].map((role) => Client.open(`${urls[1]}/raw?role=${role}`)),
    );
    const ready = gate();
    const probe = setInterval(async () => {
      if ((await servers[0]!.to("raw").members()).length === 4) ready.open();
    }, 50);
    await ready.promise;
    clearInterval(probe);
    sender.send("all:across");
    await Promise.all([plain!.received(1), shouter!.received(1)]);
    assert.deepEqual(plain!.messages, ["across"]);
    assert.deepEqual(shouter!.messages, ["ACROSS"]);
    const [admin, user, mutedPeer] = await Promise.all(
      ["admin", "user", "muted"].map((role) => Peer.open(`${urls[1]}/notes?role=${role}`)),
    );
    const poster = await Peer.open(`${urls[0]}/notes?role=user`);
    await Promise.all([admin, user, poster].map((p) => p!.next((f) => f[1] === "note")));
    await until(() => servers[1]!.size === 6, "the sockets of node B");
    await new Promise((r) => setTimeout(r, 200)); // node A learns B's room memberships
    poster.send([0, "post", { text: "from A" }]);
    const [a, u] = await Promise.all([admin, user].map((p) => p!.next((f) => (f[2] as { text: string }).text === "from A")));
    assert.deepEqual(a![2], { text: "from A", secret: "secret of from A" });
    assert.deepEqual(u![2], { text: "from A" });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(muted!.messages, []);
    assert.deepEqual(noteFrames(mutedPeer!), []);
    for (const c of [sender, plain, muted, shouter]) await c!.close();
    for (const p of [admin, user, mutedPeer, poster]) p!.ws.close();
  });
});
