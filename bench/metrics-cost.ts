/**
 * What `tswebsockets/metrics` costs on the hot paths, measured in one run: the echo and broadcast
 * workloads alternate between metrics off (no diagnostics-channel subscriber) and on
 * (`collectMetrics` registered, the registry scraped after each round), several rounds each. The
 * server runs in this process and is timed by its own CPU time per delivered message; the clients
 * run in a child process (on the other core when `taskset` is there) so their cost is not counted.
 *
 * On a shared machine other processes steal CPU in bursts: the least CPU a mode needed in its
 * rounds ("best") is the steadier figure, the median is printed beside it.
 *
 *   npx tsx bench/metrics-cost.ts            7 rounds per mode and workload
 *   npx tsx bench/metrics-cost.ts --rounds 9
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Registry } from "prom-client";
import { WebSocket } from "ws";
import { BaseHandler, createServer, type Message, Namespace, type Server, type Socket } from "../src/index.js";
import { collectMetrics, type MetricsHandle } from "../src/metrics/index.js";
import { broadcastChannel, byteSize, messageChannel, publishMessage } from "../src/observe/channels.js";
import { trafficOf } from "../src/observe/traffic.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, clients: { type: "string" } } });

const ECHO = { clients: 50, messages: 3_000, size: 64 };
const BROADCAST = { clients: 200, messages: 1_500, size: 64 };

@Namespace("/echo")
class Echo extends BaseHandler {
  static onMessage(socket: Socket, message: Message) {
    socket.send(message);
  }
}

@Namespace("/room")
class Room extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.join("all");
  }
  static onMessage(socket: Socket, message: Message) {
    socket.server.to("all").send(message);
  }
}

if (values.clients !== undefined) await runClients(values.clients);
else await runServer(Number(values.rounds));

async function runServer(rounds: number): Promise<void> {
  const server = createServer({ handlers: [Echo, Room], host: "127.0.0.1", port: 0, heartbeatInterval: 0 });
  const { port } = await server.listen();
  const child = spawn("taskset", ["-c", "1", process.execPath, "--import", "tsx", "bench/metrics-cost.ts", "--clients", String(port)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.on("error", () => {
    throw new Error("taskset is missing: install util-linux, or run the clients by hand");
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (workload: string): Promise<number> => {
    child.stdin.write(`${workload}\n`);
    const reply = await lines.next();
    return Number(reply.value);
  };

  const results: Record<string, number[]> = {};
  for (const workload of (process.env.ONLY ?? "echo,broadcast").split(",")) {
    const delivered = workload === "echo" ? ECHO.clients * ECHO.messages : BROADCAST.messages * BROADCAST.clients;
    await ask(workload); // warm-up round, not counted
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? ["off", "on"] : ["on", "off"]) {
        let metrics: MetricsHandle | undefined;
        const register = new Registry();
        if (mode === "on") metrics = collectMetrics(server, { register });
        const cpu = process.cpuUsage();
        const ms = await ask(workload);
        const used = process.cpuUsage(cpu);
        if (metrics !== undefined) {
          await register.metrics(); // a scrape belongs to the cost
          metrics.stop();
        }
        const key = `${workload} ${mode}`;
        (results[`${key} cpu`] ??= []).push(((used.user + used.system) * 1000) / delivered); // ns of server CPU per delivered message
        (results[`${key} rate`] ??= []).push(delivered / (ms / 1000));
      }
    }
  }
  child.stdin.end();
  const sample = server.sockets().next().value;
  await server.close();
  if (sample !== undefined) overheadPerMessage(server, sample, results);

  if (process.env.SAMPLES) console.log(JSON.stringify(results));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const best = (xs: number[]) => Math.min(...xs);
  const top = (xs: number[]) => Math.max(...xs);
  console.log(`metrics cost, ${rounds} rounds per mode: server CPU per delivered message (best and median), client-side throughput (best)`);
  console.log("workload   | mode | ns/msg best | ns/msg median | msgs/s best | on/off CPU best | on/off CPU median | on/off msgs/s best");
  for (const workload of Object.keys(results)
    .filter((k) => k.endsWith(" off cpu"))
    .map((k) => k.split(" ")[0] as string)) {
    const off = (what: string, f: (xs: number[]) => number) => f(results[`${workload} off ${what}`] ?? []);
    for (const mode of ["off", "on"]) {
      const of = (what: string, f: (xs: number[]) => number) => f(results[`${workload} ${mode} ${what}`] ?? []);
      const cells = [
        workload.padEnd(10),
        mode.padEnd(4),
        of("cpu", best).toFixed(0).padStart(11),
        of("cpu", median).toFixed(0).padStart(13),
        of("rate", top).toFixed(0).padStart(11),
        (of("cpu", best) / off("cpu", best)).toFixed(3).padStart(15),
        (of("cpu", median) / off("cpu", median)).toFixed(3).padStart(17),
        (of("rate", top) / off("rate", top)).toFixed(3).padStart(18),
      ];
      console.log(cells.join(" | "));
    }
  }
}

/**
 * The counting's own cost per message, timed in a tight loop (the least of 5 runs, steadier on a
 * busy machine): what one echo (a message in, one out) and one broadcast add with metrics on,
 * against the server CPU an echoed or broadcast message needs with metrics off (best round above).
 * For comparison, the same run times the previous design: a message object per message published
 * on `tswebsockets:message` to a subscriber that adds it up.
 */
function overheadPerMessage(server: Server, socket: Socket, results: Record<string, number[]>): void {
  const N = 1_000_000;
  const payload = "x".repeat(ECHO.size);
  const bytes = Buffer.from(payload);
  const time = (f: () => void) => {
    for (let i = 0; i < N / 10; i++) f(); // warm-up
    let least = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 5; run++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < N; i++) f();
      least = Math.min(least, Number(process.hrtime.bigint() - t) / N);
    }
    return least;
  };
  // The statements of the message path (src/inbound/connection.ts, Socket.send): the server's
  // Traffic slot counts in place; the message channel is published only for its own subscribers.
  const traffic = trafficOf(server);
  const messageIn = () => {
    if (traffic.counting !== 0) traffic.countIn(socket.namespace, bytes.length);
    if (messageChannel.hasSubscribers) publishMessage(server, socket, "in", bytes);
  };
  const messageOut = () => {
    if (traffic.counting !== 0 || messageChannel.hasSubscribers) {
      if (traffic.counting !== 0) traffic.countOut(byteSize(payload));
      if (messageChannel.hasSubscribers) publishMessage(server, socket, "out", payload);
    }
  };
  const offIn = time(messageIn);
  const offOut = time(messageOut);
  const register = new Registry();
  const metrics = collectMetrics(server, { register });
  const inNs = time(messageIn) - offIn;
  const outNs = time(messageOut) - offOut;
  const broadcast = { server, origin: "local", rooms: ["all"], receivers: BROADCAST.clients, bytes: ECHO.size };
  const broadcastNs = time(() => broadcastChannel.publish(broadcast));
  metrics.stop();

  // The previous design, same run: every message a diagnostics message to a counting subscriber.
  const totals = { messages: 0, bytes: 0 };
  const counting = (m: unknown) => {
    const x = m as { server: object; bytes: number };
    if (x.server !== server) return;
    totals.messages++;
    totals.bytes += x.bytes;
  };
  messageChannel.subscribe(counting);
  const oldIn = time(() => publishMessage(server, socket, "in", bytes));
  const oldOut = time(() => publishMessage(server, socket, "out", payload));
  messageChannel.unsubscribe(counting);

  const echoBase = Math.min(...(results["echo off cpu"] ?? [Number.NaN]));
  const broadcastBase = Math.min(...(results["broadcast off cpu"] ?? [Number.NaN])) * BROADCAST.clients;
  const pct = (ns: number, base: number) => ((100 * ns) / base).toFixed(2);
  console.log(
    `\nper-message overhead, least of 5 x ${N} calls: metrics off, the checks cost ${offIn.toFixed(1)} ns in, ${offOut.toFixed(1)} ns out; ` +
      `metrics on adds ${inNs.toFixed(1)} ns per message in, ${outNs.toFixed(1)} ns per direct send, ${broadcastNs.toFixed(1)} ns per broadcast`,
  );
  console.log(
    `previous design (a message object per message to a counting subscriber): ${oldIn.toFixed(1)} ns in, ${oldOut.toFixed(1)} ns out`,
  );
  console.log(
    `echo: ${(inNs + outNs).toFixed(0)} ns added to ${echoBase.toFixed(0)} ns per echoed message = ${pct(inNs + outNs, echoBase)} % ` +
      `(previous design: ${pct(oldIn + oldOut, echoBase)} %)`,
  );
  console.log(
    `broadcast to ${BROADCAST.clients}: ${(inNs + broadcastNs).toFixed(0)} ns added to ${broadcastBase.toFixed(0)} ns per broadcast = ${pct(inNs + broadcastNs, broadcastBase)} %`,
  );
}

/** The client side: waits for a workload name on stdin, runs it, prints how many ms it took. */
async function runClients(port: string): Promise<void> {
  const payload = "x".repeat(ECHO.size);
  const open = (path: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  const echo = await Promise.all(Array.from({ length: ECHO.clients }, () => open("/echo")));
  const room = await Promise.all(Array.from({ length: BROADCAST.clients }, () => open("/room")));

  const echoRound = () =>
    Promise.all(
      echo.map(
        (ws) =>
          new Promise<void>((resolve) => {
            let got = 0;
            const onMessage = () => {
              if (++got === ECHO.messages) {
                ws.off("message", onMessage);
                resolve();
              }
            };
            ws.on("message", onMessage);
            for (let i = 0; i < ECHO.messages; i++) ws.send(payload);
          }),
      ),
    );
  const broadcastRound = async () => {
    const done = Promise.all(
      room.map(
        (ws) =>
          new Promise<void>((resolve) => {
            let got = 0;
            const onMessage = () => {
              if (++got === BROADCAST.messages) {
                ws.off("message", onMessage);
                resolve();
              }
            };
            ws.on("message", onMessage);
          }),
      ),
    );
    for (let i = 0; i < BROADCAST.messages; i++) room[0]?.send(payload);
    await done;
  };

  for await (const line of createInterface({ input: process.stdin })) {
    const started = performance.now();
    await (line === "echo" ? echoRound() : broadcastRound());
    console.log(String(performance.now() - started));
  }
  for (const ws of [...echo, ...room]) ws.terminate();
}
