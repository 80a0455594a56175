import { type Metric, type Summary, verdict } from "./metrics.js";
import type { Spread } from "./stats.js";

/** Formats a figure with about three significant digits and thousands separators. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: Spread | undefined) => (s === undefined ? "–" : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);
const ratio = (s: Spread | undefined) => (s === undefined || !Number.isFinite(s.median) ? "–" : `${s.median.toFixed(2)}×`);

/** What the target says and whether the first server meets it. */
function targetCell(metric: Metric, summary: Summary, subject: string): string {
  const met = verdict(metric, summary, subject);
  if (met === undefined) return "";
  const goal =
    metric.floor !== undefined
      ? `${metric.floor}${metric.unit}`
      : `${metric.better === "higher" ? "≥" : "≤"} ${metric.target?.toFixed(1)}×`;
  return `${goal} ${met ? "met" : "**missed**"}`;
}

/**
 * The report as a Markdown table (it reads as well in a terminal): each server's median with
 * min–max over the runs, each other server's ratio to the baseline, and the targets.
 */
export function table(metrics: readonly Metric[], summary: Summary, servers: readonly string[], baseline: string): string {
  const others = servers.filter((s) => s !== baseline);
  const subject = servers[0] as string;
  const head = [
    "figure",
    "unit",
    ...servers.map((s) => `${s} median (min–max)`),
    ...others.map((s) => `${s} / ${baseline}`),
    `target (${subject})`,
  ];
  const rows = metrics.map((m) => [
    m.label,
    m.unit,
    ...servers.map((s) => cell(summary.values[s]?.[m.key])),
    ...others.map((s) => ratio(summary.ratios[s]?.[m.key])),
    targetCell(m, summary, subject),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
