/**
 * The client's side of a resumable session: the session id and resume token the server handed out
 * (`welcome`, then a new token with each `resumed`), and where the client stands in each stream,
 * `[seq, epoch?]`. The positions are what a reconnect offers in `[9, "pos", ...]`, so the server
 * replays exactly what this client did not receive, and what drops a push seen twice.
 */
import { encodeControl } from "../protocol/frames.js";

/** `[seq]` or `[seq, epoch]`, as the `pos` frame carries it (no epoch until the server told one). */
type Position = [seq: number, epoch?: string];

/** The data of `welcome` and `resumed` frames (`positions` and `via` only in `resumed`). */
interface SessionData {
  readonly sid?: unknown;
  readonly token?: unknown;
  readonly positions?: unknown;
  /** Which offered token took the session: 1 for the second; absent for the first. */
  readonly via?: unknown;
}

/** The data of a `gap` frame that this side reads. */
interface GapData {
  readonly stream?: unknown;
  readonly to?: unknown;
  readonly epoch?: unknown;
}

/**
 * One client's session as the server last described it, kept across reconnects.
 * @example
 * const session = new ResumeSession();
 * session.start(false, { sid: "s1", token: "s1.secret" });
 * if (session.admit("room:lobby", 1)) deliver(); // false for a seq already delivered
 * ws.send(session.positions()); // '[9,"pos",{"room:lobby":[1]}]'
 */
export class ResumeSession {
  /** The session (socket) id, once a `welcome` or `resumed` arrived. */
  id: string | undefined;
  /** The token the next reconnect offers, replaced by each `welcome` / `resumed` (each resume rotates it). */
  token: string | undefined;
  /**
   * The token that took the session at the last `resumed` (the server says which of the offered
   * ones, `via`), offered after {@link token}: the server keeps it good until it has this
   * client's confirm, so if an older upgrade with it (slow in the app's middleware) took the
   * session back meanwhile, it is the one that still resumes (docs/resume.md).
   */
  fallback: string | undefined;
  /** The tokens the current link offered. */
  #offered: readonly string[] = [];
  /** Whether the latest session start was a resume (`resumed`) rather than a fresh session (`welcome`). */
  resumed = false;
  readonly #positions = new Map<string, Position>();

  /**
   * A `welcome` (`resumed` false) or `resumed` frame: the id, the next token, and the positions the
   * replay reached. Positions of other streams stay: pushes that came before a `welcome` (a Redis
   * store opens the session after `onConnect` ran) or from rooms joined since belong to this session.
   */
  start(resumed: boolean, data: SessionData | undefined): void {
    this.fallback = resumed ? this.#offered[data?.via === 1 ? 1 : 0] : undefined;
    if (typeof data?.sid === "string") this.id = data.sid;
    if (typeof data?.token === "string") this.token = data.token;
    this.resumed = resumed;
    const told = data?.positions;
    if (typeof told !== "object" || told === null) return;
    for (const [stream, [seq, epoch]] of Object.entries(told as Record<string, [number, string]>)) {
      this.#positions.set(stream, [seq, epoch]);
    }
  }

  /**
   * A push `[4, stream, seq, ...]`: false when `seq` is not past the last one delivered of the
   * stream's current epoch (a duplicate: drop it), else records it and returns true.
   */
  admit(stream: string, seq: number): boolean {
    const known = this.#positions.get(stream);
    if (known !== undefined && seq <= known[0]) return false;
    this.#positions.set(stream, known?.[1] === undefined ? [seq] : [seq, known[1]]);
    return true;
  }

  /**
   * A `gap`: without a stream the session could not be resumed (all positions go); with one, the
   * stream continues after the lost seqs (`to`), or from scratch in a new epoch (a `reset`, no `to`).
   */
  gap(data: GapData | undefined): void {
    const stream = data?.stream;
    if (typeof stream !== "string") {
      this.reset();
      return;
    }
    const known = this.#positions.get(stream);
    const epoch = typeof data?.epoch === "string" ? data.epoch : known?.[1];
    const seq = typeof data?.to === "number" ? data.to : epoch === known?.[1] ? (known?.[0] ?? 0) : 0;
    this.#positions.set(stream, epoch === undefined ? [seq] : [seq, epoch]);
  }

  /** The tokens a reconnect offers, in order: {@link token}, then {@link fallback}; none without a session. */
  offer(): readonly string[] {
    const token = this.token;
    this.#offered = token === undefined ? [] : this.fallback === undefined ? [token] : [token, this.fallback];
    return this.#offered;
  }

  /** Forgets every position: a fresh session starts (no token offered, or the resume was refused). */
  reset(): void {
    this.#positions.clear();
  }

  /** The `[9, "pos", { stream: [seq, epoch?] }]` frame a resuming client sends first. */
  positions(): string {
    return encodeControl("pos", Object.fromEntries(this.#positions));
  }
}
