// The driver and oracle of test/resume-property-redis.test.ts. It runs generated ops against a real
// server (through the callbacks it is given) and a real Redis, keeps what history must hold in a
// HistoryModel (resume-history-model.ts: every message's stream, seq, epoch and fate, read back
// from Redis after every op), reads every frame each client got, and checks each resume's replay
// and gaps and, at the end, that every message of every session was received once or covered.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { checkReplay, HistoryModel, type Msg, type Pos, type SeenGap, type Session } from "./resume-history-model.js";
import type { ResumePeer } from "./resume-peer.js";

/** One run's history bounds; `ageing` when the history ttl is short enough for waits to cross it. */
export interface Plan {
  size: number;
  historyTtl: number;
  ageing: boolean;
}

export type Op =
  | { t: "send"; room: number }
  | { t: "burst"; room: number; over: number }
  | { t: "dm"; client: number; over: number | undefined }
  | { t: "drop"; client: number }
  | { t: "dropMid"; client: number; room: number; over: number; k: number }
  | { t: "resume"; client: number }
  | { t: "age" }
  | { t: "expire" }
  | { t: "flush" }
  | { t: "evict" };

interface Client {
  index: number;
  peer: ResumePeer;
  rooms: string[];
  online: boolean;
  dropAt: number;
  session: Session;
  sessions: Session[];
  read: number;
  received: Set<number>;
}

export interface OracleOptions {
  plan: Plan;
  sessionTtl: number;
  maxReplay: number;
  redis: Redis;
  prefix: string;
  peer: (rooms: string[]) => ResumePeer;
  toRoom: (room: string, id: number) => void;
  toSession: (sid: string, id: number) => void;
}

/** Waits of this much beyond the history ttl age everything before them; phases stay shorter than PHASE_MAX. */
const AGE_MARGIN = 350;
const PHASE_MAX = 450;
const ROOMS = ["a", "b"];

export class Oracle {
  readonly counts = { resumes: 0, fresh: 0, gaps: new Map<string, number>() };
  /** Measured timings that came near an age or session boundary (the run is then discarded, not trusted). */
  readonly timingViolations: string[] = [];
  readonly #o: OracleOptions;
  readonly #m: HistoryModel;
  readonly #clients: Client[] = [];
  #ids = 0;
  #phaseStart = Date.now();

  constructor(options: OracleOptions) {
    this.#o = options;
    this.#m = new HistoryModel(options.redis, options.prefix);
  }

  async start(roomsOf: string[][]): Promise<void> {
    for (const [index, rooms] of roomsOf.entries()) {
      const peer = this.#o.peer(rooms);
      await peer.connect();
      const c: Client = {
        index,
        peer,
        rooms,
        online: true,
        dropAt: 0,
        session: undefined as never,
        sessions: [],
        read: 0,
        received: new Set(),
      };
      this.#clients.push(c);
      await this.#freshSession(c);
    }
    this.#phaseStart = Date.now();
  }

  async step(op: Op): Promise<void> {
    const { plan } = this.#o;
    if (plan.ageing && Date.now() - this.#phaseStart > PHASE_MAX) {
      await this.#autoResume(true);
      await this.#age();
    }
    await this.#autoResume(op.t === "age" || op.t === "expire");
    const c = "client" in op ? (this.#clients[op.client] as Client) : undefined;
    const count = (over: number) => Math.max(1, plan.size + over);
    if (op.t === "send") await this.#append(`room:${ROOMS[op.room]}`, 1);
    else if (op.t === "burst") await this.#append(`room:${ROOMS[op.room]}`, count(op.over));
    else if (op.t === "dm" && c !== undefined && (c.online || c.session.alive))
      await this.#append(`inbox:${c.session.sid}`, op.over === undefined ? 1 : count(op.over));
    else if (op.t === "drop" && c?.online) this.#drop(c);
    else if (op.t === "dropMid" && c !== undefined) {
      const room = `room:${c.rooms[op.room % c.rooms.length]}`;
      const n = count(op.over);
      await this.#append(room, n, c.online ? { client: c, k: op.k % n } : undefined);
    } else if (op.t === "resume" && c !== undefined && !c.online) await this.#resume(c);
    else if (op.t === "age") await this.#age();
    else if (op.t === "expire") await this.#expire();
    else if (op.t === "flush" || op.t === "evict") await this.#empty(op.t);
    await this.#settle();
  }

  /** Resumes every client still away, then checks that every message was received once or covered by a gap. */
  async finish(): Promise<void> {
    for (const c of this.#clients) if (!c.online) await this.#resume(c);
    await this.#settle();
    for (const c of this.#clients) {
      for (const s of c.sessions) {
        for (const stream of s.streams) {
          for (const m of this.#m.expected(s, stream)) {
            if (c.received.has(m.id) || s.covered.has(m.id) || s.ended) continue;
            assert.fail(`client ${c.index}: message ${m.id} (${stream} #${m.seq}) lost without a gap`);
          }
        }
      }
    }
  }

  close(): void {
    for (const c of this.#clients) c.peer.close();
  }

  // --- ops ---

  /** Appends n messages to a stream through the server, confirms them in Redis, waits for live delivery. */
  async #append(stream: string, n: number, dropMid?: { client: Client; k: number }): Promise<void> {
    const st = this.#m.stream(stream);
    const batch: Msg[] = [];
    for (let i = 0; i < n; i++) {
      const m: Msg = { id: ++this.#ids, stream, seq: ++st.top, epoch: "", fate: "held" };
      batch.push(m);
      this.#m.msgs.set(m.id, m);
      if (stream.startsWith("inbox:")) this.#o.toSession(stream.slice(6), m.id);
      else this.#o.toRoom(stream.slice(5), m.id);
    }
    if (dropMid !== undefined) {
      // Drop the client once it has k of the burst: the rest is in flight or not yet written.
      const ids = new Set(batch.map((m) => m.id));
      const peer = dropMid.client.peer;
      const until = Date.now() + 2_000;
      while (peer.pushes.filter((p) => ids.has((p.data as { id: number }).id)).length < dropMid.k && Date.now() < until) await sleep(1);
      this.#drop(dropMid.client);
    }
    const [epoch, top] = await this.#m.confirm(stream, st.top);
    assert.equal(top, st.top, `${stream}: numbered as the oracle counts`);
    if (st.epoch !== undefined) assert.equal(epoch, st.epoch, `${stream}: no new epoch without an emptied store`);
    st.epoch = epoch;
    for (const m of batch) {
      m.epoch = epoch;
      st.all.push(m);
      st.held.push(m);
      if (st.held.length > this.#o.plan.size) (st.held.shift() as Msg).fate = "trimmed";
    }
    if (stream.startsWith("inbox:")) {
      // A session's inbox begins with its first message: a client that heard nothing of it stands there.
      const s = this.#clients.find((c) => c.session.sid === stream.slice(6))?.session;
      const pos = s?.pos.get(stream);
      if (s !== undefined && pos?.epoch === undefined) s.pos.set(stream, { seq: (batch[0] as Msg).seq - 1, epoch });
    }
    const last = (batch.at(-1) as Msg).id;
    for (const c of this.#clients) {
      if (!c.online || !c.session.streams.includes(stream)) continue;
      const until = Date.now() + 3_000;
      while (!c.peer.pushes.some((p) => (p.data as { id: number }).id === last) && Date.now() < until) await sleep(2);
    }
  }

  #drop(c: Client): void {
    c.peer.drop();
    c.online = false;
    c.dropAt = Date.now();
  }

  async #age(): Promise<void> {
    if (!this.#o.plan.ageing) return;
    await sleep(this.#o.plan.historyTtl + AGE_MARGIN);
    this.#nextPhase();
  }

  #nextPhase(): void {
    for (const st of this.#m.streams.values()) {
      for (const m of st.held) m.fate = "expired";
      st.held = [];
    }
    this.#phaseStart = Date.now();
  }

  /** Waits past the session window of every client that is away, until Redis no longer has their sessions. */
  async #expire(): Promise<void> {
    const away = this.#clients.filter((c) => !c.online && c.session.alive);
    if (away.length === 0) return this.#age();
    const until = Math.max(...away.map((c) => c.dropAt + this.#o.sessionTtl + 150), Date.now() + this.#o.plan.historyTtl + AGE_MARGIN);
    await sleep(until - Date.now());
    for (const c of away) {
      const key = `${this.#o.prefix}:sess:{${c.session.sid}}`;
      const deadline = Date.now() + 5_000;
      while ((await this.#o.redis.exists(key)) === 1) {
        assert.ok(Date.now() < deadline, `session of client ${c.index} still in Redis 5 s after its window`);
        await sleep(20);
      }
      c.session.alive = false;
      this.#m.stream(`inbox:${c.session.sid}`).dropped = true; // the node that claimed it drops the inbox
    }
    if (this.#o.plan.ageing) this.#nextPhase();
  }

  /** FLUSHALL (history and sessions gone) or DEL of every history key (an eviction; sessions stay). */
  async #empty(how: "flush" | "evict"): Promise<void> {
    const redis = this.#o.redis;
    if (how === "flush") {
      await redis.flushall();
      for (const c of this.#clients) c.session.alive = false;
    } else {
      const keys = await redis.keys(`${this.#o.prefix}:hist:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    for (const st of this.#m.streams.values()) {
      for (const m of st.held) m.fate = "reset";
      st.held = [];
      st.epoch = undefined;
      st.top = 0;
    }
    // Traffic goes on: each room gets a message (its new epoch begins; online members hear of the reset).
    for (const room of ROOMS) await this.#append(`room:${room}`, 1);
  }

  async #autoResume(beforeWait: boolean): Promise<void> {
    // A client away long enough that the next op (a wait past the history ttl, or a short one)
    // could reach its session window resumes now, so a resume's outcome never depends on where it
    // lands near the window's end. (An expire op lets the window of every client away end.)
    const { plan, sessionTtl } = this.#o;
    const safe = sessionTtl - (beforeWait && plan.ageing ? plan.historyTtl + AGE_MARGIN : 0) - 800;
    for (const c of this.#clients) if (!c.online && c.session.alive && Date.now() - c.dropAt > safe) await this.#resume(c);
  }

  async #resume(c: Client): Promise<void> {
    this.#ingest(c);
    const s = c.session;
    const start = c.peer.frames.length;
    const away = Date.now() - c.dropAt;
    const missed = new Map(
      s.streams.map((stream) => [stream, this.#m.expected(s, stream).filter((m) => !c.received.has(m.id) && !s.covered.has(m.id))]),
    );
    const before = new Map(s.streams.map((stream) => [stream, { ...(s.pos.get(stream) as Pos) }]));
    await c.peer.connect();
    c.online = true;
    const frames = c.peer.frames.slice(start);
    const readyAt = frames.findIndex((f) => f[0] === 9 && (f[1] === "resumed" || f[1] === "welcome"));
    const ready = frames[readyAt] as unknown[];
    c.read = start + readyAt + 1;
    if (ready[1] === "welcome") {
      if (s.alive && away > this.#o.sessionTtl - 500) this.timingViolations.push(`resume after ${away} ms away`);
      else assert.ok(!s.alive, `client ${c.index}: session not resumed ${away} ms after the drop, within its window`);
      assert.deepEqual(frames.slice(0, readyAt), [[9, "gap", { reason: "expired" }]], "a session-wide gap expired first");
      s.alive = false;
      s.ended = true;
      s.endId = this.#ids;
      this.#count("session expired");
      this.counts.fresh++;
      await this.#freshSession(c);
      return;
    }
    assert.ok(s.alive, `client ${c.index}: resumed a session that expired or was flushed`);
    assert.equal((ready[2] as { sid: string }).sid, s.sid);
    if (away > this.#o.sessionTtl - 500) this.timingViolations.push(`resumed after ${away} ms away`);
    this.counts.resumes++;
    const replayed = new Map<string, Msg[]>();
    const gaps = new Map<string, SeenGap[]>();
    for (const f of frames.slice(0, readyAt)) {
      if (f[0] === 4) {
        const m = this.#push(c, f);
        replayed.set(m.stream, [...(replayed.get(m.stream) ?? []), m]);
      } else if (f[0] === 9 && f[1] === "gap") {
        const g = this.#gap(c, f[2] as SeenGap);
        assert.ok(
          g.stream !== undefined && s.streams.includes(g.stream),
          `a resume's gap names one of the session's streams: ${JSON.stringify(g)}`,
        );
        gaps.set(g.stream, [...(gaps.get(g.stream) ?? []), g]);
      }
    }
    await this.#m.sync();
    try {
      checkReplay(this.#m, `client ${c.index}`, s, this.#o.maxReplay, before, missed, replayed, gaps);
    } catch (error) {
      await sleep(200); // what arrived after the resumed frame helps to tell a late message from a lost one
      const tail = c.peer.frames.slice(start);
      const lost = [...missed].map(([k, v]) => [k, v.map((m) => [m.id, m.seq, m.fate])]);
      (error as Error).message +=
        `\n  before: ${JSON.stringify([...before])}\n  missed: ${JSON.stringify(lost)}\n  frames: ${JSON.stringify(tail)}`;
      throw error;
    }
    const positions = (ready[2] as { positions: Record<string, [number, string]> }).positions;
    for (const stream of s.streams) {
      const st = this.#m.stream(stream);
      assert.deepEqual(positions[stream], [st.top, st.epoch], `resumed: client ${c.index} stands at the top of ${stream}`);
      s.pos.set(stream, { seq: st.top, epoch: st.epoch });
    }
  }

  async #freshSession(c: Client): Promise<void> {
    const sid = c.peer.sid as string;
    const streams = [...c.rooms.map((r) => `room:${r}`), `inbox:${sid}`];
    for (const stream of streams) this.#m.stream(stream);
    await this.#m.sync();
    const pos = new Map<string, Pos>(streams.map((s) => [s, { seq: this.#m.stream(s).top, epoch: this.#m.stream(s).epoch }]));
    const session: Session = {
      sid,
      streams,
      startId: this.#ids,
      endId: Number.POSITIVE_INFINITY,
      alive: true,
      ended: false,
      pos,
      covered: new Set(),
    };
    c.session = session;
    c.sessions.push(session);
    c.read = c.peer.frames.length;
  }

  // --- frames ---

  async #settle(): Promise<void> {
    await sleep(5);
    for (const c of this.#clients) if (c.online) this.#ingest(c);
    await this.#m.sync();
    if (this.#o.plan.ageing && Date.now() - this.#phaseStart > this.#o.plan.historyTtl - 250)
      this.timingViolations.push(`a phase lasted ${Date.now() - this.#phaseStart} ms`);
  }

  /** Live frames: pushes, and gaps a room's member gets when the node found the room's epoch changed. */
  #ingest(c: Client): void {
    const frames = c.peer.frames;
    for (; c.read < frames.length; c.read++) {
      const f = frames[c.read] as unknown[];
      if (f[0] === 4) this.#push(c, f);
      else if (f[0] === 9 && f[1] === "gap") {
        const g = this.#gap(c, f[2] as SeenGap);
        const st = this.#m.stream(g.stream as string);
        assert.equal(g.reason, "reset", `client ${c.index}: a live gap on one node is only a new epoch: ${JSON.stringify(g)}`);
        assert.equal(g.epoch, st.epoch, "the live gap names the stream's current epoch");
      }
    }
  }

  #push(c: Client, f: unknown[]): Msg {
    const [, stream, seq, , data] = f as [4, string, number, string, { id: number }];
    const m = this.#m.msgs.get(data.id);
    assert.ok(m !== undefined && m.epoch !== "", `client ${c.index}: an unknown message ${JSON.stringify(f)}`);
    assert.deepEqual([m.stream, m.seq], [stream, seq], "a message arrives with its own stream and seq");
    assert.ok(!c.received.has(m.id), `client ${c.index}: message ${m.id} (${stream} #${seq}) arrived twice`);
    const s = c.session;
    assert.ok(this.#m.expected(s, stream).includes(m), `client ${c.index}: message ${m.id} is not of its session`);
    const pos = s.pos.get(stream) as Pos;
    if (pos.afterReset === true) {
      for (const o of this.#m.expected(s, stream)) if (o.epoch === m.epoch && o.seq < m.seq && !c.received.has(o.id)) s.covered.add(o.id);
    }
    if (pos.epoch !== undefined) {
      assert.equal(m.epoch, pos.epoch, `client ${c.index}: ${stream} changed epoch without a gap reset`);
      assert.ok(m.seq > pos.seq, `client ${c.index}: ${stream} #${m.seq} after #${pos.seq}: in order`);
    }
    s.pos.set(stream, { seq: m.seq, epoch: m.epoch });
    c.received.add(m.id);
    return m;
  }

  #gap(c: Client, g: SeenGap): SeenGap {
    this.#count(g.reason);
    assert.ok(g.stream !== undefined, `client ${c.index}: a session-wide gap outside a reconnect`);
    if (g.reason === "reset") {
      const s = c.session;
      const pos = s.pos.get(g.stream) as Pos;
      assert.notEqual(pos.epoch, g.epoch, "a gap reset names a new epoch");
      s.pos.set(g.stream, { seq: 0, epoch: g.epoch, afterReset: true });
      // What the client had not received of older epochs is covered by it.
      for (const m of this.#m.expected(s, g.stream)) if (m.epoch !== g.epoch && !c.received.has(m.id)) s.covered.add(m.id);
    }
    return g;
  }

  #count(reason: string): void {
    this.counts.gaps.set(reason, (this.counts.gaps.get(reason) ?? 0) + 1);
  }
}
