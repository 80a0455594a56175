/**
 * CPU profile of a handshake server (bench/servers/resume-handshake.ts) under `count` handshakes,
 * 20 at a time, for reading which functions of src/ a handshake costs (e.g. with a script that sums
 * self and inclusive samples per function of the .cpuprofile JSON). The server runs in a child
 * process with `--cpu-prof`; its profiles (the main thread's and the loader thread's) land in `out`.
 * Run: node --import tsx bench/profile-handshake.ts <checkout dir> <resume|plain|ws> [count=5000] [out=/tmp/hsprof]
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { WebSocket } from "ws";

const [dir = ".", kind = "resume", count = "5000", out = "/tmp/hsprof"] = process.argv.slice(2);
const n = Number(count);
const proc = fork(`${dir}/bench/servers/resume-handshake.ts`, [kind], {
  execArgv: ["--import", "tsx", "--cpu-prof", `--cpu-prof-dir=${out}/${kind}-${Date.now()}`, "--cpu-prof-interval=50"],
});
const [ready] = (await once(proc, "message")) as [{ port: number }];
const url = `ws://127.0.0.1:${ready.port}/chat/h`;
let started = 0;
await Promise.all(
  Array.from({ length: 20 }, async () => {
    while (started < n) {
      started++;
      const ws = new WebSocket(url, kind.startsWith("ws") ? undefined : ["tsws.v1"]);
      await once(ws, kind.endsWith("resume") ? "message" : "open");
      ws.terminate();
    }
  }),
);
await new Promise((r) => setTimeout(r, 200));
proc.send({ type: "exit" });
await once(proc, "exit");
console.log(`profiles of ${n} handshakes (${kind}) in ${out}/${kind}-*`);
