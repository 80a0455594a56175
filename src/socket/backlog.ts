import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Message } from "../types.js";

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
  readonly #onDrop: (data: Message) => void;
  readonly #onEmpty: () => void;
  readonly #items: Message[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(ws: WebSocket, raw: Duplex, max: number, onDrop: (data: Message) => void, onEmpty: () => void) {
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
      const dropped = this.#items.shift() as Message;
      this.#bytes -= sizeOf(dropped);
      this.#onDrop(dropped);
    }
    this.#schedule();
  }

  /** Hands every waiting message to `ws` at once, whatever its mark: the socket is closing. */
  release(): void {
    for (const data of this.#items) this.#ws.send(data);
    this.#clear();
  }

  /** Forgets every waiting message (the socket closes without them). */
  discard(): void {
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
