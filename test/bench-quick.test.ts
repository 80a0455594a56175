import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SCENARIOS } from "../bench/load.js";
import { cpuKey, METRICS } from "../bench/metrics.js";

describe("the benchmark in quick mode", () => {
  const out = mkdtempSync(join(tmpdir(), "tsws-bench-"));
  after(() => rmSync(out, { recursive: true, force: true }));

  it("runs every scenario against every server and writes the JSON report and the SVG chart", { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick", "--out", out], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, stdout);

    const report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"));
    assert.equal(report.mode, "quick");
    assert.deepEqual(report.servers, ["tswebsockets", "ws", "ws-ceiling", "socket.io"]);
    assert.deepEqual(Object.keys(report.params), [...SCENARIOS]);
    const played = METRICS.filter((m) => (SCENARIOS as readonly string[]).includes(m.scenario));
    assert.deepEqual(
      report.metrics.map((m: { key: string }) => m.key),
      played.map((m) => m.key),
    );
    for (const server of report.servers) {
      for (const metric of played) {
        const figure = report.values[server][metric.key];
        assert.ok(Number.isFinite(figure?.median), `${server} has no ${metric.key}: ${JSON.stringify(figure)}`);
        assert.ok(Number.isFinite(report.ratios[server][metric.key]?.median), `${server} has no ratio to ws for ${metric.key}`);
        assert.ok(
          Number.isFinite(report.ceilingRatios[server][metric.key]?.median),
          `${server} has no ratio to the ceiling for ${metric.key}`,
        );
      }
      for (const scenario of SCENARIOS) {
        for (const side of ["server", "load"] as const) {
          const cpu = report.values[server][cpuKey(scenario, side)]?.median;
          assert.ok(cpu > 0, `${server} ${scenario}: no ${side} CPU (${cpu})`);
        }
      }
    }
    const svg = readFileSync(join(out, "latest.svg"), "utf8");
    assert.match(svg, /^<svg /);
    for (const metric of played) assert.ok(svg.includes(metric.label.replace(/&/g, "&amp;")), `the chart shows ${metric.label}`);
    assert.match(stdout, /\| echo throughput \| msg\/s \|/);
    assert.match(stdout, /tswebsockets \/ ws-ceiling/);
    assert.match(stdout, /\| broadcastSaturate \| /, "the load check (server and generator CPU) is printed");
  });
});
