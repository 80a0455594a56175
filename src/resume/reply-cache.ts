/**
 * The reply cache of one resumable session: a request retried across a resume (same request id)
 * is answered from here instead of running twice. Settled replies are kept, newest 128; requests
 * still running when the client came back are awaited, not re-run.
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

  /** @param settled replies restored from a session record, oldest first */
  constructor(settled: readonly (readonly [RequestId, string])[] = [], size = REPLY_CACHE_SIZE) {
    this.#size = size;
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
    this.#running.set(id, { frame: promise, resolve });
    return { kind: "run" };
  }

  /** Records the reply (or error) frame of request `id` once it settled; wakes any retry waiting for it. */
  settle(id: RequestId, frame: string): void {
    const running = this.#running.get(id);
    this.#running.delete(id);
    this.#keep(id, frame);
    running?.resolve(frame);
  }

  /** Settled replies, oldest first, for the session record. */
  entries(): [RequestId, string][] {
    return [...this.#done];
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
