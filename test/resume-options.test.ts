import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeError, encodeReply } from "../src/protocol/index.js";
import { RESUME_DEFAULTS, resolveResumeOptions } from "../src/resume/options.js";
import { REPLY_CACHE_SIZE, ReplyCache } from "../src/resume/reply-cache.js";
import { resolveOptions } from "../src/server-options.js";

describe("resume options", () => {
  it("default to a 2-minute window and 100 messages or 5 minutes of history per stream", () => {
    assert.deepEqual(resolveResumeOptions({}), { ttl: 120_000, history: { size: 100, ttl: 300_000 } });
    assert.deepEqual(RESUME_DEFAULTS, { ttl: 120_000, history: { size: 100, ttl: 300_000 } });
    assert.deepEqual(resolveResumeOptions({ ttl: 5_000, history: { size: 7 } }), { ttl: 5_000, history: { size: 7, ttl: 300_000 } });
  });

  it("take true for the defaults and false for off in createServer, as the client's { resume: true } does", () => {
    assert.deepEqual(resolveOptions({ resume: true }, {}).resume, RESUME_DEFAULTS);
    assert.equal(resolveOptions({ resume: false }, {}).resume, undefined);
    assert.equal(resolveOptions({}, {}).resume, undefined);
    assert.throws(
      () => resolveOptions({ resume: "yes" as never }, {}),
      /option "resume" must be true, false or an object \{ ttl\?, history\? \}/,
    );
  });

  it("throw a TypeError naming the nested option, what it accepts and what it got", () => {
    const cases: [unknown, RegExp][] = [
      [{ ttl: 10 }, /^createServer: option "resume\.ttl" must be a number of milliseconds from 1000 to 86400000, got number 10$/],
      [{ history: 5 }, /option "resume\.history" must be an object \{ size\?, ttl\? \}, got number 5/],
      [{ history: { size: 0 } }, /option "resume\.history\.size" must be an integer from 1 to 1000000, got number 0/],
      [{ history: { ttl: "1m" } }, /option "resume\.history\.ttl" must be .*, got "1m"/],
      [{ history: { max: 3 } }, /unknown option "resume\.history\.max"/],
      [{ tll: 3 }, /unknown option "resume\.tll"/],
      [null, /option "resume" must be an object, got null/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => resolveResumeOptions(options as never),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
      );
    }
  });
});

describe("ReplyCache", () => {
  it("runs a request once and answers its retry from the cache", () => {
    const cache = new ReplyCache();
    assert.deepEqual(cache.begin(1), { kind: "run" });
    cache.settle(1, encodeReply(1, { id: "m1" }));
    assert.deepEqual(cache.begin(1), { kind: "resend", frame: '[2,1,{"id":"m1"}]' });
  });

  it("makes a retry of a request still running wait for that run's answer", async () => {
    const cache = new ReplyCache();
    cache.begin(2);
    const step = cache.begin(2);
    assert.equal(step.kind, "wait");
    assert.equal(cache.running, 1);
    cache.settle(2, encodeError(2, "RATE_LIMITED", { retryAfterMs: 5 }));
    assert.equal(await (step as { frame: Promise<string> }).frame, '[3,2,"RATE_LIMITED",{"retryAfterMs":5}]');
    assert.equal(cache.running, 0);
  });

  it("keeps the newest 128 settled replies", () => {
    const cache = new ReplyCache();
    for (let id = 1; id <= 200; id++) {
      cache.begin(id);
      cache.settle(id, encodeReply(id));
    }
    assert.equal(cache.entries().length, REPLY_CACHE_SIZE);
    assert.equal(cache.entries()[0]![0], 73);
    assert.deepEqual(cache.begin(72), { kind: "run" }, "an evicted reply runs again");
    assert.equal(cache.begin(200).kind, "resend");
  });

  it("travels in the session record and comes back with it", () => {
    const cache = new ReplyCache();
    cache.begin(5);
    cache.settle(5, encodeReply(5, true));
    const restored = new ReplyCache(cache.entries());
    assert.deepEqual(restored.begin(5), { kind: "resend", frame: "[2,5,true]" });
  });
});
