/**
 * The {@link InboxRoute} of the Redis resume stores: one Lua script per direct message reads which
 * node holds the session (the session hash's `n`, written by open, take and detach in their own
 * scripts) and, in the same atomic step, either PUBLISHes the message to that node's direct channel
 * (that node numbers it into the inbox, as its own socket's messages) or appends it to the inbox
 * (numbered, replayed at the resume). So a session away from every node misses nothing, a resume
 * that takes the session at the same moment finds the message in history or gets it forwarded, and
 * a holder that does not hear the forward (its subscriber is down, it died) leaves it in the inbox.
 */
import { encodeClusterOp } from "../../cluster/codec.js";
import type { InboxDelivery, InboxRoute } from "../../resume/backend.js";
import { inboxStream } from "../../resume/history-log.js";
import type { DirectChannels } from "./direct-channels.js";
import { script } from "./scripts.js";
import { sessionKey } from "./session-store.js";
import { frame, WireKind } from "./sharded-wire.js";
import { APPEND_STEPS, type RedisHistory } from "./streams-log.js";

/**
 * KEYS: inbox meta, inbox log, session hash. ARGV 1-8: the append's (streams-log.ts), then my id,
 * "1" if this node's own socket sends it, channel prefix, channel suffix, publish command, the
 * forwarded operation. { 0 } nothing done (no such session, or its holder unknown: a record of an
 * older version), { 1 } forwarded, { 2, epoch, seq } appended.
 */
const ROUTE = `local n = redis.call('HGET', KEYS[3], 'n')
if not n then
  if ARGV[10] ~= '1' then return { 0 } end
elseif n ~= '' and n ~= ARGV[9] then
  if redis.call(ARGV[13], ARGV[11] .. n .. ARGV[12], ARGV[14]) > 0 then return { 1 } end
end
${APPEND_STEPS}
return { 2, epoch, top }`;
const routeScript = script(ROUTE);

const NONE: InboxDelivery = { kind: "none" };
const FORWARDED: InboxDelivery = { kind: "forwarded" };

/**
 * Direct messages of resumable sessions over Redis, for every node.
 * @example
 * const route = new RedisInboxRoute(history, channels, "tsws");
 * const d = await route.deliver(sid, pushBody("note", { text: "hi" }), false);
 */
export class RedisInboxRoute implements InboxRoute {
  readonly #history: RedisHistory;
  readonly #channels: DirectChannels;
  readonly #prefix: string;

  constructor(history: RedisHistory, channels: DirectChannels, prefix: string) {
    this.#history = history;
    this.#channels = channels;
    this.#prefix = prefix;
  }

  async deliver(sid: string, body: string, own: boolean): Promise<InboxDelivery> {
    const { me, prefix, suffix, command } = this.#channels;
    const sender = me();
    // No send time: a numbered direct message is worth delivering however late (the adapters
    // drop routed operations older than maxOpAge only when they carry one).
    const op = encodeClusterOp(sender, { type: "sendTo", id: sid, data: `[0,${body}]` });
    const args = [sender, own ? "1" : "0", prefix, suffix, command, frame(WireKind.op, 0, op)];
    const reply = (await this.#history.appendWith(routeScript, inboxStream(sid), body, [sessionKey(this.#prefix, sid)], args)) as [
      number,
      string?,
      number?,
    ];
    if (reply[0] === 1) return FORWARDED;
    if (reply[0] !== 2) return NONE;
    return { kind: "appended", pos: { seq: Number(reply[2]), epoch: String(reply[1]) } };
  }
}
