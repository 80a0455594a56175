// Property test of the message layer's inbound path: random and hostile frames from a real client
// never reach a handler with invalid data, never touch Object.prototype, never crash the server,
// and every request gets exactly one answer carrying its own id. A bounded count runs in
// `npm test`; TSWS_FUZZ_FRAMES=100000 runs about that many frames.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import { createServer, events, handle, type Message, Namespace, type Socket } from "../src/index.js";
import { type Frame, Peer } from "./helpers/tsws-peer.js";
import { start } from "./helpers.js";

const FRAMES = Number(process.env.TSWS_FUZZ_FRAMES ?? 1000);
const PER_RUN = 24;
const ID_BASE = 1e12; // our request ids: far from anything the random frames pick

const contract = defineContract({
  client: {
    typing: event(z.object({ on: z.boolean() })),
    send: request(z.object({ text: z.string().min(1) }), z.object({ id: z.string() })),
    slow: request(z.object({ n: z.number().int() }), z.number()),
  },
});

let handlerCalls = 0;
let badCalls = 0;
let rawCalls = 0;
const isText = (d: unknown) =>
  typeof d === "object" && d !== null && Object.keys(d).join() === "text" && typeof (d as { text: unknown }).text === "string";

@Namespace("/fuzz")
class Fuzz extends events(contract) {
  static onMessage(_socket: Socket, _message: Message) {
    rawCalls++;
  }
  static events = handle(contract, {
    typing(_socket, data) {
      handlerCalls++;
      if (typeof data !== "object" || data === null || Object.keys(data).join() !== "on" || typeof data.on !== "boolean") badCalls++;
    },
    send(_socket, data) {
      handlerCalls++;
      if (!isText(data) || data.text.length < 1) badCalls++;
      return { id: "ok" };
    },
    async slow(_socket, { n }) {
      handlerCalls++;
      if (!Number.isInteger(n)) badCalls++;
      await new Promise((r) => setImmediate(r));
      return n;
    },
  });
}

const ID = Symbol("id"); // replaced by a fresh request id when sent
type Gen = { text: string } | { request: readonly unknown[] } | { bytes: Uint8Array } | { deep: number };

const hostileName = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "", "send ", "$x");
const name = fc.oneof(hostileName, fc.constantFrom("send", "typing", "slow", "nope"), fc.string({ maxLength: 70 }));
const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

const frame: fc.Arbitrary<Gen> = fc.oneof(
  fc.record({
    request: fc.tuple(
      fc.constant(1),
      fc.constant(ID),
      fc.constant("send"),
      fc.record({ text: fc.string({ minLength: 1, maxLength: 20 }) }),
    ),
  }),
  fc.record({ request: fc.tuple(fc.constant(1), fc.constant(ID), fc.constantFrom("send", "slow"), fc.anything()) }),
  fc.record({ request: fc.tuple(fc.constant(1), fc.constant(ID), name, fc.jsonValue()) }),
  fc.record({ request: fc.tuple(fc.constant(1), fc.constant(ID), name) }),
  fc.record({ request: fc.tuple(fc.constant(1), fc.constant(ID), fc.constantFrom("send", "slow"), fc.jsonValue(), fc.jsonValue()) }),
  fc.record({ text: fc.tuple(fc.constantFrom(0, 2, 3, 4, 9, 5, -1, 1.5), name, fc.jsonValue()).map((a) => JSON.stringify(a)) }),
  fc.record({ text: fc.jsonValue().map((v) => JSON.stringify(v) ?? "null") }),
  fc.record({ text: fc.string({ maxLength: 40 }) }),
  fc.record({ text: fc.constantFrom('{"__proto__":{"polluted":1}}', '[0,"typing",{"__proto__":{"polluted":1},"on":true}]') }),
  fc.record({ request: fc.constant([1, ID, "send", JSON.parse('{"__proto__":{"polluted":1},"text":"x"}')]) }),
  fc.record({ request: fc.constant([1, ID, "send", { constructor: { prototype: { polluted: 1 } }, text: "x" }]) }),
  fc.record({ deep: fc.integer({ min: 30, max: 5000 }) }),
  fc.record({ text: fc.integer({ min: 1, max: 100_000 }).map((n) => `[1,${ID_BASE - 1},"send",${deep(n)}]`) }),
  fc.record({ text: fc.integer({ min: 1, max: 300_000 }).map((n) => `[0,"typing",{"on":"${"x".repeat(n)}"}]`) }),
  fc.record({ bytes: fc.uint8Array({ maxLength: 32 }) }),
);

describe("random and hostile tsws.v1 frames", () => {
  const server = createServer({ handlers: [Fuzz], host: "127.0.0.1", port: 0 });
  let url: string;
  const protoNames = Object.getOwnPropertyNames(Object.prototype).sort().join();
  before(async () => (url = await start(server)));
  after(() => server.close());

  it(`answers every request with its own id and calls handlers only with valid data (${FRAMES} frames)`, async () => {
    let nextId = ID_BASE;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: PER_RUN }), async (gens) => {
        const peer = await Peer.open(`${url}/fuzz`);
        const ids: number[] = [];
        for (const g of gens) {
          if ("bytes" in g) peer.send(Buffer.from(g.bytes));
          else if ("text" in g) peer.send(g.text);
          else if ("deep" in g) {
            const id = ++nextId;
            ids.push(id);
            peer.send(`[1,${id},"send",${deep(g.deep)}]`);
          } else {
            const id = ++nextId;
            ids.push(id);
            peer.send(JSON.stringify(g.request.map((x) => (x === ID ? id : x))));
          }
        }
        sent += gens.length;
        // A last request the server answers after all the others (frames are handled in order).
        const last = ++nextId;
        const closed = peer.closed.then(() => undefined);
        const done = await Promise.race([peer.request(last, "send", { text: "end" }), closed]);
        const answers = peer.frames.filter((f: Frame) => (f[0] === 2 || f[0] === 3) && typeof f[1] === "number" && f[1] >= ID_BASE);
        const answered = answers.map((f) => f[1] as number);
        assert.equal(new Set(answered).size, answered.length, "one answer per request");
        if (done === undefined) {
          // Closed for too many invalid frames: what was answered is a prefix of what was asked.
          assert.equal((await peer.closed).code, 1008);
          assert.deepEqual(answered, ids.slice(0, answered.length));
        } else {
          assert.deepEqual(answered, ids, "every request answered, in order, with its own id");
          await peer.close();
        }
        assert.equal(badCalls, 0);
        assert.equal(({} as { polluted?: unknown }).polluted, undefined);
        assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), protoNames);
      }),
      { numRuns: Math.ceil(FRAMES / (PER_RUN / 2)), interruptAfterTimeLimit: FRAMES > 5000 ? 3_600_000 : 60_000 },
    );
    assert.ok(sent > 0 && handlerCalls > 0 && rawCalls > 0, `${sent} frames, ${handlerCalls} handler calls, ${rawCalls} raw`);
    // The server still serves.
    const peer = await Peer.open(`${url}/fuzz`);
    assert.deepEqual(await peer.request(1, "send", { text: "alive" }), [2, 1, { id: "ok" }]);
    await peer.close();
  });
});
