import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { type BroadcastMessage, CHANNELS, type ForcedCloseMessage, type MessageMessage, type RefuseMessage } from "../observe/channels.js";

/**
 * One refusal or forced close as the admin page lists it.
 * @example
 * const entry: Incident = { at: Date.now(), code: "TSWS_FORBIDDEN_ORIGIN", status: 403, namespace: "/chat/:room", detail: "origin x is not allowed" };
 */
export interface Incident {
  /** When it happened, in ms since the epoch. */
  readonly at: number;
  /** The stable TSWS_* code. */
  readonly code: string;
  /** The HTTP status (refusals) or close code (forced closes). */
  readonly status: number;
  readonly namespace: string | undefined;
  readonly detail: string;
}

/**
 * What the admin page shows of a server's recent past: the last refusals and forced closes (kept
 * from the start, they are rare) and message rates (counted only while someone watches, so an
 * unwatched page costs the message path nothing).
 * @example
 * const recorder = new Recorder(server, 50); recorder.watch(); recorder.rates(); recorder.unwatch();
 */
export class Recorder {
  readonly refusals: Incident[] = [];
  readonly forcedCloses: Incident[] = [];
  readonly #server: object;
  readonly #keep: number;
  #watchers = 0;
  #in = 0;
  #out = 0;
  #since = performance.now();

  constructor(server: object, keep: number) {
    this.#server = server;
    this.#keep = keep;
    subscribe(CHANNELS.refuse, this.#onRefuse);
    subscribe(CHANNELS.forcedClose, this.#onForcedClose);
  }

  /** A viewer started watching: count messages until the last one stops. */
  watch(): void {
    if (this.#watchers++ > 0) return;
    this.#in = 0;
    this.#out = 0;
    this.#since = performance.now();
    subscribe(CHANNELS.message, this.#onMessage);
    subscribe(CHANNELS.broadcast, this.#onBroadcast);
  }

  unwatch(): void {
    if (--this.#watchers > 0) return;
    unsubscribe(CHANNELS.message, this.#onMessage);
    unsubscribe(CHANNELS.broadcast, this.#onBroadcast);
  }

  /** Messages per second in and out since the last call (or since watching started). */
  rates(): { in: number; out: number } {
    const now = performance.now();
    const seconds = Math.max((now - this.#since) / 1000, 0.001);
    const rates = { in: Math.round(this.#in / seconds), out: Math.round(this.#out / seconds) };
    this.#in = 0;
    this.#out = 0;
    this.#since = now;
    return rates;
  }

  /** Stops recording (the page is no longer served). */
  stop(): void {
    unsubscribe(CHANNELS.refuse, this.#onRefuse);
    unsubscribe(CHANNELS.forcedClose, this.#onForcedClose);
    if (this.#watchers > 0) {
      this.#watchers = 1;
      this.unwatch();
    }
  }

  #push(list: Incident[], incident: Incident): void {
    list.unshift(incident);
    if (list.length > this.#keep) list.pop();
  }

  #onRefuse = (message: unknown): void => {
    const m = message as RefuseMessage;
    if (m.server !== this.#server) return;
    this.#push(this.refusals, { at: Date.now(), code: m.code, status: m.status, namespace: m.namespace, detail: m.message });
  };

  #onForcedClose = (message: unknown): void => {
    const m = message as ForcedCloseMessage;
    if (m.server !== this.#server) return;
    this.#push(this.forcedCloses, { at: Date.now(), code: m.code, status: m.closeCode, namespace: m.socket.namespace, detail: m.reason });
  };

  #onMessage = (message: unknown): void => {
    const m = message as MessageMessage;
    if (m.server !== this.#server) return;
    if (m.direction === "in") this.#in++;
    else this.#out++;
  };

  #onBroadcast = (message: unknown): void => {
    const m = message as BroadcastMessage;
    if (m.server === this.#server) this.#out += m.receivers;
  };
}
