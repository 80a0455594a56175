/**
 * The reply of a request that runs on another node: a node that took a session whose record lists
 * requests still running (marked in a shared session store) waits here for each one's reply, which
 * the old node writes to the store when its handler settles (also after its socket closed). The
 * wait is bounded: a node that died mid-request never writes the reply, and the request must not
 * run a second time on a guess, so the retry gets a TIMEOUT error instead.
 */
import { ErrorCode, encodeError } from "../protocol/index.js";
import type { SessionStore } from "./session-store.js";

/** How long a retry waits for a reply from the node that runs it, in ms: the client's default request timeout (after it, the client gave up). */
export const REMOTE_REPLY_WAIT_MS = 10_000;

/** How often the store is asked, in ms. */
export const REMOTE_REPLY_POLL_MS = 25;

/**
 * Options of {@link remoteReply}.
 * @example
 * const options: RemoteReplyOptions = { waitMs: 10_000, pollMs: 25, stopped: () => closing };
 */
export interface RemoteReplyOptions {
  /** Upper bound of the wait, in ms; default {@link REMOTE_REPLY_WAIT_MS}. */
  readonly waitMs?: number;
  /** Interval between reads, in ms; default {@link REMOTE_REPLY_POLL_MS}. */
  readonly pollMs?: number;
  /** True once the node is shutting down: the wait ends (the client resumes elsewhere). */
  readonly stopped?: () => boolean;
}

/**
 * Resolves with the reply (or error) frame of request `id` of session `sid`, read from the store
 * once the node that runs it wrote it; with a TIMEOUT error frame when none came within `waitMs`,
 * or the mark vanished (the session ended or expired), or the store failed or the node stops.
 * Never rejects. Needs a store with `replyOf`.
 * @example
 * cache.adopt(7, remoteReply(store, "sid-1", 7)); // a retry of request 7 waits for this frame
 */
export async function remoteReply(store: SessionStore, sid: string, id: number, options: RemoteReplyOptions = {}): Promise<string> {
  const waitMs = options.waitMs ?? REMOTE_REPLY_WAIT_MS;
  const pollMs = options.pollMs ?? REMOTE_REPLY_POLL_MS;
  const deadline = Date.now() + waitMs;
  const gaveUp = (why: string) => encodeError(id, ErrorCode.TIMEOUT, undefined, why);
  for (;;) {
    let state: string | null;
    try {
      state = (await store.replyOf?.(sid, id)) ?? null;
    } catch {
      return gaveUp("the request ran on another node and its reply could not be read (the session store failed)");
    }
    if (state === null) return gaveUp("the request ran on another node and its reply is gone (the session ended or expired)");
    if (state !== "") return state;
    if (Date.now() >= deadline || options.stopped?.() === true) {
      return gaveUp(`the request is still running on another node after ${waitMs} ms (or that node is gone); it was not run again`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
