/**
 * How the Redis resume stores reach one node: the node's direct channel (the one its adapter hears
 * sendTo, closes and members() questions on) and the command that publishes there. The classic
 * mode PUBLISHes on `P:direct:<id>` from inside the stores' scripts (one Redis: a script may name
 * any channel). The sharded mode SPUBLISHes on `{P:n:<id>}:direct`, whose slot is the node's, not
 * the session's: a script may only SPUBLISH on a channel of its own keys' slot on a Redis Cluster,
 * so the stores hand such a notice to `send` once the script has answered (same order, one round
 * trip later, the adapter's publishing connection). Also: how the bodies of the `moved` and `reply`
 * notices are read.
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

/**
 * The body of a `moved` notice (`<generation>:<sid>`), or undefined when malformed.
 * @example
 * parseMoved(Buffer.from("3:0f8e")); // { generation: 3, sid: "0f8e" }
 */
export function parseMoved(body: Buffer): { generation: number; sid: string } | undefined {
  const text = body.toString();
  const colon = text.indexOf(":");
  const generation = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(generation)) return undefined;
  return { generation, sid: text.slice(colon + 1) };
}

/**
 * The body of a `reply` notice (`<request id>:<sid bytes>:<sid><frame>`, lengths in bytes), or
 * undefined when malformed.
 * @example
 * parseReply(Buffer.from('7:4:0f8e[2,7,1]')); // { id: 7, sid: "0f8e", frame: "[2,7,1]" }
 */
export function parseReply(body: Buffer): { id: number; sid: string; frame: string } | undefined {
  const a = body.indexOf(58);
  const b = a < 0 ? -1 : body.indexOf(58, a + 1);
  const id = Number(body.toString("latin1", 0, a));
  const length = Number(body.toString("latin1", a + 1, b));
  if (a < 1 || b < 0 || !Number.isSafeInteger(id) || !Number.isSafeInteger(length) || b + 1 + length > body.length) return undefined;
  return { id, sid: body.toString("utf8", b + 1, b + 1 + length), frame: body.toString("utf8", b + 1 + length) };
}
