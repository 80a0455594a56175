import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SCENARIOS } from "../bench/load.js";
import { METRICS } from "../bench/metrics.js";

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
    assert.deepEqual(report.servers, ["tswebsockets", "ws", "socket.io"]);
    assert.deepEqual(Object.keys(report.params), [...SCENARIOS]);
    for (const server of report.servers) {
      for (const metric of METRICS) {
        const figure = report.values[server][metric.key];
        assert.ok(Number.isFinite(figure?.median), `${server} has no ${metric.key}: ${JSON.stringify(figure)}`);
        assert.ok(Number.isFinite(report.ratios[server][metric.key]?.median), `${server} has no ratio for ${metric.key}`);
      }
    }
    const svg = readFileSync(join(out, "latest.svg"), "utf8");
    assert.match(svg, /^<svg /);
    for (const metric of METRICS) assert.ok(svg.includes(metric.label.replace(/&/g, "&amp;")), `the chart shows ${metric.label}`);
    assert.match(stdout, /\| echo throughput \| msg\/s \|/);
  });
});
