import type { Duplex } from "node:stream";
import { Refusal } from "../errors.js";

/**
 * Counts connections (open sockets and handshakes in progress) in total and per client address,
 * so an upgrade over a cap is refused before any work is done for it. A connection is counted from
 * `admit` until its TCP socket closes, whatever happened in between.
 * @example
 * const caps = new ConnectionCaps(10_000, 20);
 * const refusal = caps.admit(req.socket.remoteAddress ?? "", raw);
 * if (refusal) refuseUpgrade(raw, refusal.status, "too many connections");
 */
export class ConnectionCaps {
  readonly #max: number;
  readonly #maxPerAddress: number;
  readonly #perAddress = new Map<string, number>();
  #total = 0;

  /** @param maxPerAddress 0 turns the per-address cap off */
  constructor(max: number, maxPerAddress: number) {
    this.#max = max;
    this.#maxPerAddress = maxPerAddress;
  }

  /** Counts `raw` in, or says which cap it is over (it is then not counted). */
  admit(address: string, raw: Duplex): (typeof Refusal)["tooManyConnections" | "tooManyFromAddress"] | undefined {
    if (this.#total >= this.#max) return Refusal.tooManyConnections;
    if (this.#maxPerAddress === 0) {
      // The common case: no per-address map entry and one shared listener ("close" fires once,
      // so `on` needs no `once` wrapper), instead of a closure per socket over its address.
      this.#total++;
      raw.on("close", this.#releaseOne);
      return undefined;
    }
    const mine = this.#perAddress.get(address) ?? 0;
    if (mine >= this.#maxPerAddress) return Refusal.tooManyFromAddress;
    this.#total++;
    this.#perAddress.set(address, mine + 1);
    raw.once("close", () => this.#release(address));
    return undefined;
  }

  /**
   * The handshake of `raw` succeeded: its WebSocket's own "close" (which follows the TCP socket's)
   * will call {@link release}, so the TCP socket's listener goes. Two "close" listeners on one
   * socket cost it an array of listeners (about 60 bytes held for the connection's whole life).
   * Per-address counting keeps its listener (it holds the address).
   */
  handOver(raw: Duplex): void {
    if (this.#maxPerAddress === 0) raw.off("close", this.#releaseOne);
  }

  /**
   * A connection handed over with {@link handOver} has closed; call once per connection. Does
   * nothing under per-address counting, whose listener still counts the close.
   */
  release(): void {
    if (this.#maxPerAddress === 0) this.#total--;
  }

  #releaseOne = (): void => {
    this.#total--;
  };

  #release(address: string): void {
    this.#total--;
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
  }
}
