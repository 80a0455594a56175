import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import { SUBPROTOCOL } from "../protocol/frames.js";
import type { Message } from "../types.js";
import { Backlog } from "./backlog.js";
import { DROP } from "./drop.js";
import { acceptsRawFrames } from "./frames.js";
import { type OutboundTransform, outboundView, outboundWire } from "./outbound.js";
import { bytesOf } from "./text-bytes.js";

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
 * @typeParam S what the callbacks are told about: the socket that owns the outbox
 * @example
 * const limit: OutboundLimit<Socket> = { maxBufferedBytes: 1 << 20, policy: "close", onSlow: (s) => s.close(1008), onDrop: () => {} };
 */
export interface OutboundLimit<S> {
  readonly maxBufferedBytes: number;
  readonly policy: SlowConsumerPolicy;
  /** Policy "close": the socket went past its mark (called once per socket; it then closes). */
  readonly onSlow: (socket: S) => void;
  /** Policies "drop-*": message `data` was dropped; `total` is the socket's count so far. */
  readonly onDrop: (socket: S, total: number, data: Message) => void;
  /** The namespace's composed `onOutbound` hooks, if it has any (shared by its sockets: no cost per socket). */
  readonly transform?: OutboundTransform<S> | undefined;
}

const OPEN = 1;
/** The TCP socket is corked until the batch flush of this turn. */
const CORKED = 1;
/** The socket was past its high-water mark when this turn's sends began. */
const CONGESTED = 2;
/** Something was written since the last {@link Outbox.takeActivity}. */
const ACTIVE = 4;
/** Frames may be written straight to the TCP socket (no extension transforms them). */
const PLAIN = 8;

/**
 * What only a socket that has had a full buffer needs, made the first time it has one: most
 * sockets never do, and each field would cost every socket 8 bytes.
 */
interface Pressure {
  drain: Promise<void> | undefined;
  backlog: Backlog | undefined;
  dropped: number;
  /** A burst the peer is not charged for (see {@link Outbox.excuse}): the mark sits that much higher until the buffer is back under `maxBufferedBytes`. */
  excused: number;
}

/** ws's send options for bytes that are a text message's UTF-8. */
const TEXT = { binary: false } as const;
const READY: Promise<void> = Promise.resolve();
/**
 * What `send` returns when an onOutbound hook dropped the message: resolved like READY, but
 * another object, so the socket can report the drop without a second return value.
 * @example
 * if (outbox.send(data) === OUTBOUND_DROPPED) reportDrop();
 */
export const OUTBOUND_DROPPED: Promise<void> = Promise.resolve();
/** Set by Outbox's static block: lets the batch flush reach a private method without a closure per send. */
let uncork: (outbox: Outbox<unknown>) => void;
/**
 * Outboxes corked in this event-loop turn. One nextTick uncorks them all: a broadcast to a
 * thousand sockets schedules one callback, not a thousand.
 */
let corked: Outbox<unknown>[] = [];

function uncorkAll(): void {
  const batch = corked;
  corked = []; // a send made while flushing corks again and schedules its own flush
  for (const outbox of batch) uncork(outbox);
}

/**
 * A socket's write path: frames queued in one event-loop turn leave in one write (the TCP socket
 * is corked until the next tick), a socket past its high-water mark gets the slow-consumer policy,
 * and a send returns a promise that resolves once the buffer has drained. Frames encoded once for
 * many receivers are written as they are when no extension must transform them.
 * @typeParam S the socket that owns this outbox, handed to the limit's callbacks
 * @example
 * const outbox = new Outbox(socket, ws, raw, limit); await outbox.send("hello");
 */
export class Outbox<S> {
  readonly #owner: S;
  readonly #ws: WebSocket;
  readonly #raw: Duplex;
  readonly #limit: OutboundLimit<S>;
  /** CORKED | CONGESTED | ACTIVE | PLAIN bits: one field instead of four (8 bytes each) per socket. */
  #state: number;
  #pressure: Pressure | undefined;

  /** Bytes received on the connection so far (the TCP socket's `bytesRead`; 0 for another Duplex). */
  get bytesRead(): number {
    return (this.#raw as Duplex & { bytesRead?: number }).bytesRead ?? 0;
  }

  constructor(owner: S, ws: WebSocket, raw: Duplex, limit: OutboundLimit<S>) {
    this.#owner = owner;
    this.#ws = ws;
    this.#raw = raw;
    this.#limit = limit;
    this.#state = acceptsRawFrames(ws) ? PLAIN : 0;
  }

  /** True from the moment either side starts the close. */
  get closed(): boolean {
    return this.#ws.readyState !== OPEN;
  }

  /** Messages dropped by the "drop-newest" or "drop-oldest" policy. */
  get dropped(): number {
    return this.#pressure?.dropped ?? 0;
  }

  /** The namespace's outbound hooks, if any (a broadcast runs them per receiver). */
  get transform(): OutboundTransform<S> | undefined {
    return this.#limit.transform;
  }

  /** Whether the peer negotiated the tsws.v1 message protocol (its event frames are shown to hooks as events). */
  get negotiated(): boolean {
    return this.#ws.protocol === SUBPROTOCOL;
  }

  /** Queues a message after the outbound hooks; resolves once the write buffer has drained. Dropped once closed. */
  send(data: Message): Promise<void> {
    if (this.closed) return READY;
    const transform = this.#limit.transform;
    if (transform !== undefined) {
      const view = outboundView(data, this.negotiated);
      const wire = view === undefined ? undefined : outboundWire(transform(this.#owner, view), data);
      if (wire === DROP) return OUTBOUND_DROPPED;
      if (wire !== undefined) data = wire;
    }
    this.#cork();
    return this.#sendAsIs(data);
  }

  /**
   * Writes a frame encoded once for many receivers (see `encodeFrame`). Falls back to a normal
   * send when an extension (permessage-deflate) must transform each frame, or the socket is congested.
   */
  sendFrame(frame: readonly Buffer[], data: Message): void {
    if (this.closed) return;
    this.#cork();
    if ((this.#state & (PLAIN | CONGESTED)) !== PLAIN || this.#pressure?.backlog !== undefined) {
      this.#sendAsIs(data);
      return;
    }
    for (const part of frame) this.#raw.write(part);
    this.#afterWrite();
  }

  /** A message the outbound hooks have already seen (a broadcast's frame that fell back to a plain send). */
  #sendAsIs(data: Message): Promise<void> {
    if ((this.#state & CONGESTED) !== 0 || this.#pressure?.backlog !== undefined) return this.#overflow(data);
    // A received string sent on goes out as the bytes it came in as (see text-bytes.ts).
    const bytes = typeof data === "string" ? bytesOf(data) : undefined;
    if (bytes === undefined) this.#ws.send(data);
    else this.#ws.send(bytes, TEXT);
    return this.#afterWrite();
  }

  /** Sends the close frame after everything queued (the drop-oldest queue included). */
  close(code: number, reason: string): void {
    this.#cork();
    this.#pressure?.backlog?.release();
    this.#ws.close(code, reason);
  }

  /**
   * Lets what is buffered now through the slow-consumer mark until the buffer is back under it:
   * a burst the server wrote of its own accord (a resume's replay, up to its history's bound) is
   * not charged to the peer, whose next messages are measured against `maxBufferedBytes` on top
   * of it. Memory per socket stays bounded: the mark plus that burst.
   */
  excuse(): void {
    const buffered = this.#ws.bufferedAmount;
    if (buffered > this.#limit.maxBufferedBytes) this.#pressured().excused = buffered;
  }

  /**
   * Forgets the messages the "drop-oldest" policy holds back (those after a dropped one): a close
   * then leaves without them, where `close` would send them first.
   */
  discardQueued(): void {
    this.#pressure?.backlog?.discard();
  }

  /**
   * Whether anything was written since the last call, and forget it: the heartbeat sends an
   * application-level ping only to sockets that were idle (a busy socket costs nothing).
   */
  takeActivity(): boolean {
    const active = (this.#state & ACTIVE) !== 0;
    this.#state &= ~ACTIVE;
    return active;
  }

  /** Calls `listener` once the connection has closed (after the socket's own close handling). */
  onceClosed(listener: () => void): void {
    this.#ws.once("close", () => listener());
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.#ws.terminate();
  }

  /** Past the high-water mark: apply the server's slow-consumer policy. */
  #overflow(data: Message): Promise<void> {
    const limit = this.#limit;
    if (limit.policy === "close") {
      limit.onSlow(this.#owner);
      return READY;
    }
    const pressure = this.#pressured();
    if (limit.policy === "drop-newest") {
      limit.onDrop(this.#owner, ++pressure.dropped, data);
    } else {
      pressure.backlog ??= new Backlog(
        this.#ws,
        this.#raw,
        limit.maxBufferedBytes,
        (dropped) => limit.onDrop(this.#owner, ++pressure.dropped, dropped),
        () => {
          pressure.backlog = undefined;
        },
      );
      pressure.backlog.push(data);
    }
    return this.#afterWrite();
  }

  /** Frames sent in one event-loop turn are held and leave together in one write. */
  #cork(): void {
    if ((this.#state & CORKED) !== 0) return;
    // Measured once per turn, before this turn's frames: a burst queued within one turn is the
    // handler's own doing and is let through; a peer that has not taken the last turns' is slow.
    const buffered = this.#ws.bufferedAmount;
    let mark = this.#limit.maxBufferedBytes;
    const pressure = this.#pressure;
    if (pressure !== undefined && pressure.excused > 0) {
      if (buffered <= mark) pressure.excused = 0;
      else mark += pressure.excused;
    }
    this.#state = (this.#state & PLAIN) | CORKED | ACTIVE | (buffered > mark ? CONGESTED : 0);
    this.#raw.cork();
    if (corked.push(this as Outbox<unknown>) === 1) process.nextTick(uncorkAll);
  }

  #uncork(): void {
    this.#state &= ~(CORKED | CONGESTED);
    this.#raw.uncork();
  }

  #afterWrite(): Promise<void> {
    if (!this.#raw.writableNeedDrain) return READY;
    const pressure = this.#pressured();
    pressure.drain ??= new Promise<void>((resolve) => {
      const done = () => {
        this.#raw.off("drain", done);
        this.#raw.off("close", done);
        pressure.drain = undefined;
        resolve();
      };
      this.#raw.on("drain", done);
      this.#raw.on("close", done);
    });
    return pressure.drain;
  }

  #pressured(): Pressure {
    this.#pressure ??= { drain: undefined, backlog: undefined, dropped: 0, excused: 0 };
    return this.#pressure;
  }

  static {
    uncork = (outbox) => outbox.#uncork();
  }
}
