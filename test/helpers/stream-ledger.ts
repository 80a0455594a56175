// What a failover test sent to each stream (a room with history, a session's inbox), checked at
// the end against what Redis kept and what each receiver got: every message is in history or was
// reported failed by its sender, history holds nothing twice and nothing that was not sent, and
// each receiver got the history's messages once, in seq order, or a gap naming the ones it did not.
import assert from "node:assert/strict";
import type { Push } from "./resume-peer.js";

/** One message sent: its number (unique in the test) and when it was sent (Date.now()). */
export interface Sent {
  readonly n: number;
  readonly at: number;
}

/** A stream's entries as Redis holds them at the end: seq -> the message number in its body. */
export interface HistoryRead {
  readonly epoch: string | null;
  readonly entries: readonly { seq: number; n: number }[];
}

/** A client that should have every message of the stream (it was in it from its first message on). */
export interface Receiver {
  readonly name: string;
  readonly pushes: readonly Push[];
  readonly gaps: readonly Record<string, unknown>[];
}

/** The failover's window: sends before `killedAt` were replicated, sends from `completedAt` on meet a healthy cluster. */
export interface FailoverWindow {
  readonly killedAt: number;
  readonly completedAt: number;
}

/** What one stream's check counted. */
export interface StreamCount {
  sent: number;
  /** Sent and not in history: each reported failed by its sender (a log line naming the stream). */
  counted: number;
  /** Sends of the stream its senders reported failed (at least `counted`; more when a failed send still landed in history). */
  reported: number;
  /** Deliveries, over all receivers (pushes). */
  delivered: number;
  /** History entries a receiver did not get but a gap of that stream named. */
  gapped: number;
}

/** Whether one of a stream's gaps tells its receiver of `seq`: a reset, or a range from..to holding it. */
function coveredByGap(gaps: readonly Record<string, unknown>[], seq: number): boolean {
  return gaps.some((g) => g.reason === "reset" || ((g.from as number) <= seq && seq <= (g.to as number)));
}

/**
 * The messages a test sent, per stream.
 * @example
 * const ledger = new StreamLedger(); ledger.sent("room:r0", 17);
 * ledger.check("room:r0", await historyOf("room:r0"), [peer], failures, window);
 */
export class StreamLedger {
  readonly #sent = new Map<string, Sent[]>();

  sent(stream: string, n: number): void {
    let list = this.#sent.get(stream);
    if (list === undefined) this.#sent.set(stream, (list = []));
    list.push({ n, at: Date.now() });
  }

  /** Messages sent to `stream` so far. */
  count(stream: string): number {
    return this.#sent.get(stream)?.length ?? 0;
  }

  /** Messages sent, over all streams, from `from` (inclusive) to `to` (exclusive), in ms since the epoch. */
  sentBetween(from: number, to: number): number {
    let count = 0;
    for (const list of this.#sent.values()) for (const s of list) if (s.at >= from && s.at < to) count++;
    return count;
  }

  /** How many of history's entries some receiver has neither got nor been told of by a gap (0: nothing left to wait for). */
  waiting(stream: string, history: HistoryRead, receivers: readonly Receiver[]): number {
    let left = 0;
    for (const r of receivers) {
      const received = new Set(r.pushes.filter((p) => p.stream === stream).map((p) => p.seq));
      const gaps = r.gaps.filter((g) => g.stream === stream);
      for (const { seq } of history.entries) {
        if (!received.has(seq) && !coveredByGap(gaps, seq)) left++;
      }
    }
    return left;
  }

  /**
   * Asserts the stream's guarantees (see the file's head); `failures` is how many sends of it the
   * senders reported failed. Returns what it counted.
   */
  check(stream: string, history: HistoryRead, receivers: readonly Receiver[], failures: number, window: FailoverWindow): StreamCount {
    const sent = this.#sent.get(stream) ?? [];
    const sentAt = new Map(sent.map((s) => [s.n, s.at]));
    const held = new Map(history.entries.map((e) => [e.n, e.seq]));
    assert.equal(held.size, history.entries.length, `${stream}: no message appended twice to history`);
    for (const { n } of history.entries) assert.ok(sentAt.has(n), `${stream}: history holds message ${n}, which was never sent to it`);
    const missing = sent.filter((s) => !held.has(s.n));
    for (const s of missing) {
      assert.ok(
        s.at >= window.killedAt && s.at < window.completedAt,
        `${stream}: message ${s.n}, sent ${s.at - window.killedAt} ms after the kill (the failover took ${window.completedAt - window.killedAt} ms), is not in history`,
      );
    }
    assert.ok(
      missing.length <= failures,
      `${stream}: ${missing.length} sent messages are not in history but their senders reported ${failures} failures: a silent loss`,
    );
    const count: StreamCount = { sent: sent.length, counted: missing.length, reported: failures, delivered: 0, gapped: 0 };
    const bySeq = new Map(history.entries.map((e) => [e.seq, e.n]));
    for (const r of receivers) {
      const got = r.pushes.filter((p) => p.stream === stream);
      const seqs = got.map((p) => p.seq);
      for (let i = 1; i < seqs.length; i++) {
        assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `${r.name}, ${stream}: seqs in order, each once (${seqs.join(",")})`);
      }
      for (const p of got) {
        const n = (p.data as { n: number }).n;
        assert.equal(n, bySeq.get(p.seq), `${r.name}, ${stream}: seq ${p.seq} carries the message history holds there`);
      }
      const received = new Set(seqs);
      const gaps = r.gaps.filter((g) => g.stream === stream);
      for (const g of gaps) assert.equal(typeof g.reason, "string", `${r.name}, ${stream}: a gap with a reason`);
      for (const { seq, n } of history.entries) {
        if (received.has(seq)) continue;
        assert.ok(coveredByGap(gaps, seq), `${r.name}, ${stream}: message ${n} (seq ${seq}) neither delivered nor covered by a gap`);
        assert.ok(
          (sentAt.get(n) ?? 0) < window.completedAt,
          `${r.name}, ${stream}: message ${n}, sent after the failover completed, only covered by a gap`,
        );
        count.gapped++;
      }
      count.delivered += got.length;
    }
    return count;
  }
}
