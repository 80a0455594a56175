import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { admitLive, type Gap, planResume, planStream, type StreamPlan } from "../src/resume/gap-plan.js";
import type { StreamPosition } from "../src/resume/history-log.js";
import { MemoryHistory } from "../src/resume/memory-history.js";

/**
 * A client of three streams goes offline and comes back at random while messages are appended,
 * time passes (history expires), the count bound trims, and the whole store is emptied (every
 * epoch resets). After each resume or self-heal the client's view is checked against an oracle
 * that knows every message ever appended.
 */
const STREAMS = ["room:a", "room:b", "inbox:s"] as const;

type Op =
  | { type: "append"; stream: number }
  | { type: "burst"; stream: number; count: number }
  | { type: "offline" }
  | { type: "resume"; maxReplay: number }
  | { type: "tick"; ms: number }
  | { type: "sweep" }
  | { type: "empty" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant("append" as const), stream: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("burst" as const), stream: fc.nat(2), count: fc.integer({ min: 2, max: 20 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("offline" as const) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("resume" as const), maxReplay: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("sweep" as const) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("empty" as const) }) },
);

interface Sent {
  stream: string;
  seq: number;
  epoch: string;
  body: string;
  at: number;
}

/** A gap as the client saw it, and for a reset, up to which seq of the new epoch it also covers. */
interface SeenGap {
  gap: Gap;
  resetThrough: number;
}

function run(size: number, ttl: number, ops: Op[]): void {
  const clock = { now: 0 };
  const log = new MemoryHistory({ size, ttl, now: () => clock.now });
  const sent: Sent[] = [];
  const byBody = new Map<string, Sent>();
  const received = new Set<string>();
  const gaps = new Map<string, SeenGap[]>(STREAMS.map((s) => [s, []]));
  const positions = new Map<string, StreamPosition>(STREAMS.map((s) => [s, log.position(s)]));
  let online = true;
  let counter = 0;

  const receive = (stream: string, seq: number, epoch: string, body: string) => {
    const message = byBody.get(body);
    assert.ok(message, "only appended messages arrive");
    // Never a replay across epochs: the frame's numbers are those the message was appended with.
    assert.deepEqual(
      [message.stream, message.seq, message.epoch],
      [stream, seq, epoch],
      "a message arrives with its own stream, seq and epoch",
    );
    assert.ok(!received.has(body), `exactly once: ${body}`);
    received.add(body);
  };

  /** Checks a plan's gap reason against what the oracle knows, then applies the plan. */
  const apply = (plan: StreamPlan, budgetSpent: boolean) => {
    const gap = plan.gap;
    if (gap !== undefined) {
      if (gap.reason !== "reset") {
        const lost = sent.filter((m) => m.stream === plan.stream && m.epoch === gap.epoch && m.seq >= gap.from! && m.seq <= gap.to!);
        assert.equal(lost.length, gap.to! - gap.from! + 1, "a counted gap names seqs that were appended");
        const top = plan.position.seq;
        const trimmed = lost.some((m) => m.seq <= top - size);
        const expired = lost.some((m) => m.at <= clock.now - ttl);
        const kept = lost.every((m) => m.seq > top - size && m.at > clock.now - ttl);
        if (gap.reason === "trimmed") assert.ok(trimmed, "trimmed: the count bound dropped some of it");
        if (gap.reason === "expired") assert.ok(expired, "expired: some of it was older than ttl");
        if (gap.reason === "too many") assert.ok(kept, "too many: history still held all of it");
      } else {
        assert.notEqual(gap.epoch, positions.get(plan.stream)!.epoch, "reset: the epoch did change");
        // What the new epoch still holds is replayed, unless the budget ran out first.
        const skipped = sent.filter(
          (m) => m.stream === plan.stream && m.epoch === gap.epoch && m.seq < (plan.entries[0]?.seq ?? plan.position.seq + 1),
        );
        const held = skipped.filter((m) => m.seq > plan.position.seq - size && m.at > clock.now - ttl);
        assert.ok(held.length === 0 || budgetSpent, "reset: everything the new epoch holds is replayed");
      }
      const firstReplayed = plan.entries[0]?.seq ?? plan.position.seq + 1;
      gaps.get(plan.stream)!.push({ gap, resetThrough: firstReplayed - 1 });
    }
    let last = 0;
    for (const e of plan.entries) {
      assert.ok(e.seq > last, "replay in order");
      last = e.seq;
      receive(plan.stream, e.seq, plan.position.epoch, e.body);
    }
    positions.set(plan.stream, plan.position);
  };

  const resume = (maxReplay: number) => {
    const windows = new Map(STREAMS.map((s) => [s, log.read(s, positions.get(s), size)]));
    const plans = planResume([...positions], windows, maxReplay);
    const spent = plans.reduce((n, plan) => n + plan.entries.length, 0);
    assert.ok(spent <= maxReplay, `at most ${maxReplay} replayed, not ${spent}`);
    for (const plan of plans) apply(plan, spent === maxReplay);
    online = true;
  };

  const append = (s: number) => {
    const stream = STREAMS[s]!;
    const body = `m${++counter}`;
    const { seq, epoch } = log.append(stream, body);
    const message = { stream, seq, epoch, body, at: clock.now };
    sent.push(message);
    byBody.set(body, message);
    if (!online) return;
    const pos = positions.get(stream)!;
    const verdict = admitLive(pos, seq, epoch);
    if (verdict === "deliver") {
      receive(stream, seq, epoch, body);
      positions.set(stream, { seq, epoch });
    } else {
      // A live message that does not follow on: the node fills from history first (self-heal).
      assert.equal(verdict, "reset", "with one node's memory history, only an emptied store breaks the sequence");
      const plan = planStream(stream, pos, log.read(stream, pos, size), 1_000);
      apply(plan, plan.entries.length === 1_000);
    }
  };

  for (const o of ops) {
    if (o.type === "append") append(o.stream);
    else if (o.type === "burst") for (let i = 0; i < o.count; i++) append(o.stream);
    else if (o.type === "offline") online = false;
    else if (o.type === "resume") resume(o.maxReplay);
    else if (o.type === "tick") clock.now += o.ms;
    else if (o.type === "sweep") log.sweep();
    else log.clear();
  }
  if (!online) resume(1_000);

  // Never a silent loss: every message was received, or a gap the client saw covers it.
  for (const m of sent) {
    if (received.has(m.body)) continue;
    const covered = gaps.get(m.stream)!.some(({ gap, resetThrough }) => {
      if (gap.reason === "reset") return gap.epoch !== m.epoch || m.seq <= resetThrough;
      return gap.epoch === m.epoch && m.seq >= gap.from! && m.seq <= gap.to!;
    });
    assert.ok(covered, `lost without a gap: ${JSON.stringify(m)}`);
  }
}

describe("resume gaps (property)", () => {
  it("announce every loss history cannot cover with the right reason, never replay twice or across epochs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 50, max: 800 }), fc.array(op, { maxLength: 80 }), (size, ttl, ops) =>
        run(size, ttl, ops),
      ),
      { numRuns: 2_000, interruptAfterTimeLimit: 15_000 },
    );
  });

  it("loses nothing and announces no gap when history covers every outage", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        // Size and ttl beyond anything the ops can produce, and no emptied store.
        const calm = ops.filter((o) => o.type !== "empty").map((o) => (o.type === "resume" ? { ...o, maxReplay: 100_000 } : o));
        const clock = { now: 0 };
        const log = new MemoryHistory({ size: 10_000, ttl: 10_000_000, now: () => clock.now });
        const pos = new Map<string, StreamPosition>(STREAMS.map((s) => [s, log.position(s)]));
        const expected = new Map<string, string[]>(STREAMS.map((s) => [s, []]));
        const got = new Map<string, string[]>(STREAMS.map((s) => [s, []]));
        let online = true;
        let n = 0;
        const resume = () => {
          const windows = new Map(STREAMS.map((s) => [s, log.read(s, pos.get(s), 10_000)]));
          for (const plan of planResume([...pos], windows, 100_000)) {
            assert.equal(plan.gap, undefined);
            for (const e of plan.entries) got.get(plan.stream)!.push(e.body);
            pos.set(plan.stream, plan.position);
          }
          online = true;
        };
        for (const o of calm) {
          if (o.type === "append" || o.type === "burst") {
            for (let i = 0; i < (o.type === "burst" ? o.count : 1); i++) {
              const stream = STREAMS[o.stream]!;
              const body = `m${++n}`;
              const p = log.append(stream, body);
              expected.get(stream)!.push(body);
              if (online) {
                got.get(stream)!.push(body);
                pos.set(stream, p);
              }
            }
          } else if (o.type === "offline") online = false;
          else if (o.type === "resume") resume();
          else if (o.type === "tick") clock.now += o.ms;
          else if (o.type === "sweep") log.sweep();
        }
        resume();
        assert.deepEqual(got, expected);
      }),
      { numRuns: 500, interruptAfterTimeLimit: 10_000 },
    );
  });
});
