/**
 * How the Redis resume stores reach one node from inside a Lua script: the node's direct channel
 * (the one its adapter hears sendTo, closes and members() questions on) and the command that
 * publishes there. The classic mode PUBLISHes on `P:direct:<id>`, the sharded mode SPUBLISHes on
 * `{P:n:<id>}:direct`; the resume stores work on one Redis in both, so a script may name any channel.
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
