/**
 * A server for bench/resume.ts' handshake part, in a process of its own so that its CPU time per
 * handshake is measured apart from the clients': `resume` (the chat with `resume` on), `plain` (the
 * same without it) or `ws` (a bare `ws` server).
 * Run by the benchmark: node --import tsx bench/servers/resume-handshake.ts <resume|plain|ws>
 */
import { once } from "node:events";
import { WebSocketServer } from "ws";
import { createServer, type Logger } from "../../src/index.js";
import { ResumeChat } from "../../test/helpers/resume-chat.js";
import { serveControl } from "./control.js";

const kind = process.argv[2];
const quiet: Logger = { error: (o, m) => console.error(m, o), warn: () => {}, info: () => {}, debug: () => {} };

if (kind === "ws") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, clientTracking: false, perMessageDeflate: false });
  await once(wss, "listening");
  serveControl((wss.address() as { port: number }).port, () => new Promise((r) => wss.close(() => r())));
} else if (kind === "resume" || kind === "plain") {
  const server = createServer({
    handlers: [ResumeChat],
    host: "127.0.0.1",
    port: 0,
    logger: quiet,
    heartbeatInterval: 0,
    maxConnections: 100_000,
    ...(kind === "resume" ? { resume: { ttl: 60_000, history: { size: 1000 } } } : {}),
  });
  const { port } = await server.listen();
  serveControl(port, () => server.close());
} else {
  throw new Error(`resume-handshake server: unknown kind ${kind} (resume, plain or ws)`);
}
