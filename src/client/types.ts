/**
 * The client's public types: its options and the contract-typed interface `connect()` returns.
 * Type-only: importing the contract with `import type` keeps the schema library out of the bundle.
 */
import type {
  AnyContract,
  ClientEvents,
  ClientRequests,
  PayloadInputOf,
  PayloadOf,
  ReplyInputOf,
  ReplyOf,
  RequestDefinition,
  ServerEvents,
  ServerRequests,
} from "../contract/index.js";

/**
 * Where the connection stands: `connecting` (the first attempt), `open`, `reconnecting` (the link
 * dropped or an attempt failed; the next attempt waits for its backoff) and `closed` (for good:
 * `close()` was called, or the server said not to come back with 4401 or 1008).
 * @example
 * client.on("state", (state) => (banner.hidden = state === "open"));
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/**
 * The close that moved the client to `reconnecting` or `closed`. A link the liveness check gave up
 * on reports 1006 with the reason "no frame within idleMs + graceMs".
 * @example
 * client.on("state", (state, close) => { if (state === "closed" && close?.code === 4401) location.assign("/login"); });
 */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/**
 * A `gap` (resumable sessions): messages were missed and cannot be replayed; the application
 * refetches what it shows from its own store. Reported before the stream's next message.
 * - With `stream` (`"room:<name>"` or `"inbox:<id>"`, the socket's direct messages): seqs `from`..`to`
 *   (inclusive) of that stream are lost, because history kept only newer ones (`"trimmed"`), they
 *   were older than the history's ttl (`"expired"`) or one resume replays at most 1,000 messages
 *   (`"too many"`, the newest are replayed); or its history was lost (`"reset"`: no `from`/`to`,
 *   a new `epoch`, and what the new epoch holds is replayed).
 * - Without `stream` (reason `"expired"`): the session itself could not be resumed (its window
 *   ended, the server lost it, or the token was refused); a fresh session with a new `client.id`
 *   follows, and requests that were in flight reject with `DISCONNECTED`.
 * @example
 * client.on("gap", ({ stream, reason }) => (stream === undefined ? reloadAll() : refetch(stream, reason)));
 */
export interface Gap {
  readonly reason: "trimmed" | "expired" | "reset" | "too many";
  readonly stream?: string;
  /** The first lost seq of `stream`. */
  readonly from?: number;
  /** The last lost seq of `stream`. */
  readonly to?: number;
  /** The stream's epoch: numbering restarts whenever it changes. */
  readonly epoch?: string;
}

/**
 * The WebSocket constructor the client uses: the browser's or Node ≥ 22's global one, or ws'
 * (`import WebSocket from "ws"`) on Node 20. Only `onopen`, `onmessage`, `onclose`, `onerror`,
 * `send`, `close` and `readyState` are used.
 * @example
 * import WebSocket from "ws";
 * connect(url, { WebSocket });
 */
export type WebSocketConstructor = new (url: string, protocols: string[]) => unknown;

/**
 * Options of `connect()`; every one has a default.
 * @example
 * connect<typeof chat>("/chat/lobby", { reconnect: { baseMs: 1000 }, liveness: { idleMs: 30_000 } });
 */
export interface ClientOptions {
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (browsers, Node ≥ 22); Node 20 passes ws'. */
  readonly WebSocket?: WebSocketConstructor;
  /** Subprotocols offered after `tsws.v1` (which is always offered first). Default none. */
  readonly protocols?: readonly string[];
  /**
   * Reconnect with exponential backoff and full jitter: attempt n waits a random time in
   * [0, min(maxMs, baseMs · 2^n)), n counting from 0. After a server that says it is going away
   * (1001, 1012, 1013: a restart, when all its clients drop at once) n starts at 3, spreading them
   * over 8 · baseMs (4 s by default) instead of storming the new process. n starts over at 0 once
   * a connection is ready (with `resume`: once `welcome` or `resumed` arrived), so a server that
   * accepts and closes at once is retried ever more slowly.
   * `false` never reconnects. Default `{ baseMs: 500, maxMs: 10_000 }`.
   */
  readonly reconnect?: false | { readonly baseMs?: number; readonly maxMs?: number };
  /** Default timeout of `request()`, in milliseconds, offline time included. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /**
   * The offline buffer: emits and requests made while not open wait here and go out, in order, on
   * the next open. When full the oldest entry is dropped; entries older than `maxAgeMs` are dropped
   * too. A dropped request rejects (`DISCONNECTED` when pushed out, `TIMEOUT` when too old); a
   * dropped emit is reported to `onDrop`. Defaults: 100 messages, 256 KiB (UTF-8), 30 000 ms.
   */
  readonly buffer?: {
    readonly maxMessages?: number;
    readonly maxBytes?: number;
    readonly maxAgeMs?: number;
    readonly onDrop?: (event: string, data: unknown, reason: "full" | "expired" | "closed") => void;
  };
  /**
   * Liveness: the server sends `[9,"ping"]` with each heartbeat to a socket it has sent nothing to
   * since the last one (tswebsockets: every `heartbeatInterval`, 25 s by default, checked every
   * 10 s, so at most about 35 s apart; `idleMs` must stay above that). The client gives up on a link that delivered no frame
   * for `idleMs + graceMs` and reconnects; a timer that fires late (a throttled or frozen page) or a
   * wake-up (`visibilitychange`, `pageshow`, `online`) gives the link `graceMs` more to deliver what
   * queued up before it is judged. `false` turns it off. Default `{ idleMs: 40_000, graceMs: 10_000 }`.
   */
  readonly liveness?: false | { readonly idleMs?: number; readonly graceMs?: number };
  /**
   * Resumable sessions (the server needs its `resume` option): the client keeps the session's
   * token and its position in every stream (rooms with history, its direct messages), and a
   * reconnect within the server's `resume.ttl` (2 min by default), to any node, gets the same
   * `id`, rooms and `data` back and every missed message once, in order, before new ones; a `gap`
   * event reports what could not be replayed. Requests in flight at the drop are sent again with
   * the same id and answered once (the server keeps their replies); during a reconnect nothing is
   * sent before the session is back (`open` is reported then). The token travels as the
   * subprotocol `tsws-resume.<token>`, never in the URL. Positions live in memory: a page reload
   * starts a fresh session. Every (re)connection waits for the server's `welcome` or `resumed`
   * before it reports `open` (so `id` is set by then), at most `waitMs` (default 10 000): a server
   * without `resume` sends neither, and the client then goes on without a resumable session (after
   * a `gap` "expired" when it offered a token). `true` is `{}`. Default false.
   */
  readonly resume?: boolean | { readonly waitMs?: number };
}

/**
 * Options of one `emit()`.
 * @example
 * client.emit("typing", { on: true }, { volatile: true });
 */
export interface EmitOptions {
  /** Send only if open right now; never buffered. Default false. */
  readonly volatile?: boolean;
}

/**
 * Options of one `request()`.
 * @example
 * await client.request("send", { text }, { timeoutMs: 3000 });
 */
export interface RequestOptions {
  /** Milliseconds until the request rejects with `TIMEOUT`. Default: the client's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

// Data is optional exactly when the schema accepts undefined (or there is no schema).
type Args<P, O> = undefined extends P ? [data?: P, options?: O] : [data: P, options?: O];
type Req<D> = Extract<D, RequestDefinition>;
// Without a contract type (`connect(url)`), any name goes and data is `unknown`.
type Named<D, N> = string extends keyof D ? string : N;

/**
 * A connected client, typed by contract `C`. Event names "state" and "gap" are the client's own:
 * a contract's server events of those names cannot be listened to.
 * @example
 * const client = connect<typeof chat>("/chat/lobby");
 * client.on("message", (m) => render(m));
 * const { id } = await client.request("send", { text: "hi" });
 */
export interface Client<C extends AnyContract = AnyContract> {
  /** The current state. */
  readonly state: ClientState;
  /** The close that caused the current `reconnecting` or `closed` state, else undefined. */
  readonly lastClose: CloseInfo | undefined;
  /**
   * The socket id the server gave this session (`socket.id` there), once its `welcome` arrived;
   * undefined before, and always against a server without `resume`. Kept by a resume.
   */
  readonly id: string | undefined;
  /**
   * Whether the latest (re)connection resumed the previous session (true: nothing was lost that
   * a `gap` did not report) or started a fresh one (false). Read it when `state` turns `open`.
   */
  readonly resumed: boolean;
  /**
   * Sends an event. Returns true when it was sent or buffered, false when it was dropped
   * (volatile while not open, or the client is closed).
   */
  emit<E extends Named<C["client"], ClientEvents<C>>>(event: E, ...args: Args<PayloadInputOf<C["client"][E]>, EmitOptions>): boolean;
  /**
   * Sends a request and resolves with its reply; rejects with a `RequestError` carrying `code`
   * and `data` (a declared code, `TIMEOUT`, `DISCONNECTED`, `INVALID_PAYLOAD`...).
   */
  request<R extends Named<C["client"], ClientRequests<C>>>(
    request: R,
    ...args: Args<PayloadInputOf<C["client"][R]>, RequestOptions>
  ): Promise<ReplyOf<Req<C["client"][R]>>>;
  /**
   * Listens to state changes; returns the function that stops listening. `reconnecting` is reported
   * after each failed attempt too, with the close and `retryInMs`, the wait before the next attempt.
   */
  on(event: "state", listener: (state: ClientState, close: CloseInfo | undefined, retryInMs: number | undefined) => void): () => void;
  /** Listens to gaps (resumable sessions, see {@link Gap}); returns the function that stops listening. */
  on(event: "gap", listener: (gap: Gap) => void): () => void;
  /** Listens to a server event; returns the function that stops listening. */
  on<E extends Named<C["server"], ServerEvents<C>>>(event: E, listener: (data: PayloadOf<C["server"][E]>) => void): () => void;
  /**
   * Answers a server → client request: the returned (or awaited) value is the reply; a thrown
   * `RequestError` answers its code and data, anything else `INTERNAL`. One handler per name; returns
   * the function that removes it (then the request is answered `UNKNOWN_EVENT`).
   */
  handle<R extends Named<C["server"], ServerRequests<C>>>(
    request: R,
    handler: (data: PayloadOf<C["server"][R]>) => ReplyInputOf<Req<C["server"][R]>> | PromiseLike<ReplyInputOf<Req<C["server"][R]>>>,
  ): () => void;
  /** Closes for good (default 1000): no reconnect; pending and buffered requests reject `DISCONNECTED`. */
  close(code?: number, reason?: string): void;
}
