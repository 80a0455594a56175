/**
 * The message ids of pushes already delivered, for emits to several rooms: each room's stream
 * carries its own copy with the same id (`PushMeta`), and only the first is delivered. Bounded:
 * the oldest id is forgotten past {@link SEEN_IDS}.
 */

/**
 * How many ids are remembered. Copies of one message arrive close together: live, one per room
 * in the same turn on the server; in a replay, at most one resume's budget apart (1,000 messages,
 * `DEFAULT_MAX_REPLAY` in the server's gap-plan.ts). A copy held back longer (a slow Redis shard)
 * while more than this many other such messages are delivered would come through twice
 * (docs/resume.md says so).
 * @example
 * const seen = new SeenIds();
 * for (let i = 0; i <= SEEN_IDS; i++) seen.first({ id: `m${i}` }); // m0 is forgotten now
 */
export const SEEN_IDS = 4096;

/**
 * @example
 * const seen = new SeenIds();
 * seen.first({ id: "Qx3f_k2a.1" }); // true: deliver
 * seen.first({ id: "Qx3f_k2a.1" }); // false: a copy from another room's stream
 * seen.first(undefined); // true: a push of one room has no id
 */
export class SeenIds {
  readonly #ids = new Set<string>();

  /** Whether a push with this meta is the first copy of its message (true for a push without an id). */
  first(meta: { readonly id?: string } | undefined): boolean {
    const id = meta?.id;
    if (id === undefined) return true;
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > SEEN_IDS) this.#ids.delete(this.#ids.values().next().value as string); // a Set iterates oldest first
    return true;
  }
}
