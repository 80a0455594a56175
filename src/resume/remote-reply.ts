/**
 * The reply of a request that runs on another node: a node that took a session whose record lists
 * requests still running (marked in a shared session store) waits here for each one's reply, which
 * the old node writes to the store when its handler settles (also after its socket closed). With a
 * store that hands such replies to the session's node ({@link SessionStore.onReplied}, a pub/sub
 * notice) the wait ends when the notice arrives, and the store is read only now and then in case
 * the notice was lost; without, the store is read every 25 ms. The wait is bounded: a node that
 * died mid-request never writes the reply, and the request must not run a second time on a guess,
 * so the retry gets a TIMEOUT error instead.
 */
import { ErrorCode, encodeError } from "../protocol/index.js";
import type { SessionStore } from "./session-store.js";

/** How long a retry waits for a reply from the node that runs it, in ms: the client's default request timeout (after it, the client gave up). */
export const REMOTE_REPLY_WAIT_MS = 10_000;

/** How often the store is asked when no notice will tell of the reply, in ms. */
export const REMOTE_REPLY_POLL_MS = 25;

/** How often the store is asked while a notice is awaited, in ms: what a lost notice costs at most (a resync reads at once). */
export const REMOTE_REPLY_FALLBACK_POLL_MS = 1_000;

/**
 * The replies other nodes handed this node (the store's `reply` notices), for the waits under way.
 * @example
 * const notices = new ReplyNotices(); store.onReplied?.((sid, id, frame) => notices.replied(sid, id, frame));
 */
export class ReplyNotices {
  /** `<id>:<sid>` -> what each wait for it does with a frame (undefined: read the store now). */
  readonly #waits = new Map<string, Set<(frame: string | undefined) => void>>();

  /** Calls `wake` with the frame when a notice for request `id` of `sid` arrives (or with nothing: read now); returns how to stop. */
  listen(sid: string, id: number, wake: (frame: string | undefined) => void): () => void {
    const key = `${id}:${sid}`;
    let waits = this.#waits.get(key);
    if (waits === undefined) this.#waits.set(key, (waits = new Set()));
    waits.add(wake);
    return () => {
      waits.delete(wake);
      if (waits.size === 0 && this.#waits.get(key) === waits) this.#waits.delete(key);
    };
  }

  /** A notice: request `id` of `sid` settled with `frame`. */
  replied(sid: string, id: number, frame: string): void {
    const waits = this.#waits.get(`${id}:${sid}`);
    if (waits !== undefined) for (const wake of [...waits]) wake(frame);
  }

  /** Notices may have been lost (this node's subscriber was cut): every wait reads the store now. */
  readAll(): void {
    for (const waits of [...this.#waits.values()]) for (const wake of [...waits]) wake(undefined);
  }

  /** Waits under way. */
  get size(): number {
    return this.#waits.size;
  }
}

/**
 * Options of {@link remoteReply}.
 * @example
 * const options: RemoteReplyOptions = { waitMs: 10_000, notices, stopped: () => closing };
 */
export interface RemoteReplyOptions {
  /** Upper bound of the wait, in ms; default {@link REMOTE_REPLY_WAIT_MS}. */
  readonly waitMs?: number;
  /**
   * Interval between reads, in ms; default {@link REMOTE_REPLY_FALLBACK_POLL_MS} with `notices`,
   * else {@link REMOTE_REPLY_POLL_MS}.
   */
  readonly pollMs?: number;
  /** The store's reply notices on this node, when it sends them: the wait ends as one arrives. */
  readonly notices?: ReplyNotices;
  /** True once the node is shutting down: the wait ends (the client resumes elsewhere). */
  readonly stopped?: () => boolean;
}

/**
 * Resolves with the reply (or error) frame of request `id` of session `sid`, handed over by a
 * notice or read from the store once the node that runs it wrote it; with a TIMEOUT error frame
 * when none came within `waitMs`, or the mark vanished (the session ended or expired), or the store
 * failed or the node stops. Never rejects. Needs a store with `replyOf`.
 * @example
 * cache.adopt(7, remoteReply(store, "sid-1", 7, { notices })); // a retry of request 7 waits for this frame
 */
export async function remoteReply(store: SessionStore, sid: string, id: number, options: RemoteReplyOptions = {}): Promise<string> {
  const waitMs = options.waitMs ?? REMOTE_REPLY_WAIT_MS;
  const pollMs = options.pollMs ?? (options.notices === undefined ? REMOTE_REPLY_POLL_MS : REMOTE_REPLY_FALLBACK_POLL_MS);
  const deadline = Date.now() + waitMs;
  const gaveUp = (why: string) => encodeError(id, ErrorCode.TIMEOUT, undefined, why);
  let noticed: string | undefined;
  let wake: (() => void) | undefined;
  // Listening before the first read: a notice sent between that read and the wait is not missed.
  const stop = options.notices?.listen(sid, id, (frame) => {
    noticed ??= frame;
    wake?.();
  });
  try {
    for (;;) {
      if (noticed !== undefined) return noticed;
      let state: string | null;
      try {
        state = (await store.replyOf?.(sid, id)) ?? null;
      } catch {
        return gaveUp("the request ran on another node and its reply could not be read (the session store failed)");
      }
      if (noticed !== undefined) return noticed;
      if (state === null) return gaveUp("the request ran on another node and its reply is gone (the session ended or expired)");
      if (state !== "") return state;
      const left = deadline - Date.now();
      if (left <= 0 || options.stopped?.() === true) {
        return gaveUp(`the request is still running on another node after ${waitMs} ms (or that node is gone); it was not run again`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(pollMs, left));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    stop?.();
  }
}
