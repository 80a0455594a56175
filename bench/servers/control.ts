/**
 * The server side of the runner's IPC: announces the port, and answers "stats" with this process's
 * CPU time and memory (after a full garbage collection when asked, for the idle scenario).
 */

/** What a server child reports when asked. */
export interface ServerStats {
  /** User + system CPU time of this process so far, in microseconds. */
  readonly cpuMicros: number;
  readonly rss: number;
  readonly heapUsed: number;
  /** A count the server reports besides (the cross-node benchmark: messages Redis delivered to it). */
  readonly arrived?: number;
}

interface StatsRequest {
  readonly type: "stats";
  readonly id: number;
  readonly gc: boolean;
}

/** Tells the runner the server listens on `port`, then serves its stats requests until told to exit. */
export function serveControl(port: number, close: () => Promise<void>, arrived?: () => number): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    console.log(`listening on 127.0.0.1:${port} (no runner attached)`);
    return;
  }
  process.on("message", (msg: StatsRequest | { type: "exit" }) => {
    if (msg.type === "exit") {
      close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
      return;
    }
    if (msg.gc) collect();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    send({
      type: "stats",
      id: msg.id,
      stats: { cpuMicros: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, arrived: arrived?.() },
    });
  });
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", port });
}

/** Several full collections, so that what remains is what the connections really hold. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  for (let i = 0; i < 4; i++) gc();
}
