// The resumable chat the client-resume tests run against (a namespace per node, so each node
// counts its own connects and runs) and the resuming client they drive: `connect(url, { resume:
// true })` with ws' WebSocket, recording what it receives.
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { z } from "zod";
import { type Client, type ClientOptions, type ClientState, connect, type Gap } from "../../src/client/index.js";
import { defineContract, event, request } from "../../src/contract/index.js";
import { type Adapter, createServer, type EventSocket, events, handle, Namespace, type Server } from "../../src/index.js";
import type { ResumeOptions } from "../../src/options/resume.js";
import { terminate } from "../../src/socket/socket.js";
import { until } from "../helpers.js";

const chat = defineContract({
  client: {
    join: request(z.object({ room: z.string() }), z.null()),
    // Runs `ms`, sends a direct message `dm` (if given) to the caller when done, answers its run count.
    slow: request(z.object({ ms: z.number(), dm: z.string().optional() }), z.number()),
  },
  server: {
    message: event(z.object({ i: z.number() })),
    dm: event(z.object({ text: z.string() })),
  },
});

type ChatSocket = EventSocket<typeof chat>;

export interface Node {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /** Every connect the namespace saw: id, resumed, rooms. */
  readonly connects: { id: string; resumed: boolean; rooms: string[] }[];
  /** The newest socket object of each id (a resumed socket replaces the old one). */
  readonly sockets: Map<string, ChatSocket>;
  /** How often `slow` ran. */
  runs: number;
  /** Broadcasts `{ i }` to `room`, or to several rooms at once (numbered in each one's history). */
  say(room: string | readonly string[], i: number): void;
}

/** Every node and client made here, for the test file's `after` to stop. */
export const made = { nodes: [] as Node[], clients: [] as Client[] };

/** Starts the chat node; `resume` undefined: the same server without resumable sessions. */
export async function startNode(resume: ResumeOptions | undefined, port = 0, adapter?: Adapter): Promise<Node> {
  const node = { connects: [], sockets: new Map(), runs: 0 } as unknown as { -readonly [K in keyof Node]: Node[K] };
  let view: ChatSocket["server"] | undefined;
  @Namespace("/chat")
  class Chat extends events(chat) {
    static onConnect(socket: ChatSocket) {
      view = socket.server;
      node.sockets.set(socket.id, socket);
      node.connects.push({ id: socket.id, resumed: socket.resumed, rooms: [...socket.rooms] });
    }
    static events = handle(chat, {
      join(socket, { room }) {
        socket.join(room);
        return null;
      },
      async slow(socket, { ms, dm }) {
        await new Promise((r) => setTimeout(r, ms));
        // The same socket object, also when its connection is gone: kept in the session's inbox.
        if (dm !== undefined) socket.emit("dm", { text: dm });
        return ++node.runs;
      },
    });
  }
  const server = createServer({ handlers: [Chat], host: "127.0.0.1", port, resume, heartbeatInterval: 0, adapter });
  const listening = await server.listen();
  node.server = server;
  node.port = listening.port;
  node.url = `ws://127.0.0.1:${listening.port}/chat`;
  node.say = (room, i) => {
    assert.ok(view, "a socket connected first");
    const [first = "", ...more] = typeof room === "string" ? [room] : room;
    more.reduce((to, r) => to.to(r), view.to(first)).emit("message", { i });
  };
  made.nodes.push(node);
  return node;
}

/** A resuming client that records what it gets: `message` i's, `dm` texts, gaps and states. */
export function resumer(url: string, options: ClientOptions = {}) {
  const c = connect<typeof chat>(url, { WebSocket, resume: true, reconnect: { baseMs: 50, maxMs: 200 }, ...options });
  made.clients.push(c);
  const got = { messages: [] as number[], dms: [] as string[], gaps: [] as Gap[], states: [] as ClientState[] };
  c.on("message", ({ i }) => got.messages.push(i));
  c.on("dm", ({ text }) => got.dms.push(text));
  c.on("gap", (gap) => got.gaps.push(gap));
  c.on("state", (s) => got.states.push(s));
  return Object.assign(c, { got });
}

/** Resolves once the client is open on a session the server welcomed or resumed. */
export async function settled(c: Client): Promise<void> {
  await until(() => c.state === "open" && c.id !== undefined, "the client to be open with a session");
}

/** Drops the server's side of the client's connection without a close frame, as a heartbeat timeout does. */
export function cut(node: Node, c: Client): void {
  const socket = node.server.getSocket(c.id as string);
  assert.ok(socket, `a live socket for ${c.id}`);
  terminate(socket, "heartbeat timeout");
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
