import { performance } from "node:perf_hooks";
import { Samples } from "./stats.js";
import {
  type Conn,
  dataOffset,
  type Endpoint,
  messageFrame,
  type OnMessage,
  open,
  type Protocol,
  pathFor,
  requestFrame,
  sourceAddress,
} from "./wire.js";

/**
 * The load generator: a child process of the runner that drives one scenario against one server
 * with the light client of wire.ts. It tells the runner when its measuring window starts and ends
 * ("mark"), so the runner can read the server's CPU time and memory at those moments, and ends by
 * sending its own counts, latencies and CPU time.
 */

/** The scenarios of every run, in the order the runner plays them. */
export const SCENARIOS = ["echo", "rpc", "broadcastTick", "broadcastSaturate", "idle", "handshakes"] as const;
/** Scenarios played only when asked for (`--scale`): idle connections at the descriptor limit. */
export const SCALE_SCENARIOS = ["idleScale"] as const;
export type ScenarioName = (typeof SCENARIOS)[number] | (typeof SCALE_SCENARIOS)[number];

/** What the runner asks for. Durations are in milliseconds. */
export interface Job {
  readonly type: "run";
  readonly scenario: ScenarioName;
  readonly protocol: Protocol;
  /** What handshakes open (see run.ts' ServerSpec): tsws.v1 on /rpc, for "resume" usable once the welcome frame arrived. */
  readonly handshake?: "rpc" | "resume";
  readonly port: number;
  readonly params: Partial<Params>;
  /** This generator's share when several drive one job: it opens connections index, index + of, … */
  readonly part: { readonly index: number; readonly of: number };
}

/** Every scenario's parameters; each scenario reads its own. Durations in milliseconds. */
export interface Params {
  readonly connections: number;
  readonly inFlight: number;
  readonly size: number;
  readonly warmup: number;
  readonly duration: number;
  readonly interval: number;
  readonly window: number;
  readonly settle: number;
  readonly openers: number;
  /** Load-generator processes for the job (only idle scenarios split; see run.ts). */
  readonly generators: number;
}

/** The names of the raw figures scenarios report. */
export type ResultKey =
  | "messages"
  | "seconds"
  | "p50"
  | "p99"
  | "clientCpu"
  | "received"
  | "expected"
  | "stalls"
  | "connections"
  | "opened"
  | "errors";
/** Raw figures a scenario reports; the runner derives rates and per-message costs from them. */
export type LoadResult = Partial<Record<ResultKey, number>>;

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const cpuMicros = () => {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
};

let marked: (() => void) | undefined;
/** Asks the runner to read the server's stats now; resolves once it has. */
function mark(name: string): Promise<void> {
  process.send?.({ type: "mark", name });
  return new Promise((resolve) => {
    marked = resolve;
  });
}

/** Opens `n` connections, `concurrency` at a time, spread over several loopback source addresses. */
async function openAll(
  n: number,
  job: Job,
  endpoint: Endpoint,
  onMessage: OnMessage,
  concurrency = 200,
  sourceOffset = 0,
): Promise<Conn[]> {
  const conns: Conn[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const conn = open({
        port: job.port,
        path: pathFor(job.protocol, endpoint),
        protocol: job.protocol,
        localAddress: sourceAddress(i + sourceOffset),
        // The message layer is negotiated; raw ws servers take the first offered subprotocol.
        subprotocols: endpoint === "rpc" && job.protocol === "ws" ? ["tsws.v1"] : undefined,
        onMessage,
      });
      conns[i] = conn;
      await conn.ready;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return conns;
}

/** A measuring window: elapsed time and this process's CPU time between start() and stop(). */
class Window {
  #t0 = 0;
  #c0 = 0;
  seconds = 0;
  clientCpu = 0;
  start(): void {
    this.#t0 = now();
    this.#c0 = cpuMicros();
  }
  stop(): void {
    this.seconds = (now() - this.#t0) / 1000;
    this.clientCpu = cpuMicros() - this.#c0;
  }
}

/**
 * Echo: every connection keeps `inFlight` messages outstanding; replies come back in order.
 * Request/reply ("rpc") is the same loop with requests: `{"text":"x…"}` of `size` bytes as the
 * data of a request ("echo"), each in-flight slot with its own id (10, 11, …: all of one length,
 * so the frames are pre-built), answered by a reply carrying the same data (raw ws echoes the
 * request frame itself: the baseline without a protocol).
 */
async function echo(job: Job): Promise<LoadResult> {
  const { connections, inFlight, size, warmup, duration } = job.params as Params;
  const rpc = job.scenario === "rpc";
  if (rpc && inFlight > 90) throw new Error("rpc: at most 90 requests in flight (two-digit ids)");
  const data = { text: "x".repeat(Math.max(0, size - '{"text":""}'.length)) };
  const slots = Array.from({ length: inFlight }, (_, i) =>
    rpc ? requestFrame(job.protocol, 10 + i, data) : messageFrame(job.protocol, "e", "x".repeat(size)),
  );
  const frameLength = (slots[0] as Buffer).length;
  // Twice round the slots: a write of n frames from slot `head` is one slice.
  const burst = Buffer.concat([...slots, ...slots]);
  const rtt = new Samples();
  let measuring = false;
  let count = 0;
  const owed = new Map<Conn, number>();
  // Replies that arrive in one chunk are answered with one write, after the chunk.
  const flush = () => {
    const t = now();
    for (const [conn, n] of owed) {
      const times = conn.times as Float64Array;
      const from = conn.head;
      for (let i = 0; i < n; i++) {
        times[conn.head] = t;
        conn.head = (conn.head + 1) % inFlight;
      }
      conn.write(burst.subarray(from * frameLength, (from + n) * frameLength));
    }
    owed.clear();
  };
  const onMessage: OnMessage = (conn, _buf, _start, _end, at) => {
    const sent = (conn.times as Float64Array)[conn.tail] as number;
    conn.tail = (conn.tail + 1) % inFlight;
    if (measuring) {
      count++;
      rtt.add(at - sent);
    }
    const n = owed.get(conn);
    if (n === undefined && owed.size === 0) queueMicrotask(flush);
    owed.set(conn, (n ?? 0) + 1);
  };
  const conns = await openAll(connections, job, rpc ? "rpc" : "echo", onMessage);
  for (const conn of conns) {
    conn.times = new Float64Array(inFlight);
    owed.set(conn, inFlight);
  }
  flush();
  await sleep(warmup);
  const window = new Window();
  measuring = true;
  window.start();
  await mark("start");
  await sleep(duration);
  measuring = false;
  window.stop();
  await mark("end");
  for (const conn of conns) conn.tcp.destroy();
  const [p50, p99] = rtt.percentiles(50, 99);
  return { messages: count, seconds: window.seconds, p50: p50 as number, p99: p99 as number, clientCpu: window.clientCpu };
}

/** The sequence number a broadcast payload starts with. */
function seqAt(buf: Buffer, at: number): number {
  let seq = 0;
  for (let c = buf[at] as number; c >= 0x30 && c <= 0x39; c = buf[++at] as number) seq = seq * 10 + c - 0x30;
  return seq;
}

const payload = (seq: number, size: number) => String(seq).padStart(10, "0").padEnd(size, "x");

/**
 * Broadcast: one connection sends, the server relays to the room (all connections, sender
 * included). Ticking mode sends every `interval` ms; saturating mode (interval 0) keeps `window`
 * broadcasts outstanding, sending the next as soon as one has reached every receiver.
 */
async function broadcast(job: Job): Promise<LoadResult> {
  const { connections, interval, window: outstandingMax, size, warmup, duration } = job.params as Params;
  const offset = dataOffset(job.protocol, "b");
  const ring = 1 << 12;
  const sentAt = new Float64Array(ring);
  const counts = new Int32Array(ring);
  const latency = new Samples();
  let seq = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.POSITIVE_INFINITY;
  let received = 0;
  let outstanding = 0;
  let progress = 0;
  let stalls = 0;
  let scheduled = false;
  let sender: Conn | undefined;
  const send = (n: number) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      seq++;
      counts[seq % ring] = 0;
      sentAt[seq % ring] = now();
      frames.push(messageFrame(job.protocol, "b", payload(seq, size)));
    }
    outstanding += n;
    sender?.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
  };
  const topUp = () => {
    scheduled = false;
    if (outstanding < outstandingMax) send(outstandingMax - outstanding);
  };
  const onMessage: OnMessage = (_conn, buf, start, _end, at) => {
    const s = seqAt(buf, start + offset);
    progress++;
    if (s >= first && s <= last) {
      received++;
      latency.add(at - (sentAt[s % ring] as number));
    }
    if (interval === 0 && ++(counts[s % ring] as number) === connections) {
      counts[s % ring] = connections;
      outstanding--;
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(topUp);
      }
    }
  };
  const conns = await openAll(connections, job, "room", onMessage);
  sender = conns[0];
  await sleep(300); // joins happen in onConnect, just after the handshake
  let timer: NodeJS.Timeout;
  if (interval > 0) {
    timer = setInterval(() => send(1), interval);
  } else {
    // A lost delivery must not stop the pump: after a pause without progress, start afresh.
    let seen = 0;
    timer = setInterval(() => {
      if (progress === seen && outstanding > 0) {
        stalls++;
        outstanding = 0;
        topUp();
      }
      seen = progress;
    }, 1000);
    topUp();
  }
  await sleep(warmup);
  const window = new Window();
  first = seq + 1;
  window.start();
  await mark("start");
  await sleep(duration);
  last = seq;
  window.stop();
  await mark("end");
  clearInterval(timer);
  const expected = Math.max(0, last - first + 1) * connections;
  // Let the tail of the window arrive (ticking mode expects every delivery).
  for (let waited = 0; waited < 2000 && received < expected && interval > 0; waited += 20) await sleep(20);
  for (const conn of conns) conn.tcp.destroy();
  const [p50, p99] = latency.percentiles(50, 99);
  return { received, expected, seconds: window.seconds, p50: p50 as number, p99: p99 as number, clientCpu: window.clientCpu, stalls };
}

/**
 * Idle: open many connections, let them settle, and let the runner read the server's memory. With
 * several generators each opens its share (one process cannot hold more sockets than its
 * descriptor limit). The window (CPU, seconds) covers opening and settling.
 */
async function idle(job: Job): Promise<LoadResult> {
  const { connections, settle } = job.params as Params;
  const { index, of } = job.part;
  const mine = Math.floor(connections / of) + (index < connections % of ? 1 : 0);
  await mark("baseline");
  const window = new Window();
  window.start();
  const conns = await openAll(mine, job, "echo", () => {}, 256, index);
  await sleep(settle);
  window.stop();
  await mark("loaded");
  for (const conn of conns) conn.tcp.destroy();
  return { connections: conns.length, seconds: window.seconds, clientCpu: window.clientCpu };
}

/** Handshakes: `openers` loops of open, wait until usable, close, wait until closed. */
async function handshakes(job: Job): Promise<LoadResult> {
  const { openers, warmup, duration } = job.params as Params;
  const latency = new Samples();
  let running = true;
  let measuring = false;
  let count = 0;
  let errors = 0;
  // A resumable session is usable once its welcome frame (id and token) arrived, not at the 101.
  const path = job.handshake === undefined ? pathFor(job.protocol, "echo") : "/rpc";
  const subprotocols = job.handshake === undefined ? undefined : ["tsws.v1"];
  const resumable = job.handshake === "resume";
  const ignore = () => {};
  const loop = async (i: number) => {
    for (let k = 0; running; k++) {
      const t = now();
      // Only a resumable handshake waits for a first frame: the others cost the generator nothing more.
      let welcomed: () => void = () => {};
      const welcome = resumable ? new Promise<void>((resolve) => (welcomed = resolve)) : undefined;
      const onMessage = resumable ? () => welcomed() : ignore;
      const conn = open({ port: job.port, path, protocol: job.protocol, subprotocols, localAddress: sourceAddress(i + k * 50), onMessage });
      const closed = new Promise((resolve) => conn.tcp.once("close", resolve));
      try {
        await conn.ready;
        // A connection closed before its welcome counts as an error instead of holding the loop for ever.
        if (welcome !== undefined && !(await Promise.race([welcome.then(() => true), closed.then(() => false)]))) {
          throw new Error("closed before the welcome");
        }
        if (measuring) {
          count++;
          latency.add(now() - t);
        }
        conn.close();
      } catch {
        errors++;
        conn.tcp.destroy();
      }
      await closed;
    }
  };
  const loops = Array.from({ length: openers }, (_, i) => loop(i));
  await sleep(warmup);
  const window = new Window();
  measuring = true;
  window.start();
  await mark("start");
  await sleep(duration);
  measuring = false;
  window.stop();
  await mark("end");
  running = false;
  await Promise.all(loops);
  const [p50, p99] = latency.percentiles(50, 99);
  return { opened: count, seconds: window.seconds, p50: p50 as number, p99: p99 as number, clientCpu: window.clientCpu, errors };
}

const scenarios: Record<ScenarioName, (job: Job) => Promise<LoadResult>> = {
  echo,
  rpc: echo,
  broadcastTick: broadcast,
  broadcastSaturate: broadcast,
  idle,
  idleScale: idle,
  handshakes,
};

process.on("message", (msg: Job | { type: "marked" }) => {
  if (msg.type === "marked") {
    marked?.();
    return;
  }
  scenarios[msg.scenario](msg).then(
    (result) => process.send?.({ type: "result", result }, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
