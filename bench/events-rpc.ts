/**
 * Request/reply benchmark of the message layer, standalone (bench/run.ts is being reworked on its
 * own branch): 64-byte payloads answered by
 *   - raw ws:        a `ws` server echoing each message (no protocol, no validation);
 *   - tswebsockets:  a tsws.v1 request validated with zod on the way in and its reply on the way out;
 *   - socket.io:     `emitWithAck` from socket.io-client, the server acknowledging with the data.
 * Each server runs in its own child process; the load (C connections, K requests in flight each)
 * comes from this process. Prints replies per second, the median of the runs, and the ratios.
 *
 *   npx tsx bench/events-rpc.ts                 3 runs of 5 s per server
 *   npx tsx bench/events-rpc.ts --runs 1 --duration 1000 --connections 10
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttp } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { io as ioClient } from "socket.io-client";
import { WebSocket, WebSocketServer } from "ws";

const NAMES = ["ws", "tswebsockets", "socket.io"] as const;
type Name = (typeof NAMES)[number];
const TEXT = "x".repeat(64 - '{"text":""}'.length); // the JSON payload is 64 bytes

const { values: args } = parseArgs({
  options: {
    server: { type: "string" },
    runs: { type: "string", default: "3" },
    duration: { type: "string", default: "5000" },
    warmup: { type: "string", default: "1000" },
    connections: { type: "string", default: "50" },
    inflight: { type: "string", default: "8" },
  },
});

if (args.server !== undefined) await serve(args.server as Name);
else await main();

async function serve(name: Name): Promise<void> {
  let port: number;
  if (name === "ws") {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    await once(wss, "listening");
    port = (wss.address() as AddressInfo).port;
  } else if (name === "socket.io") {
    const { Server } = await import("socket.io");
    const http = createHttp();
    const io = new Server(http, { transports: ["websocket"], serveClient: false });
    io.on("connection", (socket) => socket.on("echo", (data: unknown, ack: (d: unknown) => void) => ack(data)));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    port = (http.address() as AddressInfo).port;
  } else {
    const { z } = await import("zod");
    const { defineContract, request } = await import("../src/contract/index.js");
    const { createServer, events, handle } = await import("../src/index.js");
    const Text = z.object({ text: z.string().max(1000) });
    const rpc = defineContract({ client: { echo: request(Text, Text) } });
    const Rpc = class extends events(rpc) {
      static events = handle(rpc, { echo: (_socket, data) => data });
    };
    // The decorator form needs a class declaration; Namespace is applied by hand here.
    const { Namespace } = await import("../src/index.js");
    Namespace("/rpc")(Rpc, { kind: "class", name: "Rpc" } as ClassDecoratorContext);
    const server = createServer({ handlers: [Rpc], host: "127.0.0.1", port: 0 });
    port = (await server.listen()).port;
  }
  process.stdout.write(`${port}\n`);
}

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const figures: Record<Name, number[]> = { ws: [], tswebsockets: [], "socket.io": [] };
  for (let run = 1; run <= runs; run++) {
    for (const name of NAMES) {
      const rate = await measure(name);
      figures[name].push(rate);
      console.log(`run ${run} ${name.padEnd(13)} ${Math.round(rate).toLocaleString("en")} replies/s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const m = Object.fromEntries(NAMES.map((n) => [n, median(figures[n])])) as Record<Name, number>;
  console.log(`\nrequest/reply, 64-byte payload, ${args.connections} connections × ${args.inflight} in flight, median of ${runs}:`);
  console.log("| server | replies/s | vs raw ws | vs socket.io |\n| --- | ---: | ---: | ---: |");
  for (const n of NAMES) {
    console.log(
      `| ${n} | ${Math.round(m[n]).toLocaleString("en")} | ${(m[n] / m.ws).toFixed(2)}× | ${(m[n] / m["socket.io"]).toFixed(2)}× |`,
    );
  }
}

async function measure(name: Name): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--server", name], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [chunk] = (await once(child.stdout, "data")) as [Buffer];
  const port = Number(chunk.toString().trim());
  const connections = Number(args.connections);
  const inflight = Number(args.inflight);
  let count = 0;
  let running = true;
  const clients: { close(): void }[] = [];
  for (let i = 0; i < connections; i++) clients.push(await connect(name, port, inflight, () => running && count++));
  await sleep(Number(args.warmup));
  const start = process.hrtime.bigint();
  count = 0;
  await sleep(Number(args.duration));
  const done = count;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  running = false;
  for (const c of clients) c.close();
  child.kill();
  await once(child, "exit");
  return done / seconds;
}

/** One client keeping `inflight` requests outstanding; `onReply` is called per reply. */
async function connect(name: Name, port: number, inflight: number, onReply: () => unknown): Promise<{ close(): void }> {
  if (name === "socket.io") {
    const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let open = true;
    const loop = async () => {
      while (open) {
        await socket.emitWithAck("echo", { text: TEXT });
        onReply();
      }
    };
    for (let i = 0; i < inflight; i++) void loop().catch(() => {});
    return {
      close: () => {
        open = false;
        socket.close();
      },
    };
  }
  const ws = new WebSocket(name === "ws" ? `ws://127.0.0.1:${port}/` : `ws://127.0.0.1:${port}/rpc`, name === "ws" ? [] : ["tsws.v1"]);
  await once(ws, "open");
  ws.on("error", () => {});
  let id = 0;
  const payload = JSON.stringify({ text: TEXT });
  const sendOne = () => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(name === "ws" ? payload : `[1,${++id},"echo",${payload}]`);
  };
  ws.on("message", (data: Buffer) => {
    // Both clients parse what comes back, as an application would; tsws.v1 also checks the frame.
    const value = JSON.parse(data.toString());
    if (name === "tswebsockets" && (value[0] !== 2 || typeof value[2]?.text !== "string")) throw new Error(`unexpected ${data}`);
    onReply();
    sendOne();
  });
  for (let i = 0; i < inflight; i++) sendOne();
  return { close: () => ws.close() };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
