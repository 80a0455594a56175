import type { Cluster, Redis } from "ioredis";

/*
 * How a node writes its memberships to Redis, in both modes: the sets that list the node (a
 * room's nodes, the nodes holding a socket id, session or user) and the node's own index sets
 * that list those entries, so that whoever finds the node dead can remove them. Every command
 * here is a plain one naming at most CHUNK elements, never a script over a batch and never a
 * walk of a whole set: Redis serves other clients between any two of them, so a node of 50,000
 * rooms writing or removing them all never holds Redis for more than one small command.
 *
 * Order instead of atomicity: each node writes its own entries on one connection, and Redis
 * runs one connection's commands in the order sent. An index entry is written before the entry
 * it points to and removed after it, so a node that dies between the two leaves an index entry
 * too many (harmless: its sweep removes nothing), never an entry its sweep cannot find.
 */

/**
 * Elements per command (a variadic SADD or SREM on an index, an SSCAN's COUNT). 16: at about
 * 1 µs of Redis per element on a set of 50,000 members (cache misses), a command stays around
 * 20 µs, 50 times below the 1 ms bound, while its fixed cost (parsing, dispatch) is still shared
 * by 16 elements. The sharded mode also fills a chunk at 1,000 rooms (64 partitions of about 16
 * rooms each), so the work per call at 1,000 and at 50,000 rooms can be compared one to one.
 */
export const CHUNK = 16;

/**
 * Chunks a bulk write keeps unanswered at most, each a pipeline of at most CHUNK + 1 commands
 * (so at most 272 commands). A heartbeat sent during a restore of 50,000 rooms then waits behind
 * a few hundred small commands (a millisecond or two), not behind all of them: otherwise it could
 * arrive after the node's TTL, the other nodes would sweep it, and it would restore again, for
 * ever. A pipeline is not a transaction: Redis runs its commands one by one, serving other
 * clients in between; it only saves this process a write and a promise per command.
 */
export const WINDOW = 16;

type Connection = Redis | Cluster;

/**
 * Issues commands (or pipelines) in the order asked, keeping at most {@link WINDOW} of them
 * unanswered; the first failure is kept and thrown by {@link Pacer.drain}. Callbacks rather than an
 * async function per command: a restore of 50,000 rooms sends thousands through it.
 * @example
 * const pacer = new Pacer(); for (const key of keys) pacer.send(() => pub.srem(key, node)); await pacer.drain();
 */
export class Pacer {
  readonly #window: number;
  #pending = 0;
  /** Commands waiting for a place, oldest at #head. */
  #queue: ((() => void) | undefined)[] = [];
  #head = 0;
  #failure: unknown;
  #failed = false;
  #idle: (() => void) | undefined;

  constructor(window = WINDOW) {
    this.#window = window;
  }

  /** Issues `command` once there is room (in the order asked) and resolves with its answer. */
  run<T>(command: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(() =>
        this.#issue(command).then(
          (value) => {
            this.#settled();
            resolve(value);
          },
          (error: unknown) => {
            this.#fail(error);
            this.#settled();
            reject(error);
          },
        ),
      );
    });
  }

  /** As {@link run}, for a command whose answer is not needed: a failure is thrown by {@link drain}. */
  send(command: () => Promise<unknown>): void {
    this.#enqueue(() =>
      this.#issue(command).then(
        () => this.#settled(),
        (error: unknown) => {
          this.#fail(error);
          this.#settled();
        },
      ),
    );
  }

  /** Resolves once every command issued has been answered; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.#pending > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#failed) throw this.#failure;
  }

  #enqueue(start: () => void): void {
    if (this.#pending < this.#window && this.#head === this.#queue.length) {
      this.#pending++;
      start();
    } else this.#queue.push(start);
  }

  #issue<T>(command: () => Promise<T>): Promise<T> {
    try {
      return command();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** One command answered: its place goes to the oldest waiting (still counted, so nothing overtakes it), or is freed. */
  #settled(): void {
    if (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      next?.();
      return;
    }
    if (--this.#pending === 0) this.#idle?.();
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#failure = error;
  }
}

/**
 * Sends `commands` ([name, ...args]) as one pipeline, in order; rejects with the first error
 * among their answers. All of them must be of one hash slot on a Redis Cluster (one partition).
 */
async function pipeline(pub: Connection, commands: (string | number)[][]): Promise<void> {
  const answers = await pub.pipeline(commands).exec();
  for (const [error] of answers ?? []) if (error) throw error;
}

/**
 * Lists `node` in the set of each name (`setOf(name)`) and the names in the node's `index`: per
 * chunk of {@link CHUNK} names, one pipeline, the index first, then each set. `names` is what the
 * node held when the write began; a chunk waiting for its turn keeps, when it goes out, only the
 * names `held(name)` still says yes to, so a name removed meanwhile (its SREMs already sent, not
 * paced) is not written back after its removal.
 * @example
 * linkAll(pacer, pub, "{tsws:p3}:rooms:n1", (room) => `{tsws:p3}:room:${room}`, "n1", ["lobby"], (room) => rooms.has(room));
 */
export function linkAll(
  pacer: Pacer,
  pub: Connection,
  index: string,
  setOf: (name: string) => string,
  node: string,
  names: string[],
  held: (name: string) => boolean,
): void {
  for (let i = 0; i < names.length; i += CHUNK) {
    const chunk = names.slice(i, i + CHUNK);
    pacer.send(() => {
      const still = chunk.filter(held);
      if (still.length === 0) return Promise.resolve();
      return pipeline(pub, [["sadd", index, ...still], ...still.map((name) => ["sadd", setOf(name), node])]);
    });
  }
}

/**
 * Removes every entry of `node` listed in its `index` (a dead node's, or this node's before it
 * writes its state again): a page of the index at a time (SSCAN, COUNT {@link CHUNK}), then per
 * chunk one pipeline: each entry's set first, then the chunk from the index. SSCAN, not SPOP or
 * SMEMBERS: a cursor costs the same per call whatever the set's size, and entries removed behind
 * it do not disturb it.
 * @example
 * await sweepIndex(new Pacer(), pub, "tsws:node:n1:at", (entry) => `tsws:at:${entry}`, "n1");
 */
export async function sweepIndex(
  pacer: Pacer,
  pub: Connection,
  index: string,
  setOf: (name: string) => string,
  node: string,
): Promise<void> {
  let cursor = "0";
  do {
    const [next, page] = await pacer.run(() => pub.sscan(index, cursor, "COUNT", CHUNK));
    cursor = next;
    // SSCAN may return more than COUNT (a bucket chain, a set being resized): chunked again here.
    for (let i = 0; i < page.length; i += CHUNK) {
      const chunk = page.slice(i, i + CHUNK);
      pacer.send(() => pipeline(pub, [...chunk.map((name) => ["srem", setOf(name), node]), ["srem", index, ...chunk]]));
    }
  } while (cursor !== "0");
}
