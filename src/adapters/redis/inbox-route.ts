/**
 * The {@link InboxRoute} of the Redis resume stores: one Lua script per direct message appends it
 * to the session's inbox (numbered, replayed at a resume) and, in the same atomic step, reads which
 * node holds the session (the session hash's `n`, written by open, take and detach in their own
 * scripts) and, when that is another node, PUBLISHes the numbered message to that node's direct
 * channel (in the script; on a Redis Cluster, where the channel is in another slot, right after
 * it), which writes it to the session's socket there. So a message lands in history whatever
 * happens to the hop: a session away from every node gets it at its resume, a resume that takes the
 * session at the same moment reads it or hears of it, and a holder that does not hear the hop (its
 * subscriber is down, it died) delivers it with the next message (a hole it reads), once its
 * subscription is back or at its check every ttl / 3 (it compares its sessions with {@link
 * RedisInboxRoute.tops}), or the client gets it at the resume.
 */
import { consoleLogger, type Logger } from "../../logger.js";
import type { InboxDelivery, InboxRoute } from "../../resume/backend.js";
import { inboxStream, type StreamPosition } from "../../resume/history-log.js";
import { Listeners } from "../../resume/listeners.js";
import type { DirectChannels } from "./direct-channels.js";
import { INBOX_HEAD, inboxNotice, parseInbox } from "./resume-notices.js";
import { script } from "./scripts.js";
import type { SessionLayout } from "./session-layout.js";
import { APPEND_STEPS, type RedisHistory } from "./streams-log.js";

/**
 * KEYS: inbox meta, inbox log, session hash (one slot: session-layout.ts). ARGV 1-8: the append's
 * (streams-log.ts), then my id, "1" if this node's own socket sends it, channel prefix, channel
 * suffix, publish command ("" = the caller publishes), the notice head, the sid. { 0 } nothing done
 * (no such session, or one whose holder is not kept: a record of an older version; and not this
 * node's own socket), else { epoch, seq, 1 if another node holds the session (told
 * `<head><seq>:<epoch>:<sid length>:<sid><body>`), that node }.
 */
const ROUTE = `local n = redis.call('HGET', KEYS[3], 'n')
if not n and ARGV[10] ~= '1' then return { 0 } end
${APPEND_STEPS}
local away = 0
if n and n ~= '' and n ~= ARGV[9] then
  away = 1
  if ARGV[13] ~= '' then
    redis.call(ARGV[13], ARGV[11] .. n .. ARGV[12], ARGV[14] .. top .. ':' .. epoch .. ':' .. #ARGV[15] .. ':' .. ARGV[15] .. ARGV[5])
  end
end
return { epoch, top, away, n or '' }`;
const routeScript = script(ROUTE);

const NONE: InboxDelivery = { kind: "none" };

/**
 * Direct messages of resumable sessions over Redis, for every node.
 * @example
 * const route = new RedisInboxRoute(history, channels, slotLayout("tsws"));
 * const d = await route.deliver(sid, pushBody("note", { text: "hi" }), false);
 */
export class RedisInboxRoute implements InboxRoute {
  readonly #history: RedisHistory;
  readonly #channels: DirectChannels;
  readonly #layout: SessionLayout;
  readonly #forwarded: Listeners<[string, StreamPosition, string]>;

  /**
   * @param layout where the session hashes are: the same layout as `history`'s
   * @param logger where a throwing `onForwarded` listener is reported (default: stderr)
   */
  constructor(history: RedisHistory, channels: DirectChannels, layout: SessionLayout, logger: Logger = consoleLogger) {
    this.#history = history;
    this.#channels = channels;
    this.#layout = layout;
    this.#forwarded = new Listeners(logger, "resume: an inbox listener threw");
  }

  async deliver(sid: string, body: string, own: boolean): Promise<InboxDelivery> {
    const { me, prefix, suffix, command, send } = this.#channels;
    const args = [me(), own ? "1" : "0", prefix, suffix, send === undefined ? command : "", INBOX_HEAD, sid];
    const answer = (await this.#history.appendWith(routeScript, inboxStream(sid), body, [this.#layout.hash(sid)], args)) as unknown[];
    if (answer.length < 4) return NONE;
    const reply = answer as [string, number, number, string];
    const pos = { seq: Number(reply[1]), epoch: String(reply[0]) };
    if (reply[2] === 1 && send !== undefined) {
      // The holder's channel is in another slot than the inbox: told now, in the order the appends were answered.
      send(reply[3], inboxNotice(pos, sid, body));
    }
    return { kind: "appended", pos, elsewhere: reply[2] === 1 };
  }

  onForwarded(listener: (sid: string, pos: StreamPosition, body: string) => void): void {
    this.#forwarded.add(listener);
  }

  tops(sids: readonly string[]): Promise<(StreamPosition | undefined)[]> {
    return this.#history.tops(sids.map(inboxStream));
  }

  /**
   * An `inbox` notice arrived on this node's direct channel (the adapter passes its body): a message
   * another node appended to the inbox of a session this node holds. False when malformed.
   */
  forwarded(notice: Buffer): boolean {
    const inbox = parseInbox(notice);
    if (inbox === undefined) return false;
    this.#forwarded.run({ sid: inbox.sid }, inbox.sid, inbox.pos, inbox.body);
    return true;
  }
}
