// The app of test/resume-cluster.test.ts, in-process and, through resume-cluster-node.ts, in a child
// process that the test kills: `/x/:room` joins its room on a fresh session; the server sends `dm`
// (direct) and `message` (room) events; every node records the sessions whose `onExpire` ran on it.
import { z } from "zod";
import { defineContract, event } from "../../src/contract/index.js";
import { type Adapter, createServer, type EventSocket, events, Namespace, type Server } from "../../src/index.js";
import { type LogLine, testLogger } from "./sessions.js";

export const clusterChat = defineContract({
  client: { noop: event(z.object({})) },
  server: { dm: event(z.object({ n: z.number() })), message: event(z.object({ n: z.number() })) },
});
export type ClusterChatSocket = EventSocket<typeof clusterChat>;

export interface ClusterChatNode {
  readonly server: Server;
  readonly url: (room: string) => string;
  /** The newest socket object of every session this node saw, by id. */
  readonly sockets: Map<string, ClusterChatSocket>;
  /** Sessions whose `onExpire` ran here, in order. */
  readonly expired: string[];
  /** What the server logged, with the fields logged beside each message (`room`, `socket`, `err`, ...). */
  readonly log: LogLine[];
  /** The server view of a socket here (set by the first connection): `view.to(room).emit(...)`. */
  view: ClusterChatSocket["server"] | undefined;
}

/** Starts a node of the app on a loopback port; sessions wait `ttl` ms for a resume. */
export async function startClusterChat(adapter: Adapter, ttl: number): Promise<ClusterChatNode> {
  const sockets = new Map<string, ClusterChatSocket>();
  const expired: string[] = [];
  const logger = testLogger();
  const node = { sockets, expired, log: logger.lines, view: undefined } as { -readonly [K in keyof ClusterChatNode]: ClusterChatNode[K] };
  @Namespace("/x/:room")
  class X extends events(clusterChat) {
    static onConnect(socket: ClusterChatSocket) {
      node.view ??= socket.server;
      sockets.set(socket.id, socket);
      if (!socket.resumed) socket.join(socket.params.room ?? "");
    }
    static onExpire(session: { id: string }) {
      expired.push(session.id);
    }
  }
  const server = createServer({
    handlers: [X],
    host: "127.0.0.1",
    port: 0,
    adapter,
    logger,
    resume: { ttl, history: { size: 1_000, ttl: 120_000 } },
    heartbeatInterval: 0,
  });
  const { port } = await server.listen();
  node.server = server;
  node.url = (room) => `ws://127.0.0.1:${port}/x/${room}`;
  return node;
}
