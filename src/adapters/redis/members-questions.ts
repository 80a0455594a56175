/**
 * `members(room)` across nodes, shared by both modes of the Redis adapter: this node publishes a
 * question (who holds members of the room?), Redis answers with the ids of the nodes that might,
 * and each of them answers on this node's direct channel. The answers are merged with this node's
 * own members. Whatever fails or takes longer than `membersTimeout` degrades to fewer answers,
 * never to an error: this node's own members are always exact.
 */
import type { SocketId } from "../../types.js";
import { frame, type MembersAnswer, type MembersQuestion, WireKind } from "./sharded-wire.js";

interface Open {
  readonly answers: Map<string, SocketId[]>;
  waitFor: Set<string> | undefined;
  done(): void;
}

/** The counters `members()` moves (see `RedisAdapterStats`). */
export interface MembersCounts {
  membersLocalOnly: number;
  membersIncomplete: number;
}

/**
 * How one question is put: `send` publishes the framed question and resolves to the ids of the
 * nodes asked (undefined: not sent); `skip` leaves a node out of the wait (one known to be dead).
 */
export interface Asking {
  readonly send: (question: Buffer) => Promise<readonly string[] | undefined>;
  readonly skip?: (node: string) => boolean;
  readonly failed: (error: unknown) => void;
}

/**
 * The open `members()` questions of one node, by question id.
 * @example
 * const questions = new MembersQuestions(() => node.nodeId, 1000, counts);
 * const ids = await questions.ask("lobby", localIds, { send: (q) => runScript(pub, script, keys, [q]), failed: log });
 * // on this node's direct channel: questions.answer(JSON.parse(body))
 */
export class MembersQuestions {
  readonly #me: () => string;
  readonly #timeoutMs: number;
  readonly #counts: MembersCounts;
  readonly #open = new Map<number, Open>();
  #qid = 0;

  /** @param me this node's id (known once the adapter is attached to its node) */
  constructor(me: () => string, timeoutMs: number, counts: MembersCounts) {
    this.#me = me;
    this.#timeoutMs = timeoutMs;
    this.#counts = counts;
  }

  /** This node's members of `room` (`local`) plus every answer received within the timeout. */
  async ask(room: string, local: SocketId[], asking: Asking): Promise<SocketId[]> {
    const qid = ++this.#qid;
    let done = () => {};
    const answered = new Promise<void>((resolve) => {
      done = resolve;
    });
    const open: Open = { answers: new Map(), waitFor: undefined, done };
    this.#open.set(qid, open);
    const me = this.#me();
    const question: MembersQuestion = { from: me, qid, room };
    let timer: NodeJS.Timeout | undefined;
    // One deadline for both waits: Redis' answer and the nodes' answers.
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#timeoutMs);
    });
    try {
      const holders = await Promise.race([asking.send(frame(WireKind.ask, 0, Buffer.from(JSON.stringify(question)))), timeout]);
      if (holders === "timeout" || holders === undefined) {
        this.#counts.membersLocalOnly++;
        return local;
      }
      open.waitFor = new Set(holders.filter((id) => id !== me && asking.skip?.(id) !== true));
      this.#settle(open);
      if ((await Promise.race([answered.then(() => "ok" as const), timeout])) === "timeout") this.#counts.membersIncomplete++;
      const ids = new Set(local);
      for (const list of open.answers.values()) for (const id of list) ids.add(id);
      return [...ids];
    } catch (error) {
      asking.failed(error);
      this.#counts.membersLocalOnly++;
      return local;
    } finally {
      clearTimeout(timer);
      this.#open.delete(qid);
    }
  }

  /** An answer arrived on this node's direct channel (late ones, after their question closed, are ignored). */
  answer(answer: MembersAnswer): void {
    const open = this.#open.get(answer.qid);
    if (open === undefined) return;
    open.answers.set(answer.from, answer.ids);
    this.#settle(open);
  }

  #settle(open: Open): void {
    if (open.waitFor === undefined) return;
    for (const id of open.waitFor) if (!open.answers.has(id)) return;
    open.done();
  }
}
