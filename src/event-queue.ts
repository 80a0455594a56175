import type { WebSocket } from "ws";
import type { Chain } from "./handler.js";
import type { Socket } from "./socket.js";
import type { Message } from "./types.js";

/**
 * Runs one socket's events one at a time, in arrival order: `onConnect`, then each message, then
 * `onClose` exactly once. Messages that arrive while a hook is still running wait here; when
 * `limit` are waiting, reading from the socket pauses (TCP backpressure) until the queue drains.
 * Once the socket is closing, waiting messages are dropped.
 */
export class EventQueue {
  readonly #socket: Socket;
  readonly #ws: WebSocket;
  readonly #chain: Chain;
  readonly #fail: (socket: Socket, error: unknown) => void;
  readonly #closed: (socket: Socket) => void;
  readonly #limit: number;
  #waiting: Message[] | undefined;
  #running = false;
  #ended = false;
  #paused = false;

  /**
   * @param fail called with any error a hook threw or rejected with
   * @param closed called after `onClose` has finished
   */
  constructor(
    socket: Socket,
    ws: WebSocket,
    chain: Chain,
    limit: number,
    fail: (socket: Socket, error: unknown) => void,
    closed: (socket: Socket) => void,
  ) {
    this.#socket = socket;
    this.#ws = ws;
    this.#chain = chain;
    this.#limit = limit;
    this.#fail = fail;
    this.#closed = closed;
  }

  /** Starts with `onConnect`; call once, right after the handshake. */
  connect(path: string): void {
    this.#run(this.#chain.connect, path);
  }

  /** Called for each inbound message: runs it now, or queues it behind a running hook (and pauses reading when `limit` wait). */
  message(message: Message): void {
    if (this.#socket.closed) return;
    if (!this.#running) {
      this.#run(this.#chain.message, message);
      return;
    }
    (this.#waiting ??= []).push(message);
    if (this.#waiting.length >= this.#limit && !this.#paused) {
      this.#paused = true;
      this.#ws.pause();
    }
  }

  /** The socket has closed: `onClose` runs once whatever is running has finished. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#waiting = undefined;
    if (!this.#running) this.#finish();
  }

  /** Calls a chain; a hook that throws is reported like one that rejects. Returns the promise of an async hook. */
  #call<A>(runner: (socket: Socket, arg: A) => undefined | Promise<void>, arg: A): Promise<void> | undefined {
    try {
      return runner(this.#socket, arg);
    } catch (error) {
      this.#fail(this.#socket, error);
      return undefined;
    }
  }

  #run<A>(runner: (socket: Socket, arg: A) => undefined | Promise<void>, arg: A): void {
    const pending = this.#call(runner, arg);
    if (pending === undefined) return;
    this.#running = true;
    // Closures made only when a hook is async: as arrow-function fields they would cost every
    // socket two functions with a property dictionary each (about 600 bytes).
    pending.then(
      () => this.#next(),
      (error: unknown) => {
        this.#fail(this.#socket, error);
        this.#next();
      },
    );
  }

  /** After an async hook: run what waited, synchronously while hooks stay synchronous. */
  #next(): void {
    this.#running = false;
    const waiting = this.#waiting;
    while (waiting !== undefined && waiting.length > 0 && !this.#running && !this.#ended) {
      if (this.#socket.closed) {
        waiting.length = 0;
        break;
      }
      this.#run(this.#chain.message, waiting.shift() as Message);
    }
    if (this.#paused && (waiting === undefined || waiting.length < this.#limit / 2)) {
      this.#paused = false;
      this.#ws.resume();
    }
    if (this.#ended && !this.#running) this.#finish();
  }

  #finish(): void {
    this.#running = true; // nothing runs after onClose
    const pending = this.#call(this.#chain.close, undefined);
    if (pending === undefined) {
      this.#closed(this.#socket);
      return;
    }
    pending.then(
      () => this.#closed(this.#socket),
      (error: unknown) => {
        this.#fail(this.#socket, error);
        this.#closed(this.#socket);
      },
    );
  }
}
