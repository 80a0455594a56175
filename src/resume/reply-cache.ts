/**
 * The reply cache of one resumable session: a request retried across a resume (same request id)
 * is answered from here instead of running twice. Settled replies are kept, newest 128; requests
 * still running when the client came back are awaited, not re-run, also when they run on another
 * node (`adopt`: the reply is awaited from the session store).
 */
import type { RequestId } from "../protocol/index.js";

/** Settled replies kept per session. @example new ReplyCache([], REPLY_CACHE_SIZE) */
export const REPLY_CACHE_SIZE = 128;

/**
 * What to do with an incoming request: `run` it (the cache now marks it running), `resend` the
 * cached reply frame, or `wait` for the run that started before the resume and send its frame.
 * @example
 * const step: ReplyStep = cache.begin(7); if (step.kind === "resend") socket.send(step.frame);
 */
export type ReplyStep =
  | { readonly kind: "run" }
  | { readonly kind: "resend"; readonly frame: string }
  | { readonly kind: "wait"; readonly frame: Promise<string> };

interface Running {
  readonly frame: Promise<string>;
  readonly resolve: (frame: string) => void;
  /** A handler of this node runs it (not a run on another node awaited through the store). */
  readonly here: boolean;
}

/**
 * One session's request replies, by request id.
 * @example
 * const step = cache.begin(id);
 * if (step.kind === "run") cache.settle(id, encodeReply(id, await handler()));
 * else if (step.kind === "resend") send(step.frame);
 * else send(await step.frame);
 */
export class ReplyCache {
  readonly #size: number;
  readonly #done = new Map<RequestId, string>();
  // Running requests are not evicted: their number is bounded by the requests in flight on one
  // socket, and a retry waiting on one must get its answer.
  readonly #running = new Map<RequestId, Running>();
  /** Replies settled since the last {@link drainSettled}, for a store that keeps running ids apart from the record. */
  #fresh: [RequestId, string][] = [];
  readonly #onRun: ((id: RequestId) => void) | undefined;

  /**
   * @param settled replies restored from a session record, oldest first
   * @param onRun called when a request starts to run here (a shared store marks it running, so
   *   another node that takes the session awaits its reply instead of running it again)
   */
  constructor(settled: readonly (readonly [RequestId, string])[] = [], size = REPLY_CACHE_SIZE, onRun?: (id: RequestId) => void) {
    this.#size = size;
    this.#onRun = onRun;
    for (const [id, frame] of settled) this.#keep(id, frame);
  }

  /** Called for each request frame that arrives. */
  begin(id: RequestId): ReplyStep {
    const frame = this.#done.get(id);
    if (frame !== undefined) return { kind: "resend", frame };
    const running = this.#running.get(id);
    if (running !== undefined) return { kind: "wait", frame: running.frame };
    let resolve!: (frame: string) => void;
    const promise = new Promise<string>((r) => (resolve = r));
    this.#running.set(id, { frame: promise, resolve, here: true });
    this.#onRun?.(id);
    return { kind: "run" };
  }

  /**
   * Request `id` runs elsewhere (on the node that held the session before): a retry waits for
   * `frame`, which settles it here. Resolves true once settled, false at once for an id this
   * cache already knows (nothing adopted). `frame` must not reject.
   */
  adopt(id: RequestId, frame: Promise<string>): Promise<boolean> {
    if (this.#done.has(id) || this.#running.has(id)) return Promise.resolve(false);
    let resolve!: (frame: string) => void;
    const promise = new Promise<string>((r) => (resolve = r));
    this.#running.set(id, { frame: promise, resolve, here: false });
    return frame.then((f) => {
      this.settle(id, f);
      return true;
    });
  }

  /** Records the reply (or error) frame of request `id` once it settled; wakes any retry waiting for it. */
  settle(id: RequestId, frame: string): void {
    const running = this.#running.get(id);
    this.#running.delete(id);
    this.#keep(id, frame);
    this.#fresh.push([id, frame]);
    if (this.#fresh.length > this.#size) this.#fresh.shift();
    running?.resolve(frame);
  }

  /** Replies settled since the last call (and forgets them): what a session store writes apart from the record. */
  drainSettled(): [RequestId, string][] {
    const fresh = this.#fresh;
    if (fresh.length > 0) this.#fresh = [];
    return fresh;
  }

  /** Frames of the requests this node's handlers still run (a graceful shutdown waits for them). */
  runningHere(): Promise<string>[] {
    const here: Promise<string>[] = [];
    for (const running of this.#running.values()) if (running.here) here.push(running.frame);
    return here;
  }

  /** Settled replies, oldest first, for the session record. */
  entries(): [RequestId, string][] {
    return [...this.#done];
  }

  /** Whether this cache knows request `id`: settled, or running (here or, adopted, on another node). */
  has(id: RequestId): boolean {
    return this.#done.has(id) || this.#running.has(id);
  }

  /** Whether request `id` is running (here or, adopted, on another node). */
  isRunning(id: RequestId): boolean {
    return this.#running.has(id);
  }

  /** Requests still running. */
  get running(): number {
    return this.#running.size;
  }

  #keep(id: RequestId, frame: string): void {
    this.#done.delete(id);
    this.#done.set(id, frame);
    if (this.#done.size > this.#size) this.#done.delete(this.#done.keys().next().value!);
  }
}
