import type { Redis } from "ioredis";
import { clients, type Impl, machineCpu, type Node, protocolOf, readCpu, sleep, withNodes } from "./cross-node-nodes.js";
import { Samples } from "./stats.js";
import { type Conn, dataOffset, messageFrame } from "./wire.js";

/**
 * The fan-out scenario of the cross-node benchmark: 2 nodes A and B, `perNode` clients on each in
 * one room, one more client on A (not a member) sends broadcasts to it; every broadcast reaches
 * 2 × perNode members, half of them through Redis. Three phases on the same nodes, the same for
 * every implementation:
 *
 * 1. paced: a fixed rate of broadcasts (`pacedPerSecond`, well below every implementation's
 *    capacity), for latency (send to receipt, on A: local, on B: cross-node) and CPU per delivery
 *    at equal load;
 * 2. window search: a window of broadcasts kept outstanding (the next leaves when one has reached
 *    every member), doubled from 8 (`stepMs` each) until two doublings in a row raise the best
 *    delivery rate by less than 5 %, up to `maxWindow`, and no further once a window's mean
 *    queueing time reaches `maxQueueMs`. A window caps the rate near window × members / round
 *    trip, so a fixed window measures itself as much as the servers; the search stops where the
 *    servers (or the machine) are the limit;
 * 3. saturated: `measureMs` at the window of the best rate in the search: deliveries/s, CPU per
 *    delivery, and the CPU shares of servers + Redis, of the generator (this process: the sender
 *    and all receiving clients) and of the whole machine, so that a reader sees what was saturated.
 *
 * Latency under saturation is queueing, whose mean is window × members / rate (Little's law): it is
 * reported as that, apart from the paced latency, and not compared. Before the paced phase, 1 s
 * with nothing sent gives the servers' idle CPU share (the base the paced figures stand on).
 */

export interface FanoutOptions {
  readonly perNode: number;
  readonly warmupMs: number;
  readonly pacedPerSecond: number;
  readonly pacedMs: number;
  readonly stepMs: number;
  readonly maxWindow: number;
  /** The search doubles no further once the mean queueing time (window × members / rate) reaches this, ms. */
  readonly maxQueueMs: number;
  readonly measureMs: number;
}

/** What one measured phase cost. Shares are in % of one core, machine busy in % of all cores. */
export interface Phase {
  readonly deliveries: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly cpuPerDelivery: number;
  readonly redisPerDelivery: number;
  readonly serverShare: number;
  readonly generatorShare: number;
  readonly machineBusy: number;
}

export interface PacedPhase extends Phase {
  readonly localP50: number;
  readonly localP99: number;
  readonly crossP50: number;
  readonly crossP99: number;
}

/** One window of the search, measured as a phase. */
export interface Step extends Phase {
  readonly window: number;
}

export interface FanoutResult {
  readonly paced: PacedPhase;
  /** Delivery rate at each window tried, in order. */
  readonly steps: readonly Step[];
  /** The window measured: the one of the best rate in the search. */
  readonly window: number;
  /** False when the search stopped (at `maxWindow` or `maxQueueMs`) with the rate still rising by 5 % a doubling. */
  readonly plateau: boolean;
  /** CPU share of servers + Redis with every client connected and nothing sent, % of one core. */
  readonly idleServerShare: number;
  /** `queueMs`: the mean time a delivery waits (Little's law: window × members / rate), ms. */
  readonly saturated: Phase & { readonly queueMs: number };
}

const FIRST_WINDOW = 8;
const GAIN = 1.05;

export function fanout(impl: Impl, options: FanoutOptions): Promise<FanoutResult> {
  return withNodes(impl, 2, async ([a, b], redis) => {
    if (a === undefined || b === undefined) throw new Error("two nodes expected");
    const protocol = protocolOf(impl);
    const offset = dataOffset(protocol, "b");
    const run = new Broadcasts(2 * options.perNode);
    await clients(a, impl, "room", true, options.perNode, run.receiver("local"));
    await clients(b, impl, "room", true, options.perNode, run.receiver("cross"));
    const [sender] = await clients(a, impl, "room", false, 1, () => {});
    if (sender === undefined) throw new Error("no sender");
    const pad = "x".repeat(48);
    run.write = (seq) => sender.write(messageFrame(protocol, "b", `${seq}|${pad}`));
    run.offset = offset;
    await sleep(300); // subscriptions settle

    run.window = FIRST_WINDOW;
    await sleep(options.warmupMs);
    await run.drain();
    const idle = await measure([a, b], redis, run, 1000);

    const stopPacing = run.pace(options.pacedPerSecond);
    await sleep(300);
    const latency = run.record();
    const paced = await measure([a, b], redis, run, options.pacedMs);
    const [localP50 = Number.NaN, localP99 = Number.NaN] = latency.local.percentiles(50, 99);
    const [crossP50 = Number.NaN, crossP99 = Number.NaN] = latency.cross.percentiles(50, 99);
    stopPacing();
    await run.drain();

    const steps: Step[] = [];
    const rateAt = async (window: number) => {
      run.window = window;
      // The window fills at once, in a burst that the nodes batch better than the steady state
      // that follows: the rate is read after it.
      await sleep(Math.min(700, options.stepMs));
      const step = { window, ...(await measure([a, b], redis, run, options.stepMs)) };
      steps.push(step);
      return step.perSecond;
    };
    // Noise on a shared machine can make one doubling look flat (or look like a gain): the search
    // stops after two doublings in a row that beat the best rate by less than 5 %, and measures at
    // the window of the best rate. A queue of `maxQueueMs` is saturation by any measure: doubling
    // stops there too, which bounds the time and memory a slow implementation's backlog takes.
    let window = FIRST_WINDOW;
    let best = { window, perSecond: await rateAt(window) };
    let last = best.perSecond;
    let flat = 0;
    const queueMs = (w: number, perSecond: number) => (1000 * w * 2 * options.perNode) / perSecond;
    while (flat < 2 && window * 2 <= options.maxWindow && queueMs(window, last) < options.maxQueueMs) {
      window *= 2;
      const perSecond = await rateAt(window);
      last = perSecond;
      if (perSecond >= best.perSecond * GAIN) flat = 0;
      else flat++;
      if (perSecond > best.perSecond) best = { window, perSecond };
    }
    const plateau = flat > 0;
    if (best.window < window) {
      await run.drain(); // the broadcasts beyond the best window would otherwise delay the measurement
      run.window = best.window;
      await sleep(500);
    }
    const saturated = await measure([a, b], redis, run, options.measureMs);
    run.window = 0; // stop: the outstanding broadcasts drain as the nodes stop
    return {
      paced: { ...paced, localP50, localP99, crossP50, crossP99 },
      steps,
      window: best.window,
      plateau,
      idleServerShare: idle.serverShare,
      saturated: { ...saturated, queueMs: queueMs(best.window, saturated.perSecond) },
    };
  });
}

/** CPU time of nodes, Redis, this process and the machine over `ms`, against the deliveries in it. */
async function measure(nodes: Node[], redis: Redis, run: Broadcasts, ms: number): Promise<Phase> {
  const before = await readCpu(nodes, redis);
  const delivered = run.delivered;
  const own = process.cpuUsage();
  const machine = machineCpu();
  await sleep(ms);
  const after = await readCpu(nodes, redis);
  const deliveries = run.delivered - delivered;
  const ownCpu = process.cpuUsage(own);
  const machineAfter = machineCpu();
  const seconds = (after.at - before.at) / 1000;
  const nodesCpu = after.nodes.reduce((s, v, i) => s + v - (before.nodes[i] ?? 0), 0);
  const redisCpu = after.redis - before.redis;
  return {
    deliveries,
    seconds,
    perSecond: deliveries / seconds,
    cpuPerDelivery: (nodesCpu + redisCpu) / deliveries,
    redisPerDelivery: redisCpu / deliveries,
    serverShare: (100 * (nodesCpu + redisCpu)) / (seconds * 1e6),
    generatorShare: (100 * (ownCpu.user + ownCpu.system)) / (seconds * 1e6),
    machineBusy: (100 * (machineAfter.busy - machine.busy)) / (machineAfter.total - machine.total),
  };
}

/**
 * The broadcasts in flight: when each left, how many members have it. With `window` > 0 the next
 * broadcast leaves as soon as one has reached every member and fewer than `window` are outstanding;
 * `pace()` sends at a fixed rate instead. Latency samples are kept only after `record()`.
 */
class Broadcasts {
  delivered = 0;
  /** Where the sequence number starts in a message's payload (after Socket.IO's event wrapping). */
  offset = 0;
  write: (seq: number) => void = () => {};
  readonly #members: number;
  readonly #sentAt = new Map<number, number>();
  readonly #got = new Map<number, number>();
  #window = 0;
  #next = 1;
  #samples: { local: Samples; cross: Samples } | undefined;

  constructor(members: number) {
    this.#members = members;
  }

  get window(): number {
    return this.#window;
  }

  /** Sets how many broadcasts to keep outstanding (0: none more), and tops the window up at once. */
  set window(value: number) {
    this.#window = value;
    while (this.#sentAt.size < this.#window) this.#send();
  }

  /** Sends `perSecond` broadcasts a second, each when it is due, until the returned function is called. */
  pace(perSecond: number): () => void {
    const start = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) * perSecond) / 1000);
      for (; sent < due; sent++) this.#send();
    }, 5);
    return () => clearInterval(timer);
  }

  /** Starts keeping latency samples (ms), in fresh lists. */
  record(): { local: Samples; cross: Samples } {
    this.#samples = { local: new Samples(), cross: new Samples() };
    return this.#samples;
  }

  /** Sends no more and waits until every broadcast in flight has reached every member. */
  async drain(): Promise<void> {
    this.#window = 0;
    this.#samples = undefined;
    const deadline = performance.now() + 30_000;
    while (this.#sentAt.size > 0) {
      if (performance.now() > deadline) throw new Error(`${this.#sentAt.size} broadcasts still short of their members after 30 s`);
      await sleep(10);
    }
  }

  /** The message handler of the clients on one side: A (local to the sender) or B (cross-node). */
  receiver(side: "local" | "cross") {
    return (_c: Conn, buf: Buffer, start: number, _end: number, at: number) => {
      const seq = seqAt(buf, start + this.offset);
      const t = this.#sentAt.get(seq);
      if (t === undefined) return;
      this.delivered++;
      this.#samples?.[side].add(at - t);
      const count = (this.#got.get(seq) ?? 0) + 1;
      if (count < this.#members) {
        this.#got.set(seq, count);
        return;
      }
      this.#got.delete(seq);
      this.#sentAt.delete(seq);
      if (this.#sentAt.size < this.#window) this.#send();
    };
  }

  #send(): void {
    const seq = this.#next++;
    this.#sentAt.set(seq, performance.now());
    this.write(seq);
  }
}

/** Reads the decimal sequence number at the start of a message's data. */
function seqAt(buf: Buffer, start: number): number {
  let n = 0;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  return n;
}
