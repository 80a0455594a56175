/**
 * Where a server's resumable sessions keep their history and sessions. One node: in memory. An
 * adapter that can share them between nodes (the Redis adapter) offers a factory under the
 * {@link resumeBackend} symbol: a symbol, so the cluster layer's `Adapter` contract needs no
 * knowledge of this layer, and an adapter without it simply gets the in-memory stores.
 */
import type { Logger } from "../logger.js";
import type { ResolvedResumeOptions } from "../options/resume.js";
import type { Awaitable, HistoryLog, StreamPosition } from "./history-log.js";
import { MemoryHistory } from "./memory-history.js";
import { MemorySessions } from "./memory-sessions.js";
import type { SessionStore } from "./session-store.js";

/**
 * The stores of one server's resumable sessions, and how to release them.
 * @example
 * const backend: ResumeBackend = { history, sessions, close: async () => redis.quit() };
 */
export interface ResumeBackend {
  readonly history: HistoryLog;
  readonly sessions: SessionStore;
  /**
   * Where a direct message to a session goes, decided with the stores in one step (a store shared
   * by nodes): to the node that holds the session, else into its inbox. Absent in memory, where
   * the sessions all live in this process.
   */
  readonly inbox?: InboxRoute;
  /**
   * Runs `listener` whenever this node may have missed the stores' notices (a store shared by
   * nodes tells a node of direct messages and replies by pub/sub, at most once): after its
   * subscriber connection was cut and is subscribed again, and now and then. The listener reads
   * what the notices would have said. Absent in memory, where nothing travels between nodes.
   */
  onResync?(listener: () => void): void;
  /** Releases connections and timers; called once the server's sockets have closed. */
  close(): Promise<void>;
}

/**
 * What became of a direct message offered to {@link InboxRoute.deliver}: `appended` to the session's
 * inbox at `pos` (`elsewhere`: another node holds the session and was handed the message, so it is
 * not for a socket here), or `none`: the store holds no such session (or one whose holder it
 * cannot tell), nothing was done.
 * @example
 * const d: InboxDelivery = { kind: "appended", pos: { seq: 3, epoch: "k3" }, elsewhere: false };
 */
export type InboxDelivery =
  | { readonly kind: "appended"; readonly pos: StreamPosition; readonly elsewhere: boolean }
  | { readonly kind: "none" };

/**
 * Routes direct messages of resumable sessions between nodes.
 * @example
 * const d = await route.deliver(sid, pushBody("note", { text: "hi" }), false); if (d.kind === "none") publishAsUsual();
 * route.onForwarded((sid, pos, body) => sessionHere(sid)?.appended(pos, body));
 */
export interface InboxRoute {
  /**
   * Appends `body` (a push body) to session `sid`'s inbox, when the store holds the session or
   * `own` (this node's socket sends it: appended even before the session's record is written),
   * and in the same step hands it to the node holding the session, when that is another node.
   */
  deliver(sid: string, body: string, own: boolean): Awaitable<InboxDelivery>;
  /** Runs `listener` for each message another node appended to the inbox of a session this node holds. */
  onForwarded(listener: (sid: string, pos: StreamPosition, body: string) => void): void;
  /**
   * The last position of each session's inbox (undefined: it has none), read without creating
   * anything: after missed notices, a session whose socket here is behind it reads the rest.
   */
  tops(sids: readonly string[]): Awaitable<readonly (StreamPosition | undefined)[]>;
}

/**
 * What an adapter offers under {@link resumeBackend}: called once per server that has `resume`.
 * @example
 * class MyAdapter { [resumeBackend](options: ResolvedResumeOptions, logger: Logger): ResumeBackend { ... } }
 */
export type ResumeBackendFactory = (options: ResolvedResumeOptions, logger: Logger) => ResumeBackend;

/** The key under which an adapter offers its {@link ResumeBackendFactory}. */
export const resumeBackend: unique symbol = Symbol("tswebsockets.resumeBackend");

/**
 * The adapter's backend if it offers one, else history and sessions in this process's memory.
 * @example
 * const { history, sessions } = backendFor(adapter, options, logger);
 */
export function backendFor(adapter: object, options: ResolvedResumeOptions, logger: Logger): ResumeBackend {
  const factory = (adapter as { [resumeBackend]?: ResumeBackendFactory })[resumeBackend];
  if (typeof factory === "function") return factory.call(adapter, options, logger);
  const history = new MemoryHistory(options.history);
  const sessions = new MemorySessions({ ttl: options.ttl, logger });
  // Expiry of in-memory history is lazy; a sweep now and then releases streams nobody reads.
  const sweep = setInterval(() => history.sweep(), Math.max(1000, options.history.ttl / 4));
  sweep.unref();
  return {
    history,
    sessions,
    close: async () => {
      clearInterval(sweep);
      await sessions.close();
    },
  };
}
