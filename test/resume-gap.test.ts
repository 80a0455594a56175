import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admitLive, planResume, planStream, resumeFrames, SESSION_EXPIRED } from "../src/resume/gap-plan.js";
import { type HistoryWindow, pushBody } from "../src/resume/history-log.js";

/** A window of seqs first..top of epoch "e", all read after `after`. */
function window(first: number, top: number, marks: { trimmed?: number; expired?: number } = {}, after = 0): HistoryWindow {
  const entries = [];
  for (let seq = Math.max(first, after + 1); seq <= top; seq++) entries.push({ seq, body: `"m",${seq}` });
  return { epoch: "e", top, first, trimmedThrough: marks.trimmed ?? 0, expiredThrough: marks.expired ?? 0, entries };
}

describe("planStream", () => {
  it("replays everything missed without a gap when history covers it", () => {
    const p = planStream("s", { seq: 3, epoch: "e" }, window(1, 6, {}, 3), 100);
    assert.equal(p.gap, undefined);
    assert.deepEqual(
      p.entries.map((e) => e.seq),
      [4, 5, 6],
    );
    assert.deepEqual(p.position, { seq: 6, epoch: "e" });
  });

  it("has nothing to do for a reader that is up to date", () => {
    const p = planStream("s", { seq: 6, epoch: "e" }, window(1, 6, {}, 6), 100);
    assert.equal(p.gap, undefined);
    assert.equal(p.entries.length, 0);
  });

  it("announces `trimmed` for what the count bound dropped, then replays the rest", () => {
    const p = planStream("s", { seq: 2, epoch: "e" }, window(5, 8, { trimmed: 4 }, 2), 100);
    assert.deepEqual(p.gap, { stream: "s", reason: "trimmed", from: 3, to: 4, epoch: "e" });
    assert.deepEqual(
      p.entries.map((e) => e.seq),
      [5, 6, 7, 8],
    );
  });

  it("announces `expired` when any missed seq was dropped for age", () => {
    const p = planStream("s", { seq: 2, epoch: "e" }, window(5, 8, { expired: 4, trimmed: 3 }, 2), 100);
    assert.equal(p.gap?.reason, "expired");
  });

  it("announces `trimmed`, not `expired`, when only seqs the reader already had expired", () => {
    const p = planStream("s", { seq: 2, epoch: "e" }, window(5, 8, { expired: 2, trimmed: 4 }, 2), 100);
    assert.equal(p.gap?.reason, "trimmed");
  });

  it("announces `reset` and replays only the new epoch when the epoch changed", () => {
    const w = { ...window(1, 3), epoch: "f" };
    const p = planStream("s", { seq: 9, epoch: "e" }, w, 100);
    assert.deepEqual(p.gap, { stream: "s", reason: "reset", epoch: "f" });
    assert.deepEqual(
      p.entries.map((e) => e.seq),
      [1, 2, 3],
    );
    assert.deepEqual(p.position, { seq: 3, epoch: "f" });
  });

  it("announces `reset` when the numbering went backwards within an epoch", () => {
    const p = planStream("s", { seq: 9, epoch: "e" }, window(1, 3, {}, 9), 100);
    assert.equal(p.gap?.reason, "reset");
    assert.equal(p.entries.length, 0);
  });

  it("announces `too many` for the oldest missed beyond the budget and replays the newest", () => {
    const p = planStream("s", { seq: 0, epoch: "e" }, window(1, 10), 4);
    assert.deepEqual(p.gap, { stream: "s", reason: "too many", from: 1, to: 6, epoch: "e" });
    assert.deepEqual(
      p.entries.map((e) => e.seq),
      [7, 8, 9, 10],
    );
  });
});

describe("planResume", () => {
  it("shares one replay budget across streams fairly: each cut stream keeps its newest", () => {
    const windows = new Map([
      ["a", window(1, 3)],
      ["b", window(1, 3)],
    ]);
    const plans = planResume(
      [
        ["a", { seq: 0, epoch: "e" }],
        ["b", { seq: 0, epoch: "e" }],
      ],
      windows,
      4,
    );
    assert.deepEqual(
      plans.map((p) => p.entries.map((e) => e.seq)),
      [
        [2, 3],
        [2, 3],
      ],
    );
    assert.deepEqual(
      plans.map((p) => p.gap),
      [
        { stream: "a", reason: "too many", from: 1, to: 1, epoch: "e" },
        { stream: "b", reason: "too many", from: 1, to: 1, epoch: "e" },
      ],
    );
  });

  it("does not let a flooded room crowd out a few direct messages (the budget a small stream leaves goes to the others)", () => {
    const plans = planResume(
      [
        ["room:lobby", { seq: 0, epoch: "e" }],
        ["room:quiet", { seq: 0, epoch: "e" }],
        ["inbox:s1", { seq: 0, epoch: "e" }],
      ],
      new Map([
        ["room:lobby", window(1, 1_100)],
        ["room:quiet", window(1, 10)],
        ["inbox:s1", window(1, 2)],
      ]),
      1_000,
    );
    assert.deepEqual(
      plans.map((p) => [p.stream, p.entries.length, p.entries[0]?.seq, p.gap?.reason]),
      [
        ["room:lobby", 988, 113, "too many"],
        ["room:quiet", 10, 1, undefined],
        ["inbox:s1", 2, 1, undefined],
      ],
    );
  });

  it("refuses to plan a stream whose window was not read", () => {
    assert.throws(() => planResume([["a", { seq: 0, epoch: "e" }]], new Map()), /no history window read for stream "a"/);
  });

  it("writes each stream's gap before its replayed pushes", () => {
    const plans = planResume([["room:x", { seq: 0, epoch: "e" }]], new Map([["room:x", window(2, 3, { trimmed: 1 })]]));
    assert.deepEqual(resumeFrames(plans), [
      '[9,"gap",{"stream":"room:x","reason":"trimmed","from":1,"to":1,"epoch":"e"}]',
      '[4,"room:x",2,"m",2]',
      '[4,"room:x",3,"m",3]',
    ]);
  });

  it("merges streams at the copies of an emit to several rooms: each room's order kept, copies side by side", () => {
    // Room a: x, y (both to a and b). Room b: its own 1, then x, its own 2, then y. A gap in b first.
    const body = (text: string, id?: string) => pushBody("m", text, id);
    const a = {
      epoch: "e",
      top: 2,
      first: 1,
      trimmedThrough: 0,
      expiredThrough: 0,
      entries: [
        { seq: 1, body: body("x", "X") },
        { seq: 2, body: body("y", "Y") },
      ],
    };
    const b = {
      epoch: "e",
      top: 5,
      first: 2,
      trimmedThrough: 1,
      expiredThrough: 0,
      entries: [
        { seq: 2, body: body("b1") },
        { seq: 3, body: body("x", "X") },
        { seq: 4, body: body("b2"), except: ["me"] },
        { seq: 5, body: body("y", "Y") },
      ],
    };
    const plans = planResume(
      [
        ["room:a", { seq: 0, epoch: "e" }],
        ["room:b", { seq: 0, epoch: "e" }],
      ],
      new Map([
        ["room:a", a],
        ["room:b", b],
      ]),
    );
    const written = resumeFrames(plans, "me").map((f) => JSON.parse(f) as unknown[]);
    assert.deepEqual(
      written.map((f) => (f[0] === 9 ? `gap ${(f[2] as { stream: string }).stream}` : `${f[1]}:${f[2]} ${f[4]}`)),
      ["gap room:b", "room:b:2 b1", "room:a:1 x", "room:b:3 x", "room:a:2 y", "room:b:5 y"],
      "b's own message first, each copy beside its twin, the excepted one left out",
    );
  });

  it("keeps writing when two emits reached two rooms in opposite orders (no order fits both: the first stream's wins)", () => {
    const body = (text: string, id: string) => pushBody("m", text, id);
    const w = (entries: { seq: number; body: string }[]) => ({
      epoch: "e",
      top: 2,
      first: 1,
      trimmedThrough: 0,
      expiredThrough: 0,
      entries,
    });
    const plans = planResume(
      [
        ["room:a", { seq: 0, epoch: "e" }],
        ["room:b", { seq: 0, epoch: "e" }],
      ],
      new Map([
        [
          "room:a",
          w([
            { seq: 1, body: body("x", "X") },
            { seq: 2, body: body("y", "Y") },
          ]),
        ],
        [
          "room:b",
          w([
            { seq: 1, body: body("y", "Y") },
            { seq: 2, body: body("x", "X") },
          ]),
        ],
      ]),
    );
    const written = resumeFrames(plans).map((f) => (JSON.parse(f) as unknown[]).slice(1, 3).join(":"));
    assert.equal(written.length, 4, "every copy written once");
    assert.deepEqual(new Set(written), new Set(["room:a:1", "room:a:2", "room:b:1", "room:b:2"]));
    assert.deepEqual(
      written.filter((f) => f.startsWith("room:a")),
      ["room:a:1", "room:a:2"],
      "a's order",
    );
  });

  it("has a session-wide `expired` gap without a stream", () => {
    assert.deepEqual(SESSION_EXPIRED, { reason: "expired" });
  });
});

describe("admitLive", () => {
  it("delivers the next seq, drops replayed ones, and spots holes and new epochs", () => {
    const pos = { seq: 5, epoch: "e" };
    assert.equal(admitLive(pos, 6, "e"), "deliver");
    assert.equal(admitLive(pos, 5, "e"), "duplicate");
    assert.equal(admitLive(pos, 3, "e"), "duplicate");
    assert.equal(admitLive(pos, 8, "e"), "hole");
    assert.equal(admitLive(pos, 1, "f"), "reset");
  });
});
