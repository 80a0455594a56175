import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Socket } from "./socket.js";
import type { Message } from "./types.js";

/**
 * What happens to a message sent to a socket whose outbound buffer is past `maxBufferedBytes`:
 * - `"close"`: the socket is closed with 1008 "slow consumer" and terminated after `closeTimeout`
 *   (its close frame cannot pass a reader that has stopped reading);
 * - `"drop-newest"`: the new message is dropped and counted;
 * - `"drop-oldest"`: the new message waits in a small queue of the socket's own, at most
 *   `maxBufferedBytes` of messages; when it is full the oldest waiting message is dropped and
 *   counted. Messages already handed to the TCP socket cannot be taken back, so at most twice
 *   `maxBufferedBytes` is held per socket.
 * @example
 * createServer({ handlers: [Ticker], slowConsumer: "drop-oldest", maxBufferedBytes: 256 * 1024 })
 */
export type SlowConsumerPolicy = "close" | "drop-newest" | "drop-oldest";

/**
 * The outbound limit every socket of a server shares.
 * @example
 * const limit: OutboundLimit = { maxBufferedBytes: 1 << 20, policy: "close", onSlow: (s) => s.close(1008), onDrop: () => {} };
 */
export interface OutboundLimit {
  readonly maxBufferedBytes: number;
  readonly policy: SlowConsumerPolicy;
  /** Policy "close": the socket went past its mark (called once per socket; it then closes). */
  readonly onSlow: (socket: Socket) => void;
  /** Policies "drop-*": a message was dropped; `total` is the socket's count so far. */
  readonly onDrop: (socket: Socket, total: number) => void;
}

/** When the TCP socket's buffer is too small to emit "drain", look again after this long. */
const RETRY_MS = 20;

/**
 * The queue of the "drop-oldest" policy: holds messages while the socket is over its mark and
 * hands them to `ws` in order as it drains. While it holds anything, every new message for the
 * socket goes through it, so order is kept.
 * @example
 * const backlog = new Backlog(ws, raw, 1 << 20, () => dropped++, () => (backlog = undefined));
 * backlog.push("tick");
 */
export class Backlog {
  readonly #ws: WebSocket;
  readonly #raw: Duplex;
  readonly #max: number;
  readonly #onDrop: () => void;
  readonly #onEmpty: () => void;
  readonly #items: Message[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(ws: WebSocket, raw: Duplex, max: number, onDrop: () => void, onEmpty: () => void) {
    this.#ws = ws;
    this.#raw = raw;
    this.#max = max;
    this.#onDrop = onDrop;
    this.#onEmpty = onEmpty;
    raw.once("close", this.#clear);
  }

  /** Queues a message, dropping the oldest waiting ones past the byte budget. */
  push(data: Message): void {
    this.#items.push(data);
    this.#bytes += sizeOf(data);
    while (this.#bytes > this.#max && this.#items.length > 1) {
      this.#bytes -= sizeOf(this.#items.shift() as Message);
      this.#onDrop();
    }
    this.#schedule();
  }

  /** Hands every waiting message to `ws` at once, whatever its mark: the socket is closing. */
  release(): void {
    for (const data of this.#items) this.#ws.send(data);
    this.#clear();
  }

  #flush = (): void => {
    this.#scheduled = false;
    while (this.#items.length > 0 && this.#ws.bufferedAmount <= this.#max) {
      const data = this.#items.shift() as Message;
      this.#bytes -= sizeOf(data);
      this.#ws.send(data);
    }
    if (this.#items.length > 0) this.#schedule();
    else this.#clear();
  };

  #schedule(): void {
    if (this.#scheduled || this.#raw.destroyed) return;
    this.#scheduled = true;
    if (this.#raw.writableNeedDrain) this.#raw.once("drain", this.#flush);
    else setTimeout(this.#flush, RETRY_MS).unref();
  }

  #clear = (): void => {
    this.#items.length = 0;
    this.#bytes = 0;
    this.#raw.off("drain", this.#flush);
    this.#raw.off("close", this.#clear);
    this.#onEmpty();
  };
}

function sizeOf(data: Message): number {
  return typeof data === "string" ? Buffer.byteLength(data) : data.length;
}
