/**
 * `moved` notices that came before the socket they are about. Two takes of one token on two nodes
 * at once: the other node's take ran second in the store, and its notice to this node (on the
 * subscriber connection) overtook the answer to this node's own take (on the command connection).
 * This node then makes a socket for a generation already superseded (also while it still holds
 * the session on a half-open connection). Kept here briefly, the notice closes that socket one
 * turn after it is made ("resumed elsewhere"), instead of leaving it open, fenced, until the
 * lease renewal (`ttl / 3`) finds the newer generation.
 */

/** How long a notice is kept, in ms: past a take's answer under any store timeout in use. */
export const EARLY_MOVE_KEEP_MS = 30_000;
/** Most notices kept at once (oldest dropped first): notices for sessions this node no longer holds are common, and cost nothing else. */
const MAX_KEPT = 1024;

/**
 * The early `moved` notices of one node.
 * @example
 * const early = new EarlyMoves();
 * early.note("s1", 4); // a notice, no socket of s1 here yet
 * early.supersedes("s1", 3); // 4: the socket this node is making for generation 3 must close
 * early.supersedes("s1", 5); // undefined: a later take here
 */
export class EarlyMoves {
  /** sid -> the newest generation noticed and when (ms, `performance.now()`), oldest first. */
  readonly #noticed = new Map<string, { generation: number; at: number }>();

  /** Session `sid` moved to `generation` on another node (newer than any socket of it open here). */
  note(sid: string, generation: number, now = performance.now()): void {
    for (const [kept, { at }] of this.#noticed) {
      if (now - at < EARLY_MOVE_KEEP_MS && this.#noticed.size < MAX_KEPT) break;
      this.#noticed.delete(kept);
    }
    const before = this.#noticed.get(sid);
    this.#noticed.delete(sid); // re-inserted last: the order stays the order of arrival
    this.#noticed.set(sid, { generation: Math.max(generation, before?.generation ?? 0), at: now });
  }

  /**
   * The newer generation a notice told for session `sid`, when this node is making its socket for
   * `generation`; undefined when none is newer. The notice stays until it ages out: two older
   * takes here (the previous token is good too) are both superseded, and a later take here has a
   * newer generation, which no kept notice supersedes.
   */
  supersedes(sid: string, generation: number, now = performance.now()): number | undefined {
    const noticed = this.#noticed.get(sid);
    return noticed !== undefined && noticed.generation > generation && now - noticed.at < EARLY_MOVE_KEEP_MS
      ? noticed.generation
      : undefined;
  }
}
