/**
 * Memory of the in-memory resume history, per stream, measured with the heap after a full GC.
 * Run: node --expose-gc --import tsx bench/resume-memory.ts
 * Prints the fixed cost of a full ring (bodies shared, so only slots count), the cost with a
 * distinct ~100-byte body per entry (what a chat room holds), and a stream that holds nothing.
 */
import { pushBody } from "../src/resume/history-log.js";
import { MemoryHistory } from "../src/resume/memory-history.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc --import tsx bench/resume-memory.ts");
const keep: unknown[] = [];
const STREAMS = 2_000;

function heapAfter(fill: () => void): number {
  gc!();
  const before = process.memoryUsage().heapUsed;
  fill();
  gc!();
  return process.memoryUsage().heapUsed - before;
}

for (const size of [100, 1_000]) {
  const shared = pushBody("message", { id: "m1", text: "x".repeat(80) });
  const a = new MemoryHistory({ size, ttl: 300_000 });
  const b = new MemoryHistory({ size, ttl: 300_000 });
  const c = new MemoryHistory({ size, ttl: 300_000 });
  keep.push(a, b, c);
  const ring = heapAfter(() => {
    for (let s = 0; s < STREAMS; s++) for (let i = 0; i < size; i++) a.append(`room:${s}`, shared);
  });
  let bodyChars = 0;
  const full = heapAfter(() => {
    for (let s = 0; s < STREAMS; s++)
      for (let i = 0; i < size; i++) {
        const body = pushBody("message", { id: `m${s}-${i}`, text: "x".repeat(80) });
        bodyChars += body.length;
        b.append(`room:${s}`, body);
      }
  });
  const empty = heapAfter(() => {
    for (let s = 0; s < STREAMS; s++) c.position(`room:${s}`);
  });
  const kib = (n: number) => (n / STREAMS / 1024).toFixed(1);
  console.log(
    `size ${size}: full ring ${kib(ring)} KiB/stream (${(ring / STREAMS / size).toFixed(1)} B/slot); ` +
      `with ${(bodyChars / STREAMS / size).toFixed(0)}-char bodies ${kib(full)} KiB/stream (${(full / STREAMS / size).toFixed(0)} B/entry); ` +
      `empty stream ${(empty / STREAMS).toFixed(0)} B`,
  );
}
