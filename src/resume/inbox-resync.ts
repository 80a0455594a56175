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
import { SocketSession } from "./socket-session.js";

/** Sessions whose inbox tops are asked for in one batch: a node with many sessions sends its look-ups a batch at a time. */
export const RESYNC_BATCH = 500;

/**
 * Reads the inbox tops of every open resumable socket on `node` and lets each read what it missed.
 * Resolves once every batch was asked (the reads of the sessions behind run on); never rejects.
 * @example
 * backend.onResync?.(() => void resyncInboxes(node, backend.inbox!, logger));
 */
export async function resyncInboxes(node: LocalNode, route: InboxRoute, logger: Logger): Promise<void> {
  const held: [string, SocketSession][] = [];
  for (const socket of node.sockets()) {
    const session = (socket as { resume?: unknown }).resume;
    if (!socket.closed && session instanceof SocketSession) held.push([socket.id, session]);
  }
  for (let i = 0; i < held.length; i += RESYNC_BATCH) {
    const batch = held.slice(i, i + RESYNC_BATCH);
    let tops: readonly (StreamPosition | undefined)[];
    try {
      tops = await route.tops(batch.map(([sid]) => sid));
    } catch (error) {
      logger.warn(
        { err: error },
        "resume: could not read the inboxes of this node's sessions after missed notices (read again at the next check)",
      );
      return;
    }
    batch.forEach(([, session], k) => {
      const top = tops[k];
      if (top !== undefined) void session.inboxTop(top);
    });
  }
}
