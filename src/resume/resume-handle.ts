/**
 * What an event socket of a resumable namespace holds of its session: the socket's side of the
 * seam between the message layer (src/events/) and resumable sessions. An interface, so the event
 * socket depends on no implementation (socket-session.ts implements it).
 */
import type { ReplyCache } from "./reply-cache.js";

/**
 * The resumable session of one event socket.
 * @example
 * socket.resume?.emit(pushBody("message", { text: "hi" })); // into its inbox, numbered, replayable
 */
export interface ResumeHandle {
  /** Replies to this session's requests, so a request retried after a resume is answered, not run twice. */
  readonly replies: ReplyCache;
  /** Sends a direct message through the session's inbox stream (kept for replay). */
  emit(body: string): void;
  /** Something the record keeps changed (a reply settled): write the record again soon. */
  changed(): void;
  /** True while the session waits for a control frame of the client: `[9, "pos", ...]`, or `[9, "confirm"]` after `resumed`. */
  readonly wantsControl: boolean;
  /** A control frame from the client (`pos`, `confirm`); returns true when it was used. */
  control(text: string): boolean;
}
