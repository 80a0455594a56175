/**
 * Runs a continuation on a value now, or once its promise settles: the in-memory stores answer
 * synchronously, so a broadcast to a room with history on one node costs no promise and keeps
 * its place in the event loop turn; the Redis stores answer later.
 */
import type { Awaitable } from "./history-log.js";

/**
 * Calls `next` with the value (now if it is not a promise), `failed` if it throws or rejects.
 * @example
 * when(history.append(stream, body), (pos) => dispatch(pos), (err) => log(err));
 */
export function when<T>(value: Awaitable<T>, next: (value: T) => void, failed: (error: unknown) => void): void {
  if (isThenable(value)) {
    Promise.resolve(value).then(next).catch(failed);
    return;
  }
  try {
    next(value as T);
  } catch (error) {
    failed(error);
  }
}

/**
 * Runs `next` with `value`, once it is there, and returns what it returns: at once when `value`
 * is not a promise, else chained on it (its rejection then skips `next` and is the result). Unlike
 * {@link when}, errors go to the caller, which awaits the chain (a session's queue of store writes).
 * @example
 * queue(() => andThen(sessions.update(record), () => sessions.detach(sid, generation)));
 */
export function andThen<T>(value: Awaitable<T>, next: (value: T) => unknown): unknown {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value as T);
}

/**
 * Whether a store's answer is a promise (a store over the network) rather than the value itself (one in memory).
 * @example
 * if (!isThenable(position)) primeNow(position);
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}
