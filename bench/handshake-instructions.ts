/**
 * Instructions the bench server executes per handshake, counted by valgrind's callgrind: a figure
 * that does not depend on the machine's load, for comparing two checkouts whose handshake CPU
 * times differ by less than the noise of a shared machine.
 *
 *   node --import tsx bench/handshake-instructions.ts [--count 600] [DIR ...]
 *
 * For each DIR (default: this checkout) it starts `bench/servers/tswebsockets.ts` of that
 * checkout under callgrind with instrumentation off, opens and closes 300 connections to `/echo`
 * (warm-up: the JIT compiles the path), turns instrumentation on, opens and closes `--count` more
 * one after the other, turns it off and divides the instructions counted by the count. Needs
 * valgrind (Debian: `apt-get install valgrind`); under callgrind node runs ~50 times slower.
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { prepareCheckout } from "./servers/built.js";

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({ options: { count: { type: "string", default: "600" } }, allowPositionals: true });
const count = Number(values.count);
const dirs = positionals.length > 0 ? positionals.map((d) => resolve(d)) : [resolve(here, "..")];
const WARM_UP = 300;

async function handshake(port: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  await new Promise((done, fail) => {
    ws.once("open", done);
    ws.once("error", fail);
  });
  ws.close();
  await new Promise((done) => ws.once("close", done));
}

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Instructions per handshake of `dir`'s bench server. */
async function measure(dir: string): Promise<number> {
  if (prepareCheckout(dir) === "src") console.warn(`NOTE: ${dir} predates bench/servers/built.ts: its server runs src/ through tsx`);
  const prefix = join(tmpdir(), `tsws-callgrind-${process.pid}-${Date.now()}`);
  const args = ["--tool=callgrind", "--instr-atstart=no", `--callgrind-out-file=${prefix}`];
  const server = spawn("valgrind", [...args, process.execPath, "--import", "tsx", "bench/servers/tswebsockets.ts"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    // Without a runner attached, the bench server prints the address it listens on.
    const port = await new Promise<number>((done, fail) => {
      server.stdout.on("data", (chunk: Buffer) => {
        const match = /127\.0\.0\.1:(\d+)/.exec(chunk.toString());
        if (match) done(Number(match[1]));
      });
      server.once("exit", (code) => fail(new Error(`the server under valgrind exited (${code})`)));
    });
    for (let i = 0; i < WARM_UP; i++) await handshake(port);
    await pause(500);
    execFileSync("callgrind_control", ["--instr=on", String(server.pid)]);
    for (let i = 0; i < count; i++) await handshake(port);
    await pause(300); // the last closes' work
    execFileSync("callgrind_control", ["--instr=off", String(server.pid)]);
    execFileSync("callgrind_control", ["--dump", String(server.pid)]);
    await pause(500);
  } finally {
    server.kill("SIGKILL");
  }
  let total = 0;
  const base = prefix.slice(tmpdir().length + 1);
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(base))) {
    const file = join(tmpdir(), name);
    const match = /^totals: (\d+)/m.exec(readFileSync(file, "utf8"));
    if (match) total += Number(match[1]);
    rmSync(file);
  }
  return total / count;
}

for (const dir of dirs) {
  const perHandshake = await measure(dir);
  console.log(`${dir}: ${Math.round(perHandshake).toLocaleString("en-US")} instructions per handshake (${count} handshakes)`);
}
