/**
 * A server for bench/resume.ts' handshake part, in a process of its own so that its CPU time per
 * handshake is measured apart from the clients': `resume` (the chat with `resume` on), `plain` (the
 * same without it), `ws-chat` (the chat's connect and close written by hand on `ws`, the way
 * bench/servers/ws.ts writes the echo and the room), `ws-session` (that chat made resumable by hand
 * the usual way: a secret and a first frame per connection, kept 60 s after the close) or `ws`
 * (a bare `ws` server that does nothing with a connection). `built-resume` and `built-plain` are the same chat on the built package
 * (dist/, from `npm run build`), which is what an application runs: src/ through tsx carries
 * esbuild's `keepNames` helper (a `__name()` call each time a named function or closure is made).
 * `built-rpc-resume` and `built-rpc` are run.ts' handshakes servers (the contract namespace with and
 * without resume, nothing done on connect) on the built package.
 * Run by the benchmark: node --import tsx bench/servers/resume-handshake.ts <kind>
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import type { EventSocket, Server } from "../../src/index.js";
import { loadBuilt } from "./built.js";
import { chatOptions } from "./chat-options.js";
import { serveControl } from "./control.js";
import { rpcNamespace } from "./rpc-namespace.js";

const kind = process.argv[2];

if (kind === "ws") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, clientTracking: false, perMessageDeflate: false });
  await once(wss, "listening");
  serveControl((wss.address() as { port: number }).port, () => new Promise((r) => wss.close(() => r())));
} else if (kind === "ws-chat" || kind === "ws-session") {
  const wss = handChat(kind === "ws-session");
  await once(wss, "listening");
  serveControl((wss.address() as { port: number }).port, () => new Promise((r) => wss.close(() => r())));
} else if (kind === "built-resume" || kind === "built-plain") {
  const server = await builtChat(kind === "built-resume");
  const { port } = await server.listen();
  serveControl(port, () => server.close());
} else if (kind === "built-rpc-resume" || kind === "built-rpc") {
  const server = await builtRpc(kind === "built-rpc-resume");
  const { port } = await server.listen();
  serveControl(port, () => server.close());
} else if (kind === "resume" || kind === "plain") {
  // src/ through tsx, loaded only for these two: the other servers hold no second copy of the
  // library (a larger heap for the collector to mark).
  const { createServer } = await import("../../src/index.js");
  const { ResumeChat } = await import("../../test/helpers/resume-chat.js");
  const server = createServer({ handlers: [ResumeChat], ...chatOptions(kind === "resume") });
  const { port } = await server.listen();
  serveControl(port, () => server.close());
} else {
  throw new Error(
    `resume-handshake server: unknown kind ${kind} (resume, plain, built-resume, built-plain, built-rpc-resume, built-rpc, ws-chat, ws-session or ws)`,
  );
}

/**
 * The contract namespace of run.ts' handshakes scenario (bench/servers/tswebsockets.ts' `/rpc`: one
 * request, no room, nothing done on connect) on the built package, at the chat's path: the issue's
 * handshake target measured in this part's rotating rounds, which the VM's drift touches alike.
 */
async function builtRpc(resume: boolean): Promise<Server> {
  const built = await loadBuilt();
  return built.lib.createServer({ handlers: [rpcNamespace(built, "/chat/:room")], ...chatOptions(resume) });
}

/** test/helpers/resume-chat.ts' chat, made with the built package's own exports (its registry is not src's). */
async function builtChat(resume: boolean): Promise<Server> {
  const { lib, contract: c } = await loadBuilt();
  const chat = c.defineContract({
    client: { say: c.event(z.object({ text: z.string() })), ping: c.request(z.object({}), z.string()) },
    server: { message: c.event(z.object({ text: z.string() })) },
  });
  class BuiltChat extends lib.events(chat) {
    static onConnect(socket: EventSocket<typeof chat>) {
      socket.join(socket.params.room ?? "");
    }
    static events = lib.handle(chat, {
      say(socket, { text }) {
        socket.server.to(socket.params.room ?? "").emit("message", { text });
      },
      ping: () => "pong",
    });
  }
  lib.namespace("/chat/:room", BuiltChat);
  return lib.createServer({ handlers: [BuiltChat], ...chatOptions(resume) });
}

/**
 * The chat by hand on `ws`: the room from the path, an id, the room's Set, a listener for the
 * client's `say` (broadcast to the room) and one for the close. With `sessions`, resumable the
 * usual way: a secret per connection (a random UUID), kept with the room in a Map until 60 s
 * after the close and swept once a minute (as Socket.IO's connection state recovery keeps its
 * sessions), told to the client in a first frame with the id; what a resume then does is not part
 * of a fresh handshake.
 */
function handChat(sessions: boolean): WebSocketServer {
  const rooms = new Map<string, Set<WebSocket>>();
  const kept = new Map<string, { secret: string; room: string; expires: number }>();
  if (sessions) {
    setInterval(() => {
      const now = Date.now();
      for (const [id, session] of kept) if (session.expires < now) kept.delete(id);
    }, 60_000).unref();
  }
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, clientTracking: false, perMessageDeflate: false });
  wss.on("connection", (ws, req) => {
    const path = (req.url ?? "").split("?")[0] as string;
    if (!path.startsWith("/chat/")) {
      ws.close(1008, "unknown path");
      return;
    }
    const room = decodeURIComponent(path.slice("/chat/".length));
    const id = randomUUID();
    let members = rooms.get(room);
    if (members === undefined) rooms.set(room, (members = new Set()));
    members.add(ws);
    if (sessions) {
      const secret = randomUUID();
      kept.set(id, { secret, room, expires: Number.POSITIVE_INFINITY });
      ws.send(JSON.stringify([9, "welcome", { sid: id, token: `${id}.${secret}` }]));
    }
    ws.on("message", (data: Buffer) => {
      let message: { text?: unknown };
      try {
        message = JSON.parse(data.toString()) as { text?: unknown };
      } catch {
        return; // not JSON: ignored, as the chat's contract refuses it
      }
      if (typeof message?.text !== "string") return;
      const out = JSON.stringify({ from: id, text: message.text });
      for (const peer of members) peer.send(out);
    });
    ws.on("close", () => {
      members.delete(ws);
      if (members.size === 0) rooms.delete(room);
      const session = kept.get(id);
      if (session !== undefined) session.expires = Date.now() + 60_000;
    });
  });
  return wss;
}
