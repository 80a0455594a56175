/**
 * How the Redis resume stores reach one node: the node's direct channel (the one its adapter hears
 * sendTo, closes and members() questions on) and the command that publishes there. The classic
 * mode PUBLISHes on `P:direct:<id>` from inside the stores' scripts (one Redis: a script may name
 * any channel). The sharded mode SPUBLISHes on `{P:n:<id>}:direct`, whose slot is the node's, not
 * the session's: a script may only SPUBLISH on a channel of its own keys' slot on a Redis Cluster,
 * so the stores hand such a notice to `send` once the script has answered (same order, one round
 * trip later, the adapter's publishing connection). The notices' bodies: resume-notices.ts.
 */

/**
 * One adapter's direct channels, for the session store (moved notices) and the inbox route.
 * @example
 * const channels: DirectChannels = { me: () => adapter.nodeId ?? "", prefix: "tsws:direct:", suffix: "", command: "PUBLISH" };
 */
export interface DirectChannels {
  /** This node's id; "" before the adapter started (nothing is routed to it then). */
  readonly me: () => string;
  /** A node's channel is `prefix + id + suffix`. */
  readonly prefix: string;
  readonly suffix: string;
  readonly command: "PUBLISH" | "SPUBLISH";
  /**
   * Publishes `notice` on node `node`'s direct channel, after the script that decided it answered.
   * Absent: the scripts publish it themselves, in the same atomic step.
   */
  readonly send?: (node: string, notice: Buffer) => void;
}
