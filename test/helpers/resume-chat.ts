// A chat of resumable sessions for the failover tests and the benchmark: `/chat/:room` joins its
// room; the client event `say` broadcasts to the room (numbered in its history); the request
// `ping` answers at once. Used in-process and, through resume-node.ts, in a child process.
import { z } from "zod";
import { defineContract, event, request } from "../../src/contract/index.js";
import { type Adapter, createServer, type EventSocket, events, handle, type Logger, Namespace, type Server } from "../../src/index.js";

export const resumeChat = defineContract({
  client: {
    say: event(z.object({ text: z.string() })),
    ping: request(z.object({}), z.string()),
  },
  server: {
    message: event(z.object({ text: z.string() })),
  },
});

@Namespace("/chat/:room")
export class ResumeChat extends events(resumeChat) {
  static onConnect(socket: EventSocket<typeof resumeChat>) {
    socket.join(socket.params.room ?? "");
  }
  static events = handle(resumeChat, {
    say(socket, { text }) {
      socket.server.to(socket.params.room ?? "").emit("message", { text });
    },
    ping: () => "pong",
  });
}

const quiet: Logger = { error: (o, m) => console.error(m, o), warn: () => {}, info: () => {}, debug: () => {} };

/** Starts a node of the chat on a loopback port. */
export async function startResumeNode(adapter?: Adapter, logger: Logger = quiet): Promise<{ server: Server; port: number }> {
  const server = createServer({
    handlers: [ResumeChat],
    host: "127.0.0.1",
    port: 0,
    adapter,
    logger,
    resume: { ttl: 60_000, history: { size: 1000, ttl: 300_000 } },
    heartbeatInterval: 0,
  });
  const { port } = await server.listen();
  return { server, port };
}
