// The oracle's model of what a resumable server's history holds (test/helpers/resume-oracle.ts):
// every message with its stream, seq, epoch and fate (held, trimmed by the count bound, expired by
// age, or lost with its epoch), read back from Redis after every step, and the check of one resume's
// replay against it.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

export type Fate = "held" | "trimmed" | "expired" | "reset";
export interface Msg {
  id: number;
  stream: string;
  seq: number;
  epoch: string;
  fate: Fate;
}
export interface Stream {
  epoch: string | undefined;
  top: number;
  held: Msg[];
  all: Msg[];
  dropped: boolean;
}
export interface Pos {
  seq: number;
  epoch: string | undefined;
  /** Set by a gap reset: the first message of the new epoch that arrives says which of it the reset also covered. */
  afterReset?: boolean;
}
export interface SeenGap {
  stream?: string;
  reason: string;
  from?: number;
  to?: number;
  epoch?: string;
}
export interface Session {
  sid: string;
  streams: string[];
  startId: number;
  endId: number;
  alive: boolean;
  ended: boolean;
  pos: Map<string, Pos>;
  /** Messages a gap the client received covers (not expected any more). */
  covered: Set<number>;
}

/** Streams and messages as the server's history must have them, checked against Redis. */
export class HistoryModel {
  readonly streams = new Map<string, Stream>();
  readonly msgs = new Map<number, Msg>();
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  stream(name: string): Stream {
    let st = this.streams.get(name);
    if (st === undefined) this.streams.set(name, (st = { epoch: undefined, top: 0, held: [], all: [], dropped: false }));
    return st;
  }

  /** The messages of a stream a session should get: a room's from its join on, its whole inbox. */
  expected(s: Session, stream: string): Msg[] {
    const all = this.streams.get(stream)?.all ?? [];
    return stream.startsWith("inbox:") ? all : all.filter((m) => m.id > s.startId && m.id <= s.endId);
  }

  /** Waits until Redis numbered the stream up to `top`; gives its epoch and top. */
  async confirm(stream: string, top: number): Promise<[string, number]> {
    const key = `${this.#prefix}:hist:{${stream}}:meta`;
    const until = Date.now() + 5_000;
    for (;;) {
      const [e, s] = await this.#redis.hmget(key, "e", "s");
      if (e !== null && e !== undefined && Number(s) >= top) return [e, Number(s)];
      assert.ok(Date.now() < until, `${stream}: #${top} not appended within 5 s`);
      await sleep(2);
    }
  }

  /** Reads every stream's epoch and top back from Redis: nothing renumbered or reset behind the model's back. */
  async sync(): Promise<void> {
    const names = [...this.streams.keys()].filter((n) => !(this.streams.get(n) as Stream).dropped);
    const pipeline = this.#redis.pipeline();
    for (const n of names) pipeline.hmget(`${this.#prefix}:hist:{${n}}:meta`, "e", "s");
    const replies = (await pipeline.exec()) ?? [];
    names.forEach((n, i) => {
      const st = this.streams.get(n) as Stream;
      const [e, s] = (replies[i]?.[1] ?? [null, null]) as [string | null, string | null];
      if (e === null) {
        assert.equal(st.epoch, undefined, `${n}: its history vanished without an emptied store`);
        return;
      }
      if (st.epoch === undefined) st.epoch = e;
      assert.equal(e, st.epoch, `${n}: the epoch changed without an emptied store`);
      assert.equal(Number(s), st.top, `${n}: top as the oracle counts`);
    });
  }
}

/**
 * The replay of one resume against the model: per stream the newest held messages replayed once,
 * and exactly one gap for the rest, with the predicted range and reason; `min(maxReplay, held and
 * missed)` replayed in all. `before` is where the client stood, `missed` what it had not received.
 */
export function checkReplay(
  model: HistoryModel,
  who: string,
  s: Session,
  maxReplay: number,
  before: Map<string, Pos>,
  missed: Map<string, Msg[]>,
  replayed: Map<string, Msg[]>,
  gaps: Map<string, SeenGap[]>,
): void {
  let total = 0;
  let heldMissed = 0;
  for (const stream of s.streams) {
    const st = model.stream(stream);
    const pos = before.get(stream) as Pos;
    const lost = missed.get(stream) ?? [];
    const got = replayed.get(stream) ?? [];
    const held = lost.filter((m) => m.fate === "held");
    const where = `${who}, ${stream}, after ${JSON.stringify(pos)}`;
    total += got.length;
    heldMissed += held.length;
    assert.deepEqual(
      got.map((m) => m.id),
      held.slice(held.length - got.length).map((m) => m.id),
      `${where}: the newest held messages are replayed`,
    );
    const rest = lost.filter((m) => !got.includes(m));
    for (const m of rest) s.covered.add(m.id);
    const seen = gaps.get(stream) ?? [];
    if (pos.epoch !== undefined && pos.epoch !== st.epoch) {
      assert.deepEqual(seen, [{ stream, reason: "reset", epoch: st.epoch }], `${where}: the epoch changed: one gap reset`);
    } else if (rest.length === 0) {
      assert.deepEqual(seen, [], `${where}: nothing lost, no gap`);
    } else {
      for (const m of rest) assert.equal(m.epoch, st.epoch, `${where}: message ${m.id} of another epoch lost without gap reset`);
      const from = pos.seq + 1;
      const to = (got[0]?.seq ?? st.top + 1) - 1;
      assert.deepEqual(
        rest.map((m) => m.seq),
        Array.from({ length: to - from + 1 }, (_, i) => from + i),
        `${where}: the unreplayed ones are ${from}..${to}`,
      );
      // Precedence as the history reports it: any of them removed by age makes it expired.
      const reason = rest.some((m) => m.fate === "expired") ? "expired" : rest.some((m) => m.fate === "trimmed") ? "trimmed" : "too many";
      assert.deepEqual(seen, [{ stream, reason, from, to, epoch: st.epoch }], `${where}: one gap with the predicted reason`);
    }
  }
  assert.equal(total, Math.min(maxReplay, heldMissed), "a resume replays every held message it misses, up to the budget");
}
