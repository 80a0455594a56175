/**
 * `connect()`: a tsws.v1 client for browsers and Node. One WebSocket at a time; when it drops, the
 * client waits a backoff with full jitter and opens the next, until `close()` or a close code that
 * means "don't come back" (4401, 1008). Requests live in a table keyed by id; what is sent while the
 * link is down waits in the bounded offline buffer.
 *
 * With `resume`, a reconnect offers the session's token and positions and holds everything back
 * until the server answers `resumed` (requests in flight at the drop are sent again, under the same
 * id, for the server's reply cache to answer once) or `welcome` (a fresh session: they reject
 * `DISCONNECTED`, as without resume, since they may or may not have run).
 */
import type { AnyContract } from "../contract/index.js";
import { CloseCode } from "../protocol/close-codes.js";
import { decodeFrame } from "../protocol/decode-frame.js";
import { ErrorCode } from "../protocol/error-codes.js";
import {
  encodeControl,
  encodeError,
  encodeEvent,
  encodeReply,
  encodeRequest,
  FrameKind,
  RESUME_SUBPROTOCOL_PREFIX,
  SUBPROTOCOL,
} from "../protocol/frames.js";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "../protocol/limits.js";
import { RequestError } from "../protocol/request-error.js";
import { Liveness } from "./liveness.js";
import { type DropReason, type Entry, OfflineBuffer } from "./offline-buffer.js";
import { ResumeSession } from "./resume-session.js";
import { SeenIds } from "./seen-ids.js";
import type { Client, ClientOptions, ClientState, CloseInfo, WebSocketConstructor } from "./types.js";

/** The part of a WebSocket (browser, undici or ws) the client touches. */
interface Link {
  readonly readyState: number;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

interface Pending {
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: RequestError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly text: string;
  /** The link it went out on; undefined while it waits in the buffer or is held. */
  link?: Link;
  /** Sent on a link that dropped, unanswered: waits for the resume to be sent again. */
  held?: boolean;
}

type Listener = (...args: never[]) => void;
type Handler = (data: unknown) => unknown;

// The server is restarting: its clients all come back at once unless the first wait is wider.
const GOING_AWAY = [CloseCode.GOING_AWAY, 1012, 1013];
const DEAD: CloseInfo = { code: 1006, reason: "no frame within idleMs + graceMs" };
const WAKE_EVENTS = ["visibilitychange", "pageshow", "online"];

/**
 * Opens a client to `url` (ws:, wss:, or http(s): and relative URLs resolved against the page)
 * offering the `tsws.v1` subprotocol, and keeps it connected until `close()`.
 * @example
 * import { connect, RequestError } from "tswebsockets/client";
 * import type { chat } from "./chat-contract.js";
 * const client = connect<typeof chat>("/chat/lobby");
 * client.on("message", (m) => render(m));
 * client.on("state", (state) => (banner.textContent = state));
 * const { id } = await client.request("send", { text: "hi" }, { timeoutMs: 5000 });
 * @throws TypeError when no WebSocket constructor is available (Node 20: pass `{ WebSocket }` from
 * ws) or an option is not a positive number; a SyntaxError for a URL the WebSocket refuses.
 */
export function connect<C extends AnyContract = AnyContract>(url: string | URL, options: ClientOptions = {}): Client<C> {
  return new TswsClient(url, options) as unknown as Client<C>;
}

class TswsClient {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #protocols: string[];
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #timeoutMs: number;
  readonly #onDrop: NonNullable<NonNullable<ClientOptions["buffer"]>["onDrop"]> | undefined;
  readonly #buffer: OfflineBuffer;
  readonly #liveness: Liveness | undefined;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, Pending>();
  readonly #session = new ResumeSession();
  /** Message ids of pushes to several rooms already delivered (kept across reconnects, as positions are). */
  readonly #seen = new SeenIds();
  /** With `resume`: how long a link waits for `welcome` or `resumed` (ms); undefined without. */
  readonly #waitMs: number | undefined;
  #link: Link | undefined;
  /** The link (with `resume`) that waits for `welcome` or `resumed` before it counts as open. */
  #resuming: Link | undefined;
  #waiting: ReturnType<typeof setTimeout> | undefined;
  #state: ClientState = "connecting";
  #lastClose: CloseInfo | undefined;
  #attempt = 0;
  #lastId = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #wake = () => this.#liveness?.wake();

  constructor(url: string | URL, options: ClientOptions) {
    const g = globalThis as { WebSocket?: WebSocketConstructor; location?: { href: string } };
    const WebSocket = options.WebSocket ?? g.WebSocket;
    if (typeof WebSocket !== "function") {
      throw new TypeError('connect: no WebSocket constructor here; on Node 20 pass { WebSocket } from "ws"');
    }
    const resolved = new URL(url, g.location?.href);
    resolved.protocol = resolved.protocol.replace("http", "ws");
    this.#url = resolved.href;
    this.#WebSocket = WebSocket;
    this.#protocols = [...(options.protocols ?? [])];
    const { reconnect, liveness, buffer = {} } = options;
    const resume = options.resume;
    this.#waitMs =
      resume === true
        ? WELCOME_WAIT_MS
        : typeof resume === "object" && resume !== null
          ? positive("resume.waitMs", resume.waitMs, WELCOME_WAIT_MS)
          : undefined;
    this.#baseMs = reconnect === false ? -1 : positive("reconnect.baseMs", reconnect?.baseMs, 500);
    this.#maxMs = reconnect === false ? -1 : positive("reconnect.maxMs", reconnect?.maxMs, 10_000);
    this.#timeoutMs = positive("requestTimeoutMs", options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
    this.#onDrop = buffer.onDrop;
    this.#buffer = new OfflineBuffer(
      positive("buffer.maxMessages", buffer.maxMessages, 100),
      positive("buffer.maxBytes", buffer.maxBytes, 262_144),
      positive("buffer.maxAgeMs", buffer.maxAgeMs, 30_000),
      (entry, reason) => this.#dropped(entry, reason),
    );
    if (liveness !== false) {
      const idleMs = positive("liveness.idleMs", liveness?.idleMs, 40_000);
      const graceMs = positive("liveness.graceMs", liveness?.graceMs, 10_000);
      this.#liveness = new Liveness(idleMs, graceMs, () => this.#closed(this.#link, DEAD));
      for (const name of WAKE_EVENTS) (globalThis as Partial<EventTarget>).addEventListener?.(name, this.#wake);
    }
    this.#open(true);
  }

  get state(): ClientState {
    return this.#state;
  }

  get lastClose(): CloseInfo | undefined {
    return this.#lastClose;
  }

  get id(): string | undefined {
    return this.#session.id;
  }

  get resumed(): boolean {
    return this.#session.resumed;
  }

  emit(event: string, data?: unknown, options?: { volatile?: boolean }): boolean {
    const text = encodeEvent(event, data);
    if (this.#link !== undefined && this.#state === "open") this.#link.send(text);
    else if (options?.volatile || this.#state === "closed") return false;
    else this.#buffer.push(event, data, text);
    return true;
  }

  request(event: string, data?: unknown, options?: { timeoutMs?: number }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") throw new RequestError(ErrorCode.DISCONNECTED, undefined, "the client is closed");
      const id = ++this.#lastId;
      const text = encodeRequest(id, event, data);
      const timeoutMs = positive("timeoutMs", options?.timeoutMs, this.#timeoutMs);
      const timer = setTimeout(
        () => this.#settle(id, new RequestError(ErrorCode.TIMEOUT, undefined, `no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const pending: Pending = { resolve, reject, timer, text };
      this.#pending.set(id, pending);
      if (this.#link !== undefined && this.#state === "open") {
        pending.link = this.#link;
        this.#link.send(text);
      } else this.#buffer.push(event, data, text, id);
    });
  }

  on(event: string, listener: Listener): () => void {
    const key = event === "state" || event === "gap" ? event : `:${event}`;
    let set = this.#listeners.get(key);
    if (set === undefined) this.#listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  handle(request: string, handler: Handler): () => void {
    this.#handlers.set(request, handler);
    return () => this.#handlers.get(request) === handler && this.#handlers.delete(request);
  }

  close(code: number = CloseCode.NORMAL, reason = ""): void {
    const link = this.#link;
    link?.close(code, reason); // first: a code the WebSocket refuses throws here, and nothing changed
    this.#closed(link, { code, reason }, true);
  }

  #open(first = false): void {
    let link: Link;
    const tokens = this.#waitMs !== undefined ? this.#session.offer() : [];
    const offered = tokens.length > 0;
    try {
      // Tokens ride in the subprotocol list (never the URL), right after tsws.v1; the server only reads them.
      const offer = tokens.map((token) => RESUME_SUBPROTOCOL_PREFIX + token);
      link = new this.#WebSocket(this.#url, [SUBPROTOCOL, ...offer, ...this.#protocols]) as Link;
    } catch (error) {
      if (first) throw error;
      this.#closed(undefined, { code: 1006, reason: String(error) });
      return;
    }
    this.#link = link;
    link.onopen = () => {
      this.#liveness?.touch();
      if (this.#waitMs === undefined) {
        this.#ready(link, false);
        return;
      }
      // The positions go first: the server replays from them, then says `resumed`.
      if (offered) link.send(this.#session.positions());
      else this.#session.reset(); // a fresh session: positions of an earlier one mean nothing to it
      this.#resuming = link;
      this.#waiting = setTimeout(() => this.#unwelcomed(link, offered), this.#waitMs);
    };
    link.onmessage = ({ data }) => {
      if (this.#link !== link) return;
      this.#liveness?.touch();
      if (typeof data === "string") this.#frame(link, data);
    };
    link.onclose = ({ code, reason }) => this.#closed(link, { code, reason });
    link.onerror = () => {}; // a close event follows every error
  }

  /**
   * The link is usable: requests held from a dropped link go out again (resumed) or reject (a fresh
   * session), then the buffer is flushed, then `open` is reported.
   */
  #ready(link: Link, resumed: boolean): void {
    // The backoff starts over only now: a server that accepts and then closes before `welcome`
    // or `resumed` (overloaded, a failing replay) is retried ever more slowly, not every baseMs.
    this.#attempt = 0;
    this.#resuming = undefined;
    clearTimeout(this.#waiting);
    for (const [id, pending] of this.#pending) {
      if (!pending.held) continue;
      if (!resumed) this.#settle(id, new RequestError(ErrorCode.DISCONNECTED, undefined, "the session could not be resumed"));
      else {
        pending.held = false;
        pending.link = link;
        link.send(pending.text);
      }
    }
    this.#buffer.flush((entry) => {
      const pending = entry.id === undefined ? undefined : this.#pending.get(entry.id);
      if (pending !== undefined) pending.link = link;
      link.send(entry.text);
    });
    this.#setState("open", undefined);
  }

  /** The link closed (or was given up on, or `close()` was called): settle, then retry or finish. */
  #closed(link: Link | undefined, close: CloseInfo, byUser = false): void {
    if (link !== this.#link || this.#state === "closed") return;
    this.#link = undefined;
    this.#resuming = undefined;
    clearTimeout(this.#waiting);
    this.#liveness?.stop();
    if (link !== undefined) {
      link.onopen = link.onmessage = link.onclose = null;
      if (!byUser) link.close(); // a link the liveness check gave up on may still be half-open
    }
    const final = byUser || this.#baseMs < 0 || close.code === CloseCode.SESSION_ENDED || close.code === CloseCode.POLICY;
    // With a session to resume, requests in flight wait for it instead of failing.
    const hold = !final && this.#waitMs !== undefined && this.#session.token !== undefined;
    for (const [id, pending] of this.#pending) {
      if (byUser || (final && pending.held) || (link !== undefined && pending.link === link)) {
        if (hold) {
          pending.link = undefined;
          pending.held = true;
        } else this.#settle(id, new RequestError(ErrorCode.DISCONNECTED, undefined, "the connection closed first"));
      }
    }
    if (final) {
      clearTimeout(this.#retry);
      for (const name of WAKE_EVENTS) (globalThis as Partial<EventTarget>).removeEventListener?.(name, this.#wake);
      this.#setState("closed", close);
      this.#buffer.clear();
      return;
    }
    if (this.#state === "open" && GOING_AWAY.includes(close.code)) this.#attempt = 3;
    const delay = Math.random() * Math.min(this.#maxMs, this.#baseMs * 2 ** this.#attempt++);
    this.#retry = setTimeout(() => this.#open(), delay);
    this.#setState("reconnecting", close, delay);
  }

  /**
   * No `welcome` or `resumed` within `waitMs`: the server does not keep sessions (its `resume`
   * option is off) or cannot now. The link goes on as a fresh session that nothing will resume;
   * a token it offered is let go (after a `gap` "expired", as for a refused resume; `id` goes with
   * it), so the next reconnect does not wait again. A `welcome` that still comes later sets both.
   */
  #unwelcomed(link: Link, offered: boolean): void {
    if (this.#link !== link || this.#resuming !== link) return;
    this.#session.reset();
    this.#session.id = this.#session.token = this.#session.fallback = undefined;
    if (offered) this.#emitLocal("gap", { reason: "expired" });
    this.#ready(link, false);
  }

  #frame(link: Link, text: string): void {
    const result = decodeFrame(text);
    if (!result.ok) {
      link.send(encodeError(result.id, ErrorCode.INVALID_FRAME, undefined, result.message));
      return;
    }
    const f = result.frame;
    if (f[0] === FrameKind.EVENT) this.#emitLocal(`:${f[1]}`, f[2]);
    else if (f[0] === FrameKind.PUSH) {
      // Both first: a copy of a message from another room's stream still advances this stream.
      if (this.#session.admit(f[1], f[2]) && this.#seen.first(f[5])) this.#emitLocal(`:${f[3]}`, f[4]);
    } else if (f[0] === FrameKind.REQUEST) void this.#answer(link, f[1], f[2], f[3]);
    else if (f[0] === FrameKind.REPLY) this.#settle(f[1], undefined, f[2]);
    else if (f[0] === FrameKind.ERROR) {
      if (f[1] !== null) this.#settle(f[1], new RequestError(f[2], f[3] ?? undefined, f[4]));
    } else if (f[1] === "gap") {
      this.#session.gap(f[2] as object);
      this.#emitLocal("gap", f[2]);
    } else if (f[1] === "welcome" || f[1] === "resumed") {
      this.#session.start(f[1] === "resumed", f[2] as object);
      // The new token is in hand: the server retires the one this link resumed with.
      if (f[1] === "resumed") link.send(encodeControl("confirm"));
      if (this.#resuming === link) this.#ready(link, this.#session.resumed);
    }
  }

  async #answer(link: Link, id: number, name: string, data: unknown): Promise<void> {
    const handler = this.#handlers.get(name);
    let text: string;
    try {
      if (handler === undefined) throw new RequestError(ErrorCode.UNKNOWN_EVENT);
      text = encodeReply(id, await handler(data));
    } catch (error) {
      // Only the code and data travel: messages are for this side's logs.
      text = error instanceof RequestError ? encodeError(id, error.code, error.data) : encodeError(id, ErrorCode.INTERNAL);
    }
    // A reply for a link that is gone has no reader: the server already settled it DISCONNECTED.
    if (this.#link === link) link.send(text);
  }

  #settle(id: number, error?: RequestError, reply?: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (pending.link === undefined) this.#buffer.remove(id);
    if (error === undefined) pending.resolve(reply);
    else pending.reject(error);
  }

  #dropped(entry: Entry, reason: DropReason): void {
    if (entry.id === undefined) {
      this.#onDrop?.(entry.event, entry.data, reason);
      return;
    }
    const code = reason === "expired" ? ErrorCode.TIMEOUT : ErrorCode.DISCONNECTED;
    this.#settle(entry.id, new RequestError(code, undefined, `dropped from the offline buffer (${reason})`));
  }

  #setState(state: ClientState, close: CloseInfo | undefined, retryInMs?: number): void {
    this.#lastClose = close;
    if (state === this.#state && state !== "reconnecting") return;
    this.#state = state;
    this.#emitLocal("state", state, close, retryInMs);
  }

  /** Server events are stored under ":name", so a server event can never reach "state" or "gap" listeners. */
  #emitLocal(key: string, ...args: unknown[]): void {
    for (const listener of this.#listeners.get(key) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}

/** How long a link with `resume` waits for `welcome` or `resumed` by default, in ms (the default request timeout). */
const WELCOME_WAIT_MS = 10_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0))
    throw new TypeError(`connect: ${name} must be a positive number of milliseconds or messages, got ${value}`);
  return value;
}
