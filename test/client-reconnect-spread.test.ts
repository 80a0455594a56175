// A reconnect storm is what full jitter exists to prevent: 1,000 clients (ws' WebSocket, default
// backoff 0.5 s → 10 s) on one real server, the server restarted on the same port at once, and the
// moment each client asked to connect (its successful attempt) and was open again recorded. No
// 100 ms window may hold more than 10 % of the reconnects as the clients scheduled them (the moment
// each successful attempt was due). When and how this one process actually made 1,000 attempts and
// handshakes is printed beside it: on a loaded machine its own stalls bunch them, which 1,000 real
// clients, each on its own machine, would not share.
// Bounded: 1,000 sockets, at most 20 s for all to come back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { type Client, connect } from "../src/client/index.js";
import { spawnPeer } from "./helpers/peer-process.js";

const CLIENTS = 1000;
/** A fast deploy: the server is gone this long between closing and listening again. */
const DOWN_MS = 500;

function whenAll(clients: Client[], ms: number): Promise<number[]> {
  const at = new Array<number>(clients.length);
  let left = clients.length;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${left} of ${clients.length} clients not open after ${ms} ms`)), ms);
    clients.forEach((c, i) => {
      const off = c.on("state", (state) => {
        if (state !== "open") return;
        off();
        at[i] = performance.now();
        if (--left === 0) {
          clearTimeout(timer);
          resolve(at);
        }
      });
    });
  });
}

/** The largest share of `total` that `times` put within any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number, total = times.length): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max / total;
}

describe("1,000 clients after a server restart", () => {
  it("come back spread out: no 100 ms window holds more than 10 % of the reconnects", { timeout: 60_000 }, async () => {
    // The server runs in its own process: its work and its restart are not this loop's.
    const peer = await spawnPeer();
    const url = `ws://127.0.0.1:${peer.port}/t`;
    const clients: Client[] = [];
    try {
      // Each client's WebSocket notes when it was created (the moment this process got to it), and
      // each "reconnecting" when its next attempt is due (the moment the client chose).
      const attempts: number[] = [];
      const due: number[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const Timed = class extends WebSocket {
          constructor(address: string, protocols: string[]) {
            super(address, protocols);
            attempts[i] = performance.now();
          }
        };
        const c = connect(url, { WebSocket: Timed, liveness: false });
        c.on("state", (state, _close, retryInMs) => {
          if (state === "reconnecting") due[i] = performance.now() + retryInMs!;
        });
        clients.push(c);
      }
      await whenAll(clients, 20_000);
      const back = whenAll(clients, 20_000);
      const restartedAt = performance.now();
      await peer.restart(DOWN_MS); // 1001 to every client, DOWN_MS without a server, then listening again
      const times = await back;
      const share = busiestWindow(times, 100);
      const dueShare = busiestWindow(due, 100);
      const attemptShare = busiestWindow(attempts, 100);
      const offsets = due.map((t) => t - restartedAt).sort((a, b) => a - b);
      const pct = (q: number) => offsets[Math.floor(q * (offsets.length - 1))]!.toFixed(0);
      console.log(
        `${CLIENTS} reconnects after the restart, due at: first ${pct(0)} ms, median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, last ${pct(1)} ms; ` +
          `busiest 100 ms window: ${(dueShare * 100).toFixed(1)} % of the reconnects as scheduled, ` +
          `${(attemptShare * 100).toFixed(1)} % as this process made them, ${(share * 100).toFixed(1)} % of the opens`,
      );
      assert.ok(dueShare <= 0.1, `${(dueShare * 100).toFixed(1)} % of the reconnects were due in one 100 ms window`);
    } finally {
      for (const c of clients) c.close();
      await peer.stop();
    }
  });
});
