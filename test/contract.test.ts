import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import fc from "fast-check";
import * as v from "valibot";
import { z } from "zod";
import { defineContract, event, lookup, request, toAsyncAPI, validate } from "../src/contract/index.js";
import {
  CloseCode,
  decodeFrame,
  encodeControl,
  encodeError,
  encodeEvent,
  encodePush,
  encodeReply,
  encodeRequest,
  parseFrame,
  withinDepth,
} from "../src/protocol/index.js";

const Text = z.object({ text: z.string().min(1) });
const Id = z.object({ id: z.string() });

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("defineContract: names", () => {
  it("accepts names of letters, digits and _ . : / -", () => {
    const c = defineContract({ client: { "message:send": event(), "a/b-c.d_e9": event() }, server: { X: event() } });
    assert.deepEqual(Object.keys(c.client), ["message:send", "a/b-c.d_e9"]);
  });

  for (const bad of ["constructor", "prototype", "$internal", "1st", "a b", "", "x".repeat(65), "é"]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 20))} with a TypeError naming the key and the rule`, () => {
      assert.throws(
        () => defineContract({ client: { [bad]: event() } }),
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.includes(`client message "${bad}"`) &&
          /never allowed|names must match/.test(error.message),
      );
    });
  }

  it("refuses an own __proto__ key (a computed key in a literal)", () => {
    assert.throws(() => defineContract({ server: { ["__proto__"]: event() } }), /server message "__proto__": "__proto__" is reserved/);
  });

  it("refuses values not made by event() or request(), and unknown top-level keys", () => {
    assert.throws(
      () => defineContract({ client: { ping: { kind: "other" } as never } }),
      /client message "ping": expected the result of event\(\) or request\(\)/,
    );
    assert.throws(() => defineContract({ clients: {} } as never), /unknown key "clients"/);
  });

  it("refuses non-schemas and bad or built-in error codes", () => {
    assert.throws(() => event({ parse: () => 1 } as never), /event\(schema\) must be a Standard Schema v1 object/);
    assert.throws(() => request(Text, "nope" as never), /request\(schema, reply\) must be a Standard Schema/);
    assert.throws(() => request(Text, Id, { errors: { TIMEOUT: null } }), /error code "TIMEOUT" is built in/);
    assert.throws(() => request(Text, Id, { errors: { "bad code": null } }), /error code "bad code": names must match/);
    assert.throws(() => request(Text, Id, { errors: { X: {} as never } }), /errors\.X must be a Standard Schema/);
  });

  it("marks events and requests apart at run time", () => {
    const c = defineContract({ client: { e: event(), r: request(Text, Id) } });
    assert.equal(c.client.e.kind, "event");
    assert.equal(c.client.r.kind, "request");
    assert.ok(Object.isFrozen(c.client.r));
  });
});

describe("defineContract: null-prototype tables", () => {
  const c = defineContract({
    client: { send: request(Text, Id, { errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }) } }) },
  });

  it("keeps each direction and each error table without a prototype, frozen", () => {
    assert.equal(Object.getPrototypeOf(c.client), null);
    assert.equal(Object.getPrototypeOf(c.server), null);
    assert.equal(Object.getPrototypeOf(c.client.send.errors), null);
    assert.ok(Object.isFrozen(c.client) && Object.isFrozen(c.server) && Object.isFrozen(c));
  });

  it("finds only declared names, never inherited members", () => {
    assert.equal(lookup(c, "client", "send"), c.client.send);
    for (const name of ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "send "]) {
      assert.equal(lookup(c, "client", name), undefined, name);
      assert.equal((c.client as Record<string, unknown>)[name], undefined, name);
    }
    assert.equal(lookup(c, "server", "send"), undefined);
  });
});

describe("validate()", () => {
  it("passes zod values through as the schema's output, and with no schema unchanged", () => {
    assert.deepEqual(validate(z.object({ n: z.coerce.number() }), { n: "4" }), { value: { n: 4 } });
    const raw = { any: [1, "two"] };
    assert.deepEqual(validate(undefined, raw), { value: raw });
  });

  it("maps zod issues to { message, path } with indexes as numbers", () => {
    const r = validate(z.object({ items: z.array(z.object({ text: z.string() })) }), { items: [{ text: "a" }, { text: 2 }] });
    assert.ok(!(r instanceof Promise) && r.issues);
    assert.equal(r.issues.length, 1);
    assert.deepEqual(r.issues[0]!.path, ["items", 1, "text"]);
    assert.equal(typeof r.issues[0]!.message, "string");
  });

  it("maps valibot's path objects the same way", () => {
    const r = validate(v.object({ items: v.array(v.string()) }), { items: ["a", 3] });
    assert.ok(!(r instanceof Promise) && r.issues);
    assert.deepEqual(r.issues[0]!.path, ["items", 1]);
    assert.match(r.issues[0]!.message, /string/i);
  });

  it("returns a Promise only for async schemas (zod and valibot)", async () => {
    const zodAsync = z.string().refine(async (s) => s !== "taken", "already taken");
    const pending = validate(zodAsync, "taken");
    assert.ok(pending instanceof Promise);
    assert.deepEqual(await pending, { issues: [{ message: "already taken", path: [] }] });
    assert.deepEqual(await validate(zodAsync, "free"), { value: "free" });

    const valibotAsync = v.pipeAsync(
      v.string(),
      v.checkAsync(async (s) => s.length > 2, "too short"),
    );
    const short = validate(valibotAsync, "ab");
    assert.ok(short instanceof Promise);
    assert.deepEqual(await short, { issues: [{ message: "too short", path: [] }] });
    assert.deepEqual(await validate(valibotAsync, "abc"), { value: "abc" });
    assert.ok(!(validate(z.string(), "x") instanceof Promise));
  });

  it("turns symbol keys and { key } segments into JSON-safe keys", () => {
    const custom: StandardSchemaV1<unknown, never> = {
      "~standard": {
        version: 1,
        vendor: "hand-made",
        validate: () => ({ issues: [{ message: "bad", path: [Symbol("s"), { key: 3 }, { key: "k" }] }] }),
      },
    };
    assert.deepEqual(validate(custom, 1), { issues: [{ message: "bad", path: ["s", 3, "k"] }] });
  });
});

describe("protocol: encoders and parseFrame", () => {
  it("encodes compact arrays, leaving undefined data out", () => {
    assert.equal(encodeEvent("typing", { on: true }), '[0,"typing",{"on":true}]');
    assert.equal(encodeEvent("ping"), '[0,"ping"]');
    assert.equal(encodeRequest(7, "send", { text: "hi" }), '[1,7,"send",{"text":"hi"}]');
    assert.equal(encodeRequest(8, "sync", undefined, { traceparent: "t" }), '[1,8,"sync",null,{"traceparent":"t"}]');
    assert.equal(encodeReply(7), "[2,7]");
    assert.equal(encodeReply(7, null), "[2,7,null]");
    assert.equal(encodeError(7, "UNKNOWN_EVENT"), '[3,7,"UNKNOWN_EVENT"]');
    assert.equal(encodeError(null, "INVALID_FRAME", undefined, "not an array"), '[3,null,"INVALID_FRAME",null,"not an array"]');
    assert.equal(encodePush("room:a", 3, "m", 1), '[4,"room:a",3,"m",1]');
    assert.equal(encodeControl("ping"), '[9,"ping"]');
  });

  it("types every well-formed frame and round-trips the encoders", () => {
    const texts = [
      encodeEvent("e", { a: [1, 2] }),
      encodeRequest(1, "r"),
      encodeRequest(2, "r", undefined, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
      '[1,3,"r",{"x":1},{"traceparent":"t","vendor":"ignored"}]',
      encodeReply(Number.MAX_SAFE_INTEGER, false),
      encodeError(3, "RATE_LIMITED", { retryAfterMs: 5 }, "slow down"),
      encodeError(null, "INVALID_FRAME"),
      encodePush("s", 0, "e"),
      encodePush("room:a", 3, "e", undefined, { id: "Qx3f_k2a.1" }),
      encodeControl("gap", { reason: "expired" }),
      '[9,"some-future-kind"]',
    ];
    for (const text of texts) {
      const r = decodeFrame(text);
      assert.ok(r.ok, text);
      assert.deepEqual(r.frame, JSON.parse(text));
    }
  });

  const hostile: [unknown, number | null, RegExp][] = [
    [{ 0: 0, 1: "e" }, null, /must be a JSON array/],
    ["[0]", null, /must be a JSON array/],
    [[], null, /unknown frame kind/],
    [[5, "e"], null, /unknown frame kind/],
    [["0", "e"], null, /unknown frame kind/],
    [[0], null, /expected \[0, event, data\?\]/],
    [[0, 42], null, /event name must be a string/],
    [[0, "e", 1, 2], null, /expected \[0, event, data\?\]/],
    [[1, 0, "e"], null, /id must be a positive safe integer/],
    [[1, -1, "e"], null, /id must be a positive safe integer/],
    [[1, 1.5, "e"], null, /id must be a positive safe integer/],
    [[1, 2 ** 53, "e"], null, /id must be a positive safe integer/],
    [[1, "1", "e"], null, /id must be a positive safe integer/],
    [[1, 9, null], 9, /event name must be a string/],
    [[1, 9, "e", 1, {}, 2], 9, /expected \[1, id, event, data\?, meta\?\]/],
    [[1, 9, "e", 1, "meta"], 9, /meta must be a JSON object/],
    [[1, 9, "e", 1, null], 9, /meta must be a JSON object/],
    [[1, 9, "e", 1, [1]], 9, /meta must be a JSON object/],
    [[1, 9, "e", null, { traceparent: 5 }], 9, /meta.traceparent must be a string/],
    [[1, 9, "e", null, { tracestate: {} }], 9, /meta.tracestate must be a string/],
    [[2, null], null, /reply: the id/],
    [[3, 1, ""], null, /code must be a non-empty string/],
    [[3, 1, "X", null, 5], null, /message must be a string/],
    [[3, "1", "X"], null, /positive safe integer or null/],
    [[4, "s", -1, "e"], null, /seq must be a non-negative safe integer/],
    [[4, "s", 1, "e", null, { id: 5 }], null, /push: meta.id must be a string/],
    [[4, "s", 1, "e", null, "id"], null, /push: meta must be a JSON object/],
    [[4, "s", 1, "e", null, { id: "m" }, 7], null, /expected \[4, stream, seq, event, data\?, meta\?\]/],
    [[9, 1], null, /kind must be a string/],
    [[1, 4, "e", nested(40)], 4, /at most 32 levels deep/],
  ];
  for (const [value, id, message] of hostile) {
    it(`refuses ${JSON.stringify(value).slice(0, 40)} with id ${id}`, () => {
      const r = parseFrame(value);
      assert.ok(!r.ok);
      assert.equal(r.id, id);
      assert.match(r.message, message);
    });
  }

  it("applies the depth limit counting the frame array as 1", () => {
    assert.ok(parseFrame([0, "e", nested(31)]).ok);
    assert.ok(!parseFrame([0, "e", nested(32)]).ok);
    assert.ok(parseFrame([0, "e", nested(32)], { maxDepth: 33 }).ok);
    assert.ok(withinDepth({ a: { b: 1 } }, 2));
    assert.ok(!withinDepth({ a: { b: {} } }, 2));
    assert.ok(withinDepth("scalar", 0));
  });

  it("never throws on arbitrary values and accepts only the documented shapes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 9), fc.jsonValue(), fc.jsonValue())), (value) => {
        const r = parseFrame(value);
        if (!r.ok) return r.id === null || (typeof r.id === "number" && r.id > 0);
        const frame = r.frame as readonly unknown[];
        return Array.isArray(frame) && [0, 1, 2, 3, 4, 9].includes(frame[0] as number);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("protocol: decodeFrame", () => {
  it("refuses __proto__ keys anywhere and constructor.prototype, leaving Object.prototype alone", () => {
    for (const text of [
      '[0,"e",{"__proto__":{"polluted":true}}]',
      '[1,3,"e",{"a":[{"__proto__":{"polluted":true}}]}]',
      '[0,"e",{"constructor":{"prototype":{"polluted":true}}}]',
    ]) {
      const r = decodeFrame(text);
      assert.ok(!r.ok, text);
      assert.equal(r.id, text.startsWith("[1,3,") ? 3 : null);
      assert.match(r.message, /"__proto__" and "constructor.prototype" are not allowed/);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("keeps a plain constructor key, refuses bad JSON and absurd nesting", () => {
    assert.ok(decodeFrame('[0,"car",{"constructor":"Ford"}]').ok);
    assert.deepEqual(decodeFrame("[0,"), { ok: false, id: null, message: "the frame is not valid JSON" });
    const deep = `[1,5,"e",${"[".repeat(10_000)}${"]".repeat(10_000)}]`;
    const r = decodeFrame(deep);
    assert.ok(!r.ok);
    assert.equal(r.id, 5);
  });

  it("names the close codes the protocol uses", () => {
    assert.deepEqual(CloseCode, { NORMAL: 1000, GOING_AWAY: 1001, POLICY: 1008, INTERNAL: 1011, SESSION_ENDED: 4401 });
  });
});

describe("toAsyncAPI()", () => {
  const chat = defineContract({
    client: {
      typing: event(z.object({ on: z.boolean() })),
      "message:send": request(Text, Id, { errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }), CLOSED: null } }),
      message_send: event(),
    },
    server: {
      message: event(v.object({ id: v.string() })),
      confirm: request(z.object({ question: z.string() }), z.boolean()),
    },
  });
  const doc = toAsyncAPI(chat, { title: "Chat", version: "1.2.0", address: "/chat/{room}" }) as {
    asyncapi: string;
    info: { title: string; version: string };
    channels: Record<string, { address: string; messages: Record<string, { name: string; payload: Record<string, unknown> }> }>;
    operations: Record<string, { action: string; messages: { $ref: string }[]; reply?: { messages: { $ref: string }[] } }>;
  };
  const messages = doc.channels.socket!.messages;

  function resolve(ref: string): unknown {
    return ref
      .slice(2)
      .split("/")
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], doc);
  }

  it("is an AsyncAPI 3.0.0 document with one channel", () => {
    assert.equal(doc.asyncapi, "3.0.0");
    assert.deepEqual(doc.info, { title: "Chat", version: "1.2.0" });
    assert.deepEqual(Object.keys(doc.channels), ["socket"]);
    assert.equal(doc.channels.socket!.address, "/chat/{room}");
    assert.doesNotThrow(() => JSON.stringify(doc));
  });

  it("has receive operations for client messages and send operations for server ones, every $ref resolving", () => {
    assert.deepEqual(Object.fromEntries(Object.entries(doc.operations).map(([id, op]) => [id, op.action])), {
      "client.typing": "receive",
      "client.message_send": "receive",
      "client.message_send_2": "receive",
      "server.message": "send",
      "server.confirm": "send",
    });
    for (const op of Object.values(doc.operations)) {
      for (const { $ref } of [...op.messages, ...(op.reply?.messages ?? [])]) assert.ok(resolve($ref), $ref);
    }
    assert.equal(messages["client.message_send"]!.name, "message:send");
    assert.equal(messages["client.message_send_2"]!.name, "message_send");
  });

  it("describes request replies and declared errors through reply", () => {
    const send = doc.operations["client.message_send"]!;
    assert.deepEqual(
      send.reply?.messages.map((m) => m.$ref.split("/").pop()),
      ["client.message_send.reply", "client.message_send.error.RATE_LIMITED", "client.message_send.error.CLOSED"],
    );
    assert.deepEqual(messages["client.message_send.reply"]!.payload, {
      type: "object",
      properties: { id: { type: "string" } },
      required: ["id"],
    });
    assert.equal(doc.operations["client.typing"]!.reply, undefined);
  });

  it("converts zod schemas to JSON Schema and says so when a library offers no conversion", () => {
    assert.deepEqual(messages["client.typing"]!.payload.properties, { on: { type: "boolean" } });
    assert.match(String(messages["server.message"]!.payload.description), /no JSON Schema conversion available for this valibot schema/);
    assert.equal(messages["client.message_send_2"]!.payload.description, "any JSON value");
  });
});
