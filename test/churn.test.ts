import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";

describe("20,000 connect / join / leave / close cycles, 50 at a time", () => {
  it("leave no sockets or rooms registered and the heap within 10 % of where it started", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", "test/fixtures/churn.ts", "20000"], {
      timeout: 150_000,
    });
    const report = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
      cycles: number;
      seconds: number;
      heapBefore: number;
      heapAfter: number;
      sockets: number;
      rooms: number;
    };
    const growth = (report.heapAfter - report.heapBefore) / report.heapBefore;
    console.log(
      `# ${report.cycles} cycles in ${report.seconds.toFixed(1)} s; heap ${(report.heapBefore / 2 ** 20).toFixed(1)} → ${(report.heapAfter / 2 ** 20).toFixed(1)} MiB (${(growth * 100).toFixed(1)} %)`,
    );
    assert.equal(report.sockets, 0);
    assert.equal(report.rooms, 0);
    assert.ok(growth < 0.1, `heap grew by ${(growth * 100).toFixed(1)} %`);
  });
});
