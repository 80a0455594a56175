import type { Metric, Summary } from "./metrics.js";
import { fmt } from "./report.js";

const COLORS = ["#2f6fdf", "#8a8f98", "#e0892b", "#3aa46a"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A hand-written SVG bar chart in two panels: on the left each server's figure as a ratio to raw
 * ws, on the right the same figure as a ratio to the hand-optimised ws server (the ceiling), when
 * the report has one. One group per figure, one horizontal bar per server, a whisker for the
 * min–max of the per-run ratios, the ratio (and, on the left, the figure itself) at the bar's end,
 * and the targets as red ticks. "lower is better" figures say so.
 */
export function chart(
  metrics: readonly Metric[],
  summary: Summary,
  servers: readonly string[],
  baseline: string,
  ceiling: string | undefined,
  date: string,
  mode: string,
): string {
  const bar = 14;
  const group = servers.length * (bar + 3) + 16;
  const left = 270;
  const plot = 380;
  const gap = 250; // room for the labels right of the bars
  const panels: { title: string; ratios: Summary["ratios"]; target: (m: Metric) => number | undefined; values: boolean }[] = [
    { title: `ratio to raw ${baseline}`, ratios: summary.ratios, target: (m) => m.target, values: true },
  ];
  if (ceiling !== undefined && summary.ceilingRatios !== undefined) {
    panels.push({
      title: `ratio to ${ceiling} (hand-optimised)`,
      ratios: summary.ceilingRatios,
      target: (m) => m.ceilingTarget,
      values: false,
    });
  }
  const width = left + panels.length * (plot + gap);
  const top = 84;
  const maxRatio = Math.min(
    4,
    Math.max(
      2,
      ...panels
        .flatMap((p) => metrics.flatMap((m) => servers.map((s) => p.ratios[s]?.[m.key]?.max ?? 0)))
        .filter((v) => Number.isFinite(v)),
    ),
  );
  const height = top + metrics.length * group + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>tswebsockets, raw ws, hand-optimised ws and Socket.IO: each figure as a ratio to raw ws and to the hand-optimised ws</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">tswebsockets benchmark: ratios to raw ${esc(baseline)}${ceiling === undefined ? "" : ` and to ${esc(ceiling)}`} (= 1.0), median of runs, whisker = min–max</text>`,
    `<text x="16" y="44" fill="#555">${esc(`${mode} run, ${date}. Bars to the right are more: better for "higher is better", worse for "lower is better". Red tick: target.`)}</text>`,
  ];
  servers.forEach((s, i) => {
    out.push(`<rect x="${left + i * 150}" y="52" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${left + i * 150 + 18}" y="62">${esc(s)}</text>`);
  });
  metrics.forEach((m, g) => {
    const y0 = top + g * group;
    out.push(`<text x="${left - 8}" y="${y0 + 14}" text-anchor="end" font-weight="bold">${esc(m.label)}</text>`);
    out.push(`<text x="${left - 8}" y="${y0 + 29}" text-anchor="end" fill="#666">${esc(`${m.unit}, ${m.better} is better`)}</text>`);
  });
  panels.forEach((panel, p) => {
    const x0 = left + p * (plot + gap);
    const x = (ratio: number) => x0 + (Math.min(ratio, maxRatio) / maxRatio) * plot;
    out.push(`<text x="${x0}" y="${top - 6}" font-weight="bold">${esc(panel.title)}</text>`);
    for (let r = 0; r <= maxRatio; r += 0.5) {
      out.push(
        `<line x1="${x(r)}" y1="${top}" x2="${x(r)}" y2="${height - 30}" stroke="${r === 1 ? "#444" : "#e4e4e4"}" ${r === 1 ? 'stroke-dasharray="4 3"' : ""}/>`,
      );
      out.push(`<text x="${x(r)}" y="${height - 14}" text-anchor="middle" fill="#555">${r.toFixed(1)}×</text>`);
    }
    metrics.forEach((m, g) => {
      const y0 = top + g * group;
      const target = panel.target(m);
      servers.forEach((s, i) => {
        const ratio = panel.ratios[s]?.[m.key];
        const value = summary.values[s]?.[m.key];
        if (ratio === undefined || !Number.isFinite(ratio.median)) return;
        const y = y0 + 4 + i * (bar + 3);
        out.push(
          `<rect x="${x0}" y="${y}" width="${Math.max(1, x(ratio.median) - x0)}" height="${bar}" fill="${COLORS[i % COLORS.length]}"/>`,
        );
        if (Number.isFinite(ratio.min) && ratio.max > ratio.min) {
          out.push(
            `<line x1="${x(ratio.min)}" y1="${y + bar / 2}" x2="${x(ratio.max)}" y2="${y + bar / 2}" stroke="#111" stroke-width="1.5"/>`,
          );
        }
        const capped = ratio.median > maxRatio ? " (bar cut)" : "";
        const figure = panel.values ? ` · ${fmt(value?.median ?? Number.NaN)} ${m.unit}` : "";
        const label = `${ratio.median.toFixed(2)}×${figure}${capped}`;
        // Right of the bar, its whisker, the 1.0 line and the target, so no line crosses the text.
        const at = Math.max(x(ratio.median), x(Number.isFinite(ratio.max) ? ratio.max : 0), x(1), x(target ?? 0)) + 6;
        out.push(`<text x="${at}" y="${y + bar - 3}" fill="#222">${esc(label)}</text>`);
      });
      if (target !== undefined) {
        out.push(`<line x1="${x(target)}" y1="${y0 + 2}" x2="${x(target)}" y2="${y0 + group - 12}" stroke="#d22" stroke-width="2"/>`);
      }
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
