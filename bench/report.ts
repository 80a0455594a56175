import type { ScenarioName } from "./load.js";
import { cpuKey, type Metric, type RunFigures, type Summary, verdict } from "./metrics.js";
import { type Spread, spread } from "./stats.js";

/** Formats a figure with about three significant digits and thousands separators. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: Spread | undefined) => (s === undefined ? "–" : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);
const ratio = (s: Spread | undefined) => (s === undefined || !Number.isFinite(s.median) ? "–" : `${s.median.toFixed(2)}×`);

/** What a target says and whether the first server meets it (against raw ws, or the ceiling). */
function targetCell(metric: Metric, summary: Summary, subject: string, against: "ws" | "ceiling"): string {
  const met = verdict(metric, summary, subject, against);
  if (met === undefined) return "";
  const target = against === "ws" ? metric.target : metric.ceilingTarget;
  const goal =
    against === "ws" && metric.floor !== undefined
      ? `${metric.floor}${metric.unit}`
      : `${metric.better === "higher" ? "≥" : "≤"} ${target?.toFixed(2).replace(/0$/, "")}×`;
  return `${goal} ${met ? "met" : "**missed**"}`;
}

/**
 * The report as a Markdown table (it reads as well in a terminal): each server's median with
 * min–max over the runs, each other server's ratio to the baseline (raw ws) and to the ceiling
 * (hand-optimised ws) when the report has one, and the targets against each.
 */
export function table(
  metrics: readonly Metric[],
  summary: Summary,
  servers: readonly string[],
  baseline: string,
  ceiling?: string,
): string {
  const subject = servers[0] as string;
  const vsBase = servers.filter((s) => s !== baseline);
  const vsCeiling = ceiling === undefined || summary.ceilingRatios === undefined ? [] : servers.filter((s) => s !== ceiling);
  const head = [
    "figure",
    "unit",
    ...servers.map((s) => `${s} median (min–max)`),
    ...vsBase.map((s) => `${s} / ${baseline}`),
    ...vsCeiling.map((s) => `${s} / ${ceiling}`),
    `target vs ${baseline} (${subject})`,
    ...(vsCeiling.length > 0 ? [`target vs ${ceiling} (${subject})`] : []),
  ];
  const rows = metrics.map((m) => [
    m.label,
    m.unit,
    ...servers.map((s) => cell(summary.values[s]?.[m.key])),
    ...vsBase.map((s) => ratio(summary.ratios[s]?.[m.key])),
    ...vsCeiling.map((s) => ratio(summary.ceilingRatios?.[s]?.[m.key])),
    targetCell(m, summary, subject, "ws"),
    ...(vsCeiling.length > 0 ? [targetCell(m, summary, subject, "ceiling")] : []),
  ]);
  return markdown(head, rows);
}

/**
 * Lines under the table for figures with a target against another server than the baseline
 * (request/reply against Socket.IO): the subject's ratio to it, computed run by run.
 */
export function rivalLines(metrics: readonly Metric[], runs: RunFigures, subject: string, rival: string): string {
  const lines: string[] = [];
  for (const m of metrics) {
    if (m.socketioTarget === undefined || runs[rival] === undefined) continue;
    const mine = runs[subject]?.[m.key] ?? [];
    const theirs = runs[rival]?.[m.key] ?? [];
    const s = spread(mine.map((v, i) => v / (theirs[i] as number)));
    const met = Number.isFinite(s.median) && s.median >= m.socketioTarget;
    lines.push(
      `${m.label}: ${subject} / ${rival} ${ratio(s)} (${fmt(s.min)}–${fmt(s.max)}); target ≥ ${m.socketioTarget.toFixed(1)}× ${met ? "met" : "**missed**"}`,
    );
  }
  return lines.join("\n");
}

/**
 * The before/after table (`--before`): per figure, the subject's and the older checkout's ratio to
 * the baseline, and after / before computed run by run. Both faced the same baseline runs, so the
 * last column is the change of the ratio to raw ws with the baseline's own noise taken out.
 * "within ±5 %" is issue 9's bound for a restructure that must not cost speed.
 */
export function beforeTable(metrics: readonly Metric[], summary: Summary, runs: RunFigures, subject: string, before: string): string {
  // The generator's CPU follows the server's throughput: not a figure of the server to compare.
  const rows = metrics
    .filter((m) => !m.key.endsWith("Client"))
    .map((m) => {
      const mine = runs[subject]?.[m.key] ?? [];
      const old = runs[before]?.[m.key] ?? [];
      const change = spread(mine.map((v, i) => v / (old[i] as number)));
      const better = m.better === "higher" ? change.median >= 1 : change.median <= 1;
      const verdictText = !Number.isFinite(change.median)
        ? ""
        : Math.abs(change.median - 1) <= 0.05
          ? "within ±5 %"
          : better
            ? "better"
            : "**worse**";
      return [
        m.label,
        ratio(summary.ratios[before]?.[m.key]),
        ratio(summary.ratios[subject]?.[m.key]),
        `${ratio(change)} (${fmt(change.min)}–${fmt(change.max)})`,
        verdictText,
      ];
    });
  return markdown(["figure", `${before} / ws`, `${subject} / ws`, "after / before, run by run (min–max)", ""], rows);
}

const markdown = (head: readonly string[], rows: readonly (readonly string[])[]) => {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
};

/** Above this share of one core (per process) a load generator counts as saturated. */
export const SATURATED = 90;

/**
 * The load check: per scenario and server, the server's and the load generator's CPU over the
 * measuring window (idle: while opening), as "server / generator" in % of one core, with the
 * generator flagged where it ran above {@link SATURATED} % of its core: there the figure may be
 * the generator's limit, not the server's. Several generators' CPU is summed. "others" is the most
 * other processes took of CPU 0 / CPU 1 in any run: where it is large, the machine was the limit.
 */
export function cpuTable(
  scenarios: readonly ScenarioName[],
  summary: Summary,
  servers: readonly string[],
  params: Partial<Record<ScenarioName, { generators?: number }>>,
): string {
  const head = ["scenario", ...servers.map((s) => `${s} server / generator`)];
  const rows = scenarios.map((scenario) => {
    const generators = params[scenario]?.generators ?? 1;
    const cells = servers.map((s) => {
      const server = summary.values[s]?.[cpuKey(scenario, "server")];
      const load = summary.values[s]?.[cpuKey(scenario, "load")];
      if (server === undefined || load === undefined) return "–";
      const flag = load.max / generators > SATURATED ? " **generator saturated**" : "";
      const o0 = summary.values[s]?.[cpuKey(scenario, "others0")]?.max ?? Number.NaN;
      const o1 = summary.values[s]?.[cpuKey(scenario, "others1")]?.max ?? Number.NaN;
      return `${fmt(server.median)} / ${fmt(load.median)} (max ${fmt(load.max)}); others ≤ ${fmt(o0)} / ${fmt(o1)}${flag}`;
    });
    return [generators > 1 ? `${scenario} (${generators} generators, CPU summed)` : scenario, ...cells];
  });
  return markdown(head, rows);
}
