/**
 * The test client's public types: its options and the contract-typed interface `testClient()`
 * resolves to.
 */
import type { Client, CloseInfo } from "../client/index.js";
import type { AnyContract, PayloadOf, ServerEvents } from "../contract/index.js";
import type { RawMessage } from "./inbox.js";

export type { RawMessage };

/**
 * Options of `testClient()`; every one has a default.
 * @example
 * await testClient<typeof chat>(server, "/chat/lobby", { headers: { cookie: "sid=s%3A…" }, requestTimeoutMs: 500 });
 */
export interface TestClientOptions {
  /**
   * Headers of the upgrade request (`cookie`, `authorization`, `origin`, `host`...). `Host` is
   * `localhost` unless given here; no `Origin` is sent unless given (like a non-browser client).
   */
  readonly headers?: Readonly<Record<string, string | string[]>>;
  /** Default timeout of `request()`, in milliseconds. Default 10 000, as for the client. */
  readonly requestTimeoutMs?: number;
}

/**
 * Options of `next()` and `receive()`.
 * @example
 * await c.next("message", { timeoutMs: 500 });
 */
export interface WaitOptions {
  /** Milliseconds to wait for an unread item before rejecting. Default 2000. */
  readonly timeoutMs?: number;
}

// Without a contract type any name goes and data is `unknown` (as for the client).
type Named<D, N> = string extends keyof D ? string : N;

/**
 * A client connected in memory, typed by contract `C`: the client's `emit`, `request`, `on` and
 * `handle`, plus ways to wait for what the server sends. On a raw namespace (no message layer)
 * only `send`, `receive`, `nothing`, `closed` and `close` apply; the event methods throw.
 * @example
 * const c = await testClient<typeof chat>(server, "/chat/lobby");
 * await c.request("send", { text: "hi" });
 * assert.equal((await c.next("message")).text, "hi");
 * await c.nothing(50);
 */
export interface TestClient<C extends AnyContract = AnyContract> extends Pick<Client<C>, "emit" | "request" | "on" | "handle"> {
  /** The negotiated subprotocol: `tsws.v1` on a message-layer namespace, `""` on a raw one. */
  readonly protocol: string;
  /**
   * The oldest server event named `event` not read yet, waiting up to `timeoutMs` (default 2000)
   * for one. Events are kept from the moment of connection, so one sent by `onConnect` is there.
   * Rejects with a message naming what is unread instead, or at once when the connection closes.
   */
  next<E extends Named<C["server"], ServerEvents<C>>>(event: E, options?: WaitOptions): Promise<PayloadOf<C["server"][E]>>;
  /**
   * Resolves after `ms` milliseconds unless an event, a server → client request or a raw message
   * arrives meanwhile (then it rejects, naming it). What arrived earlier does not count.
   */
  nothing(ms: number): Promise<void>;
  /** Resolves with the close code and reason once the connection has closed (by either side). */
  closed(): Promise<CloseInfo>;
  /** Sends a message as it is, no frame around it: for raw namespaces, or a hand-made frame. */
  send(data: string | Uint8Array): void;
  /**
   * The oldest message not read yet that is no tsws.v1 frame (every message, on a raw namespace):
   * text as a string, binary as a Buffer. Waits like {@link TestClient.next}.
   */
  receive(options?: WaitOptions): Promise<RawMessage>;
  /** Closes (default 1000) and resolves once closed; requests in flight reject `DISCONNECTED`. */
  close(code?: number, reason?: string): Promise<CloseInfo>;
}
