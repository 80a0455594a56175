// The message layer over real TCP: a `ws` client offering tsws.v1 against a real server on
// 127.0.0.1:0. Events, requests in both directions, every error code, timeouts, disconnects, the
// raw fallthrough, DROP, onEvent and MixinFail.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import {
  BaseHandler,
  BaseMixin,
  createServer,
  DROP,
  EventError,
  type EventSocket,
  events,
  handle,
  type InboundEvent,
  type Message,
  MixinFail,
  mixins,
  Namespace,
  RequestError,
  type Socket,
} from "../src/index.js";
import { Peer, recordingLogger } from "./helpers/tsws-peer.js";
import { start } from "./helpers.js";

const chat = defineContract({
  client: {
    typing: event(z.object({ on: z.boolean() })),
    anything: event(),
    send: request(z.object({ text: z.string().min(1) }), z.object({ id: z.string() }), {
      errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }), CLOSED: null },
    }),
    crash: request(z.object({ how: z.enum(["throw", "undeclared", "badReply", "badErrorData", "slow"]) }), z.object({ id: z.string() }), {
      errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }) },
    }),
    ask: request(z.object({ question: z.string(), timeoutMs: z.number().optional() }), z.object({ answer: z.string() })),
    join: request(z.object({ room: z.string() }), z.null()),
    shout: event(z.object({ room: z.string(), text: z.string(), exceptMe: z.boolean().optional() })),
    unhandled: request(z.object({}), z.null()),
  },
  server: {
    message: event(z.object({ text: z.string() })),
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});

const calls: { name: string; data: unknown }[] = [];
const { lines, logger } = recordingLogger();
let sent = 0;

@Namespace("/chat")
class Chat extends events(chat) {
  static onConnect(socket: EventSocket<typeof chat>) {
    socket.emit("message", { text: `welcome ${socket.negotiated ? "tsws" : "raw"}` });
  }
  static onMessage(socket: Socket, message: Message) {
    socket.send(typeof message === "string" ? `raw:${message}` : Buffer.concat([Buffer.from("raw:"), message]));
  }
  static events = handle(chat, {
    typing(socket, { on }) {
      calls.push({ name: "typing", data: { on } });
      socket.emit("message", { text: `typing ${on}` });
    },
    anything(_socket, data) {
      calls.push({ name: "anything", data });
    },
    send(_socket, { text }) {
      calls.push({ name: "send", data: { text } });
      if (text === "fast") throw new EventError("RATE_LIMITED", { retryAfterMs: 500 });
      if (text === "closed") throw new EventError("CLOSED");
      return { id: `m${++sent}` };
    },
    async crash(_socket, { how }) {
      if (how === "throw") throw new Error("secret database password in this message");
      if (how === "undeclared") throw new EventError("NOPE", { x: 1 });
      if (how === "badErrorData") throw new EventError("RATE_LIMITED", { retryAfterMs: "soon" });
      if (how === "slow") await new Promise((r) => setTimeout(r, 30));
      return { id: how === "badReply" ? 42 : "ok" } as { id: string };
    },
    async ask(socket, { question, timeoutMs }) {
      try {
        const yes = await socket.request("confirm", { question }, timeoutMs === undefined ? undefined : { timeoutMs });
        return { answer: yes ? "yes" : "no" };
      } catch (error) {
        assert.ok(error instanceof RequestError);
        return { answer: `${error.code}${error.data === undefined ? "" : `:${JSON.stringify(error.data)}`}` };
      }
    },
    join(socket, { room }) {
      socket.join(room);
      return null;
    },
    shout(socket, { room, text, exceptMe }) {
      const to = socket.server.to(room);
      (exceptMe ? to.except(socket) : to).emit("message", { text });
    },
  });
}

@Namespace("/raw")
class Raw extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    socket.send(`raw:${String(message)}`);
  }
}

describe("the message layer", () => {
  const server = createServer({ handlers: [Chat, Raw], host: "127.0.0.1", port: 0, logger });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("selects tsws.v1 when offered, and a raw namespace never does", async () => {
    const peer = await Peer.open(`${url}/chat`);
    assert.equal(peer.protocol, "tsws.v1");
    assert.deepEqual(await peer.event("message"), [0, "message", { text: "welcome tsws" }]);
    // ws's client fails a handshake that selected none of its protocols: the raw namespace did not pretend.
    await assert.rejects(Peer.open(`${url}/raw`), /Server sent no subprotocol/);
    const other = await Peer.open(`${url}/raw`, ["tsws.v1", "chat"]);
    assert.equal(other.protocol, "chat");
    await Promise.all([peer.close(), other.close()]);
  });

  it("answers a request with its reply and dispatches events to their handlers", async () => {
    const peer = await Peer.open(`${url}/chat`);
    const reply = await peer.request(1, "send", { text: "hi" });
    assert.match(String((reply[2] as { id: string }).id), /^m\d+$/);
    assert.deepEqual(reply.slice(0, 2), [2, 1]);
    peer.send([0, "typing", { on: true }]);
    assert.deepEqual(await peer.next((f) => f[0] === 0 && (f[2] as { text: string }).text === "typing true"), [
      0,
      "message",
      { text: "typing true" },
    ]);
    peer.send([0, "anything"]);
    peer.send([0, "anything", [1, "two"]]);
    assert.deepEqual(await peer.request(2, "join", { room: "r" }), [2, 2, null]);
    assert.deepEqual(
      calls.filter((c) => c.name === "anything").map((c) => c.data),
      [undefined, [1, "two"]],
    );
    await peer.close();
  });

  it("answers INVALID_PAYLOAD with the schema's issues and never calls the handler", async () => {
    const peer = await Peer.open(`${url}/chat`);
    const before = calls.length;
    const [kind, id, code, data] = await peer.request(3, "send", { text: "" });
    assert.deepEqual([kind, id, code], [3, 3, "INVALID_PAYLOAD"]);
    const issues = (data as { issues: { message: string; path: unknown[] }[] }).issues;
    assert.deepEqual(issues[0]?.path, ["text"]);
    assert.equal(typeof issues[0]?.message, "string");
    assert.equal((await peer.request(4, "send"))[2], "INVALID_PAYLOAD");
    peer.send([0, "typing", { on: "yes" }]); // an invalid event: dropped without an answer
    assert.deepEqual((await peer.request(5, "join", { room: "x" })).slice(0, 2), [2, 5]);
    assert.equal(calls.length, before);
    await peer.close();
  });

  it("answers UNKNOWN_EVENT for names the contract lacks, events used as requests and requests without a handler", async () => {
    const peer = await Peer.open(`${url}/chat`);
    for (const [id, name] of [
      [1, "nope"],
      [2, "typing"],
      [3, "unhandled"],
      [4, "__proto__"],
      [5, "constructor"],
      [6, "toString"],
    ] as const) {
      assert.deepEqual((await peer.request(id, name, {})).slice(0, 3), [3, id, "UNKNOWN_EVENT"]);
    }
    peer.send([0, "message", { text: "events the client may not send are dropped" }]);
    assert.equal((await peer.request(7, "join", { room: "x" }))[0], 2);
    await peer.close();
  });

  it("answers declared EventErrors with their data and everything else INTERNAL, keeping the socket open", async () => {
    const peer = await Peer.open(`${url}/chat`);
    assert.deepEqual(await peer.request(1, "send", { text: "fast" }), [3, 1, "RATE_LIMITED", { retryAfterMs: 500 }]);
    assert.deepEqual(await peer.request(2, "send", { text: "closed" }), [3, 2, "CLOSED"]);
    const logged = lines.length;
    for (const [id, how] of [
      [3, "throw"],
      [4, "undeclared"],
      [5, "badReply"],
      [6, "badErrorData"],
    ] as const) {
      assert.deepEqual(await peer.request(id, "crash", { how }), [3, id, "INTERNAL"]);
    }
    assert.ok(!peer.raw.some((t) => String(t).includes("secret")), "the thrown message is not sent to the peer");
    const errors = lines.slice(logged).filter((l) => l.level === "error");
    assert.equal(errors.length, 4);
    assert.ok(errors.some((l) => l.msg.includes("not declared")));
    assert.ok(errors.some((l) => l.msg.includes("fails its schema")));
    assert.deepEqual(await peer.request(7, "crash", { how: "slow" }), [2, 7, { id: "ok" }]);
    await peer.close();
  });

  it("answers INVALID_FRAME (with the request id when usable) and closes with 1008 after 10 within a minute", async () => {
    const peer = await Peer.open(`${url}/chat`);
    peer.send("not json");
    assert.deepEqual((await peer.answer(null)).slice(0, 3), [3, null, "INVALID_FRAME"]);
    peer.send('[1,9,"send",{"__proto__":{"polluted":1}}]');
    assert.deepEqual((await peer.answer(9)).slice(0, 3), [3, 9, "INVALID_FRAME"]);
    peer.send('[1,10,"send",{"constructor":{"prototype":{"polluted":1}}}]');
    assert.deepEqual((await peer.answer(10)).slice(0, 3), [3, 10, "INVALID_FRAME"]);
    peer.send(`[0,"anything",${"[".repeat(40)}${"]".repeat(40)}]`);
    peer.send('[4,"s",1,"e"]');
    peer.send('[1,0,"send",{}]');
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    for (let i = 0; i < 4; i++) peer.send("{}");
    const { code, reason } = await peer.closed;
    assert.equal(code, 1008);
    assert.equal(reason, "too many invalid frames");
  });

  it("lets binary frames and clients without tsws.v1 through to the raw onMessage", async () => {
    const peer = await Peer.open(`${url}/chat`);
    await peer.event("message");
    peer.send(Buffer.from([1, 2, 3]));
    const raw = await Peer.open(`${url}/chat`, []);
    raw.send('[1,1,"send",{"text":"hi"}]');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(peer.raw.at(-1), Buffer.from("raw:\u0001\u0002\u0003"));
    assert.deepEqual(raw.raw, ['[0,"message",{"text":"welcome raw"}]', 'raw:[1,1,"send",{"text":"hi"}]']);
    await Promise.all([peer.close(), raw.close()]);
  });

  it("sends requests to the client from a handler that awaits them, with replies, errors and bad replies", async () => {
    const peer = await Peer.open(`${url}/chat`);
    peer.answers.set("confirm", (data) => (data as { question: string }).question === "leave?");
    assert.deepEqual(await peer.request(1, "ask", { question: "leave?" }), [2, 1, { answer: "yes" }]);
    assert.deepEqual(await peer.request(2, "ask", { question: "stay?" }), [2, 2, { answer: "no" }]);
    peer.answers.set("confirm", () => ({ error: "BUSY", data: { why: 1 } }));
    assert.deepEqual(await peer.request(3, "ask", { question: "?" }), [2, 3, { answer: 'BUSY:{"why":1}' }]);
    peer.answers.set("confirm", () => "not a boolean");
    assert.equal(((await peer.request(4, "ask", { question: "?" }))[2] as { answer: string }).answer.split(":")[0], "INVALID_PAYLOAD");
    await peer.close();
  });

  it("times out a request to the client after timeoutMs, and ignores the late reply", async () => {
    const peer = await Peer.open(`${url}/chat`);
    peer.answers.set("confirm", () => new Promise((r) => setTimeout(() => r(true), 150)));
    const started = Date.now();
    assert.deepEqual(await peer.request(1, "ask", { question: "?", timeoutMs: 40 }), [2, 1, { answer: "TIMEOUT" }]);
    assert.ok(Date.now() - started >= 35);
    await new Promise((r) => setTimeout(r, 200)); // the late [2,…] arrives and is ignored
    assert.deepEqual(await peer.request(2, "join", { room: "x" }), [2, 2, null]);
    await peer.close();
  });

  it("settles a pending request to the client with DISCONNECTED as soon as it closes", async () => {
    let settled: ((value: string) => void) | undefined;
    const outcome = new Promise<string>((resolve) => (settled = resolve));
    @Namespace("/bye")
    class Bye extends events(chat) {
      static onConnect(socket: EventSocket<typeof chat>) {
        const asked = Date.now();
        socket.request("confirm", { question: "still there?" }).then(
          () => settled?.("resolved"),
          (e: RequestError) => settled?.(`${e.code} after ${Date.now() - asked} ms`),
        );
      }
    }
    const own = createServer({ handlers: [Bye], host: "127.0.0.1", port: 0, logger });
    const base = await start(own);
    const peer = await Peer.open(`${base}/bye`);
    await peer.next((f) => f[0] === 1);
    peer.ws.terminate();
    const text = await outcome;
    assert.match(text, /^DISCONNECTED after \d+ ms$/);
    assert.ok(Number(text.split(" ")[2]) < 5000);
    await own.close();
  });

  it("broadcasts typed events to a room once encoded, with except()", async () => {
    const a = await Peer.open(`${url}/chat`);
    const b = await Peer.open(`${url}/chat`);
    await a.request(1, "join", { room: "lobby" });
    await b.request(1, "join", { room: "lobby" });
    a.send([0, "shout", { room: "lobby", text: "to all" }]);
    assert.deepEqual(await a.next((f) => (f[2] as { text: string }).text === "to all"), [0, "message", { text: "to all" }]);
    assert.deepEqual(await b.next((f) => (f[2] as { text: string }).text === "to all"), [0, "message", { text: "to all" }]);
    a.send([0, "shout", { room: "lobby", text: "not me", exceptMe: true }]);
    await b.next((f) => (f[2] as { text: string }).text === "not me");
    assert.deepEqual(await a.request(2, "join", { room: "x" }), [2, 2, null]);
    assert.ok(!a.frames.some((f) => (f[2] as { text?: string } | undefined)?.text === "not me"));
    // @ts-expect-error the server's own operator has no emit: typed emits go through socket.server
    assert.throws(() => server.to("lobby").emit("message", { text: "x" }), TypeError);
    await Promise.all([a.close(), b.close()]);
  });
});

describe("DROP, onEvent and MixinFail", () => {
  const seen: string[] = [];
  class DropEmpty extends BaseMixin {
    static onMessage(_socket: Socket, message: Message) {
      return message === "" || message === "drop" ? DROP : undefined;
    }
  }
  class First extends BaseMixin {
    static onEvent(_socket: Socket, { event, data, kind }: InboundEvent) {
      seen.push(`first:${event}:${kind}`);
      if (event === "send" && (data as { text: string }).text === "drop") return DROP;
      if (event === "send" && (data as { text: string }).text === "kick") throw new MixinFail("kicked", 4003);
      if (event === "send" && (data as { text: string }).text === "limited") throw new EventError("RATE_LIMITED", { retryAfterMs: 1 });
      return undefined;
    }
  }
  class Second extends BaseMixin {
    static async onEvent(_socket: Socket, { event, data }: InboundEvent) {
      seen.push(`second:${event}`);
      if (event === "send") return { text: `${(data as { text: string }).text}!` };
      return undefined;
    }
  }
  @Namespace("/guarded")
  class Guarded extends events(chat, Second, First, DropEmpty) {
    static onMessage(socket: Socket, message: Message) {
      socket.send(`raw:${String(message)}`);
    }
    static events = handle(chat, {
      send(_socket, { text }) {
        seen.push(`handler:${text}`);
        return { id: text };
      },
    });
  }
  @Namespace("/plain")
  class Plain extends mixins(DropEmpty) {
    static onMessage(socket: Socket, message: Message) {
      socket.send(`got:${String(message)}`);
    }
  }
  const server = createServer({ handlers: [Guarded, Plain], host: "127.0.0.1", port: 0, logger });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("a raw onMessage mixin's DROP stops that message only and the socket stays open", async () => {
    const peer = await Peer.open(`${url}/plain`, []);
    peer.send("drop");
    peer.send("");
    peer.send("keep");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(peer.raw, ["got:keep"]);
    const events = await Peer.open(`${url}/guarded`, []);
    events.send("drop");
    events.send("kept");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(events.raw, ["raw:kept"]);
    await Promise.all([peer.close(), events.close()]);
  });

  it("runs onEvent right to left after validation, with replacement data, and answers a dropped request DROPPED", async () => {
    const peer = await Peer.open(`${url}/guarded`);
    seen.length = 0;
    assert.deepEqual(await peer.request(1, "send", { text: "hi" }), [2, 1, { id: "hi!" }]);
    assert.deepEqual(seen, ["first:send:request", "second:send", "handler:hi!"]); // mixins(Second, First, …): First runs first
    seen.length = 0;
    assert.deepEqual((await peer.request(2, "send", { text: "" })).slice(0, 3), [3, 2, "INVALID_PAYLOAD"]);
    assert.deepEqual(seen, [], "no hook sees invalid data");
    seen.length = 0;
    assert.deepEqual(await peer.request(3, "send", { text: "drop" }), [3, 3, "DROPPED"]);
    assert.deepEqual(seen, ["first:send:request"], "a DROP stops the later hooks and the handler");
    assert.deepEqual(await peer.request(4, "send", { text: "limited" }), [3, 4, "RATE_LIMITED", { retryAfterMs: 1 }]);
    await peer.close();
  });

  it("closes the socket when onEvent throws MixinFail", async () => {
    const peer = await Peer.open(`${url}/guarded`);
    peer.send([1, 1, "send", { text: "kick" }]);
    assert.deepEqual(await peer.closed, { code: 4003, reason: "kicked" });
  });
});
