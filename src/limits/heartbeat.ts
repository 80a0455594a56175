import type { WebSocket } from "ws";

/**
 * Finds dead peers: every `interval` ms each socket gets a protocol ping, and a socket that has
 * not answered within `timeout` ms is reported to `onTimeout` (which terminates it). One timer
 * serves every socket of a server: a socket costs a map entry, not a timer.
 *
 * A peer that is busy is not dead, even though its pong is late: one that sent bytes since the
 * ping (a large frame in progress: no pong can be sent inside a frame) counts as alive, and one
 * that has not taken everything sent to it yet (the ping waits behind a large message) is left to
 * the slow-consumer policy, since its pong cannot come before it has read that far.
 * @example
 * const heartbeat = new Heartbeat({ interval: 25_000, timeout: 20_000, onTimeout: (ws) => ws.terminate() });
 * heartbeat.add(ws); // ws.on("pong", () => heartbeat.pong(ws)); on close: heartbeat.delete(ws)
 */
/**
 * What a {@link Heartbeat} is told at construction.
 * @typeParam P the socket type it watches
 * @example
 * const options: HeartbeatOptions<Connection> = { interval: 25_000, timeout: 20_000, onTimeout: (ws) => ws.terminate() };
 */
export interface HeartbeatOptions<P> {
  /** Ms between two pings of one socket; 0 turns the heartbeat off. */
  readonly interval: number;
  /** Ms a ping may wait for its pong before `onTimeout`. */
  readonly timeout: number;
  /** A socket did not answer in time and showed no other sign of life. */
  readonly onTimeout: (ws: P) => void;
  /** Bytes received so far on a socket's connection (TCP `bytesRead`): a peer still sending a large frame is alive. Default: 0. */
  readonly received?: (ws: P) => number;
  /** Called with the ms from a ping to its pong (the heartbeat round-trip metric). */
  readonly onRoundTrip?: (ws: P, ms: number) => void;
  /** Called right after each protocol ping is sent (the guard adds an application ping there). */
  readonly onPing?: (ws: P) => void;
}

export class Heartbeat<P extends WebSocket = WebSocket> {
  readonly #interval: number;
  readonly #timeout: number;
  readonly #onTimeout: (ws: P) => void;
  /**
   * When each socket was last pinged, in whole milliseconds (a small integer, stored unboxed: no
   * object per socket), negated minus one while that ping is unanswered.
   */
  readonly #peers = new Map<P, number>();
  /** Bytes each socket had received when its outstanding ping was sent (only while one is outstanding). */
  readonly #receivedAtPing = new Map<P, number>();
  readonly #received: (ws: P) => number;
  readonly #onRoundTrip: ((ws: P, ms: number) => void) | undefined;
  readonly #onPing: ((ws: P) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeartbeatOptions<P>) {
    this.#interval = options.interval;
    this.#timeout = options.timeout;
    this.#onTimeout = options.onTimeout;
    this.#received = options.received ?? (() => 0);
    this.#onRoundTrip = options.onRoundTrip;
    this.#onPing = options.onPing;
  }

  /** Starts watching a socket (the timer runs while at least one socket is watched). */
  add(ws: P): void {
    if (this.#interval === 0) return;
    this.#peers.set(ws, now());
    // Ticking at half the shorter period keeps both the ping and the timeout within that slack.
    this.#timer ??= setInterval(this.#tick, Math.max(1, Math.min(this.#interval, this.#timeout) / 2)).unref();
  }

  /** Call when a socket's "pong" arrives: its ping is answered. */
  pong(ws: P): void {
    const state = this.#peers.get(ws);
    if (state !== undefined && state < 0) {
      const pingedAt = -state - 1;
      this.#peers.set(ws, pingedAt);
      this.#onRoundTrip?.(ws, now() - pingedAt); // whole ms: the heartbeat keeps times unboxed
    }
    this.#receivedAtPing.delete(ws);
  }

  /** Stops watching a socket that has closed. */
  delete(ws: P): void {
    this.#receivedAtPing.delete(ws);
    if (!this.#peers.delete(ws)) return;
    if (this.#peers.size === 0) this.stop();
  }

  /** Stops the timer (at shutdown). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs after the event loop's I/O phase, so a pong that was already waiting in the kernel (the
   * loop was busy when the timer fired) is read first and saves its peer.
   */
  #expire = (ws: P, state: number): void => {
    if (ws.isPaused || this.#peers.get(ws) !== state || this.#busy(ws, performance.now())) return;
    this.delete(ws);
    this.#onTimeout(ws);
  };

  /**
   * Whether a peer whose pong is late is busy rather than dead: it received bytes since the ping
   * (it counts as having answered, at `time`), or data sent to it (the ping included) is still
   * waiting to be taken (the slow-consumer policy's business, not the heartbeat's; the ping's
   * clock starts again at `time`).
   */
  #busy(ws: P, time: number): boolean {
    const received = this.#received(ws);
    if (received !== this.#receivedAtPing.get(ws)) {
      this.#peers.set(ws, Math.floor(time));
      this.#receivedAtPing.delete(ws);
      return true;
    }
    if (ws.bufferedAmount === 0) return false;
    // The ping still waits behind data this server has not handed to the kernel yet: its clock
    // starts when that data is gone, so the peer gets the whole timeout to read what the kernel
    // holds (up to tcp_rmem's maximum, 32 MiB on some hosts) and answer.
    this.#peers.set(ws, -Math.floor(time) - 1);
    return true;
  }

  #tick = (): void => {
    const time = now();
    for (const [ws, state] of this.#peers) {
      if (state < 0) {
        // A paused socket (a busy hook with maxPendingMessages waiting) reads nothing, pongs
        // included: it is not dead. Its pong is read, or it expires, once reading resumes.
        if (time - (-state - 1) >= this.#timeout && !ws.isPaused && !this.#busy(ws, time)) setImmediate(this.#expire, ws, state);
      } else if (time - state >= this.#interval) {
        this.#peers.set(ws, -time - 1);
        this.#receivedAtPing.set(ws, this.#received(ws));
        ws.ping();
        this.#onPing?.(ws);
      }
    }
  };
}

function now(): number {
  return Math.floor(performance.now());
}
