import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * What else ran on the two benchmark CPUs. The machine is shared: other processes (tests, builds,
 * other benchmarks) land on CPU 0 and CPU 1 too, and then neither the server nor the load
 * generator is the limit. The kernel's per-CPU busy time (/proc/stat) minus what the server used
 * on CPU 0 and the generator on CPU 1 is what others took; a job where that is large measured the
 * machine's other work, not the server. Interrupt time counts as busy and is charged to no
 * process, so the figure includes some of the loopback traffic's own softirq work (a few %).
 */

/** Busy time of each CPU so far in microseconds (/proc/stat, all but idle and iowait), or [] off Linux. */
export function cpuBusy(): number[] {
  let text: string;
  try {
    text = readFileSync("/proc/stat", "utf8");
  } catch {
    return [];
  }
  const busy: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m === null) continue;
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = (m[2] as string).split(" ").map(Number) as number[];
    // USER_HZ is 100 on every Linux architecture node runs on: one tick is 10 ms.
    busy[Number(m[1])] = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10_000;
  }
  return busy;
}

/**
 * The share of one core (%) that processes other than ours used on `cpu` between two readings:
 * its busy time minus `ours` (µs our pinned process used there), over `seconds`. Ticks are 10 ms,
 * so it is good to about ±1 % over a window of a few seconds; never below 0.
 */
export function othersShare(before: readonly number[], after: readonly number[], cpu: number, ours: number, seconds: number): number {
  const busy = (after[cpu] ?? Number.NaN) - (before[cpu] ?? Number.NaN);
  return Math.max(0, (100 * (busy - ours)) / (seconds * 1e6));
}

/** Whether processes can be pinned to a CPU here (taskset exists and CPU 0 is allowed). */
export const pinnable = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/**
 * Pins a running process to `cpu`, with all its threads (V8's compiler and collector helpers
 * are then counted on the same CPU), when {@link pinnable}; else does nothing.
 * @example
 * pin(server.pid, 0); pin(process.pid, 1);
 */
export function pin(pid: number, cpu: number): void {
  if (pinnable) execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}
