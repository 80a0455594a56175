import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodePush } from "../src/protocol/index.js";
import { inboxStream, pushBody, pushFrame, roomStream } from "../src/resume/history-log.js";
import { MemoryHistory } from "../src/resume/memory-history.js";

/** A log on a clock the test moves by hand. */
function logAt(size: number, ttl: number) {
  const clock = { now: 1_000_000 };
  const log = new MemoryHistory({ size, ttl, now: () => clock.now });
  return { log, clock };
}

describe("push frames from stored bodies", () => {
  it("are byte for byte what encodePush writes, with and without data", () => {
    for (const [event, data] of [
      ["message", { text: "hi", n: [1, 2] }],
      ["ping", undefined],
      ["s", 'x"y\\z\u2028'],
      ["n", null],
    ] as const) {
      assert.equal(pushFrame('room:a"b', 42, pushBody(event, data)), encodePush('room:a"b', 42, event, data));
    }
  });

  it("name rooms and inboxes apart", () => {
    assert.equal(roomStream("lobby"), "room:lobby");
    assert.equal(inboxStream("s1"), "inbox:s1");
  });
});

describe("MemoryHistory", () => {
  it("numbers appends 1, 2, 3 per stream, with one epoch per stream", () => {
    const { log } = logAt(10, 60_000);
    const a1 = log.append("a", "1");
    const a2 = log.append("a", "2");
    const b1 = log.append("b", "1");
    assert.deepEqual([a1.seq, a2.seq, b1.seq], [1, 2, 1]);
    assert.equal(a1.epoch, a2.epoch);
    assert.notEqual(a1.epoch, b1.epoch);
  });

  it("reads the entries after a position, oldest first", () => {
    const { log } = logAt(10, 60_000);
    let pos = log.position("a");
    assert.equal(pos.seq, 0);
    for (let i = 1; i <= 5; i++) pos = log.append("a", `m${i}`);
    const w = log.read("a", { seq: 2, epoch: pos.epoch }, 100);
    assert.deepEqual(
      w.entries.map((e) => [e.seq, e.body]),
      [
        [3, "m3"],
        [4, "m4"],
        [5, "m5"],
      ],
    );
    assert.equal(w.top, 5);
    assert.equal(w.first, 1);
  });

  it("keeps the newest `size` and says up to which seq it trimmed", () => {
    const { log } = logAt(3, 60_000);
    let pos = log.position("a");
    for (let i = 1; i <= 7; i++) pos = log.append("a", `m${i}`);
    const w = log.read("a", { seq: 0, epoch: pos.epoch }, 100);
    assert.deepEqual(
      w.entries.map((e) => e.seq),
      [5, 6, 7],
    );
    assert.equal(w.first, 5);
    assert.equal(w.trimmedThrough, 4);
    assert.equal(w.expiredThrough, 0);
  });

  it("expires entries older than ttl lazily, and says up to which seq", () => {
    const { log, clock } = logAt(10, 1_000);
    log.append("a", "old1");
    log.append("a", "old2");
    clock.now += 600;
    const pos = log.append("a", "new");
    clock.now += 500; // old ones are 1100 ms old, "new" 500 ms
    const w = log.read("a", { seq: 0, epoch: pos.epoch }, 100);
    assert.deepEqual(
      w.entries.map((e) => e.body),
      ["new"],
    );
    assert.equal(w.expiredThrough, 2);
    assert.equal(w.first, 3);
  });

  it("keeps an entry's except list with it (none for an empty list)", () => {
    const { log, clock } = logAt(2, 1_000);
    const p1 = log.append("a", "one", ["s1"]);
    log.append("a", "two", ["s1", "s2"]);
    log.append("a", "three", []); // an empty list is no list
    const w = log.read("a", { seq: 0, epoch: p1.epoch }, 100);
    assert.deepEqual(w.entries, [
      { seq: 2, body: "two", except: ["s1", "s2"] },
      { seq: 3, body: "three" },
    ]);
    clock.now += 5_000;
    log.sweep();
    const p4 = log.append("a", "four");
    const later = log.read("a", { seq: 0, epoch: p1.epoch }, 100);
    assert.deepEqual(later.entries, [{ seq: p4.seq, body: "four" }], "a later entry carries no list of an earlier one");
  });

  it("keeps numbering after everything expired, and releases the entries", () => {
    const { log, clock } = logAt(10, 1_000);
    const p1 = log.append("a", "x");
    clock.now += 5_000;
    log.sweep();
    const w = log.read("a", p1, 100);
    assert.equal(w.entries.length, 0);
    assert.equal(w.top, 1);
    assert.equal(w.first, 2);
    const p2 = log.append("a", "y");
    assert.deepEqual(p2, { seq: 2, epoch: p1.epoch });
  });

  it("limits a read to the newest `limit` entries", () => {
    const { log } = logAt(100, 60_000);
    let pos = log.position("a");
    const start = pos;
    for (let i = 1; i <= 50; i++) pos = log.append("a", `m${i}`);
    assert.deepEqual(
      log.read("a", start, 3).entries.map((e) => e.seq),
      [48, 49, 50],
    );
  });

  it("reads a reader of another epoch from the start of the current one", () => {
    const { log } = logAt(10, 60_000);
    log.append("a", "m1");
    log.append("a", "m2");
    const w = log.read("a", { seq: 1, epoch: "other" }, 100);
    assert.deepEqual(
      w.entries.map((e) => e.seq),
      [1, 2],
    );
  });

  it("starts a new epoch after drop() and after clear()", () => {
    const { log } = logAt(10, 60_000);
    const p = log.append("a", "m1");
    log.drop("a");
    const q = log.append("a", "m1");
    assert.equal(q.seq, 1);
    assert.notEqual(q.epoch, p.epoch);
    log.clear();
    assert.equal(log.streams, 0);
    assert.notEqual(log.position("a").epoch, q.epoch);
  });

  it("keeps exactly the newest 100 of 200,000 appends to a stream of size 100", () => {
    const { log } = logAt(100, 60_000);
    for (let i = 0; i < 200_000; i++) log.append("a", "x");
    const w = log.read("a", undefined, 1_000);
    assert.equal(w.entries.length, 100);
    assert.equal(w.top, 200_000);
    assert.equal(w.trimmedThrough, 199_900);
  });
});
