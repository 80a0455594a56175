/**
 * Direct messages whose notice this node missed. With a store shared by nodes, a direct message
 * for a session held here is kept in the session's inbox and handed to this node by a pub/sub
 * notice, at most once: while this node's subscriber connection is cut, the notices are lost. The
 * backend says when that may have happened (`onResync`: the subscription is back, and now and
 * then); every resumable socket here then compares its inbox position with the store's and reads
 * what it was not handed, so a client that stays connected gets it without a further message.
 */
import type { LocalNode } from "../cluster/local-node.js";
import type { Logger } from "../logger.js";
import type { InboxRoute } from "./backend.js";
import type { StreamPosition } from "./history-log.js";
import { oneAtATime } from "./one-at-a-time.js";
import { SocketSession } from "./socket-session.js";

/** Sessions whose inbox tops are asked for in one batch: a node with many sessions sends its look-ups a batch at a time. */
export const RESYNC_BATCH = 500;

/**
 * The resyncs of one node's inboxes, one at a time: asked for while one runs (the subscriber came
 * back during a periodic check), one more runs after it, so the check that follows a resubscription
 * always reads after it, and a Redis that does not answer never has checks pile up.
 * @example
 * const resync = new InboxResync(node, backend.inbox, logger); backend.onResync?.(() => resync.request());
 */
export class InboxResync {
  readonly #node: LocalNode;
  readonly #route: InboxRoute;
  readonly #logger: Logger;
  /** Reads the inbox tops of every open resumable socket on the node and lets each read what it missed. */
  readonly request = oneAtATime(() => this.#run());

  constructor(node: LocalNode, route: InboxRoute, logger: Logger) {
    this.#node = node;
    this.#route = route;
    this.#logger = logger;
  }

  async #run(): Promise<void> {
    const held: [string, SocketSession][] = [];
    for (const socket of this.#node.sockets()) {
      const session = (socket as { resume?: unknown }).resume;
      if (!socket.closed && session instanceof SocketSession) held.push([socket.id, session]);
    }
    for (let i = 0; i < held.length; i += RESYNC_BATCH) {
      const batch = held.slice(i, i + RESYNC_BATCH);
      let tops: readonly (StreamPosition | undefined)[];
      try {
        tops = await this.#route.tops(batch.map(([sid]) => sid));
      } catch (error) {
        this.#logger.warn(
          { err: error },
          "resume: could not read the inboxes of this node's sessions after missed notices (read again at the next check)",
        );
        return;
      }
      const reads: Promise<void>[] = [];
      batch.forEach(([, session], k) => {
        const top = tops[k];
        if (top !== undefined) reads.push(session.inboxTop(top));
      });
      await Promise.all(reads);
    }
  }
}
