/**
 * Work that must not overlap with itself and need not queue up: asked for while it runs, it runs
 * once more after (however often it was asked meanwhile), so a run always starts after the last
 * request. For resyncs and resubscriptions, which bursts of events ask for (a Cluster's failover,
 * a subscription back during a periodic check) and which a Redis that does not answer must not
 * pile up.
 * @example
 * const resync = oneAtATime(() => readInboxTops()); // resync(); resync(); → one run, then one more
 */
export function oneAtATime(work: () => Promise<unknown>): () => void {
  let state: "idle" | "running" | "again" = "idle";
  const request = (): void => {
    if (state !== "idle") {
      state = "again";
      return;
    }
    state = "running";
    void work()
      .catch(() => {}) // the work reports its own failures; a rejection must not end the chain
      .finally(() => {
        const again = state === "again";
        state = "idle";
        if (again) request();
      });
  };
  return request;
}
