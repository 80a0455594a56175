import type { WebSocket } from "ws";
import type { Chain } from "../hooks/chain.js";
import { type Socket, trafficFor } from "../socket/socket.js";
import type { Message } from "../types.js";

/**
 * What every socket of one namespace shares: its composed chain, the waiting limit and what to do
 * when a hook fails or `onClose` has finished. Built once per namespace, not per socket.
 */
export interface QueuePolicy {
  readonly chain: Chain;
  /** Messages that may wait behind a running hook before reading from the socket pauses. */
  readonly maxPending: number;
  /** Called with any error a hook threw or rejected with. */
  readonly onHookError: (socket: Socket, error: unknown) => void;
  /** Called after `onClose` has finished. */
  readonly onFinished: (socket: Socket) => void;
}

/** Bits of `EventQueue.#state`: one small integer instead of three fields (8 bytes each) per socket. */
const RUNNING = 1;
const ENDED = 2;
/** Reading from the socket is paused because `maxPending` messages wait. */
const PAUSED = 4;

/**
 * Runs one socket's events one at a time, in arrival order: `onConnect`, then each message, then
 * `onClose` exactly once. Messages that arrive while a hook is still running wait here; when
 * `maxPending` are waiting, reading from the socket pauses (TCP backpressure) until the queue drains.
 * When the peer closes, every message it sent before is still handled, then `onClose`; once the
 * server itself closes the socket, waiting messages are dropped.
 * @example
 * const queue = new EventQueue(socket, ws, policy); queue.connect(socket.path); queue.message("hi");
 */
export class EventQueue {
  readonly #socket: Socket;
  readonly #ws: WebSocket;
  readonly #policy: QueuePolicy;
  #waiting: Message[] | undefined;
  /** RUNNING, ENDED and PAUSED. */
  #state = 0;

  constructor(socket: Socket, ws: WebSocket, policy: QueuePolicy) {
    this.#socket = socket;
    this.#ws = ws;
    this.#policy = policy;
  }

  /** Starts with `onConnect`; call once, right after the handshake. */
  connect(path: string): void {
    this.#run(this.#policy.chain.connect, path);
  }

  /** Called for each inbound message: runs it now, or queues it behind a running hook (and pauses reading when `maxPending` wait). */
  message(message: Message): void {
    if ((this.#state & ENDED) !== 0 || this.#serverClosing()) return;
    if ((this.#state & RUNNING) === 0) {
      this.#run(this.#policy.chain.message, message);
      return;
    }
    (this.#waiting ??= []).push(message);
    if (this.#waiting.length >= this.#policy.maxPending && (this.#state & PAUSED) === 0) {
      this.#state |= PAUSED;
      trafficFor(this.#socket).paused++;
      this.#ws.pause();
    }
  }

  /**
   * The connection has closed: `onClose` runs once whatever is running has finished. When the
   * peer closed it (`byPeer`), the messages it sent before its close run first.
   */
  end(byPeer: boolean): void {
    if ((this.#state & ENDED) !== 0) return;
    this.#state |= ENDED;
    if (!byPeer) this.#waiting = undefined;
    if ((this.#state & RUNNING) === 0) this.#next();
  }

  /** The server started the close (close(), a limit, a failed hook): what waits is not handled. */
  #serverClosing(): boolean {
    return this.#socket.closeReason !== undefined && (this.#state & ENDED) === 0;
  }

  /** Calls a chain; a hook that throws is reported like one that rejects. Returns the promise of an async hook. */
  #call<A>(runner: (socket: Socket, arg: A) => undefined | Promise<void>, arg: A): Promise<void> | undefined {
    try {
      return runner(this.#socket, arg);
    } catch (error) {
      this.#policy.onHookError(this.#socket, error);
      return undefined;
    }
  }

  #run<A>(runner: (socket: Socket, arg: A) => undefined | Promise<void>, arg: A): void {
    const pending = this.#call(runner, arg);
    if (pending === undefined) return;
    this.#state |= RUNNING;
    // Closures made only when a hook is async: as arrow-function fields they would cost every
    // socket two functions with a property dictionary each (about 600 bytes).
    pending.then(
      () => this.#next(),
      (error: unknown) => {
        this.#policy.onHookError(this.#socket, error);
        this.#next();
      },
    );
  }

  /** After an async hook: run what waited, synchronously while hooks stay synchronous; then onClose once ended. */
  #next(): void {
    this.#state &= ~RUNNING;
    const waiting = this.#waiting;
    while (waiting !== undefined && waiting.length > 0 && (this.#state & RUNNING) === 0) {
      if (this.#serverClosing()) {
        waiting.length = 0;
        break;
      }
      this.#run(this.#policy.chain.message, waiting.shift() as Message);
    }
    const state = this.#state;
    if ((state & (PAUSED | ENDED)) === PAUSED && (waiting === undefined || waiting.length < this.#policy.maxPending / 2)) {
      this.#state &= ~PAUSED;
      trafficFor(this.#socket).paused--;
      this.#ws.resume();
    }
    if ((this.#state & (ENDED | RUNNING)) === ENDED) this.#finish();
  }

  #finish(): void {
    this.#state |= RUNNING; // nothing runs after onClose
    if ((this.#state & PAUSED) !== 0) {
      // Closed while paused: it never resumes, but it no longer counts as a paused socket.
      this.#state &= ~PAUSED;
      trafficFor(this.#socket).paused--;
    }
    const pending = this.#call(this.#policy.chain.close, undefined);
    if (pending === undefined) {
      this.#policy.onFinished(this.#socket);
      return;
    }
    pending.then(
      () => this.#policy.onFinished(this.#socket),
      (error: unknown) => {
        this.#policy.onHookError(this.#socket, error);
        this.#policy.onFinished(this.#socket);
      },
    );
  }
}
