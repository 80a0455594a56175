// The server's application-level ping (issue 14): with each heartbeat, a tsws.v1 socket the server
// sent nothing to since the previous one gets `[9,"ping"]`, so a browser client (which never sees
// protocol pings) can tell a live server from a dead one; a busy socket and a raw socket get none.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { defineContract, event } from "../src/contract/index.js";
import { createServer, type EventSocket, events, handle, Namespace, type Socket } from "../src/index.js";
import { start, until } from "./helpers.js";

const ticks = defineContract({ client: { busy: event() }, server: { tick: event() } });

describe("application pings on idle tsws.v1 sockets", () => {
  @Namespace("/ping")
  class Ping extends events(ticks) {
    static events = handle(ticks, {
      busy(socket: EventSocket<typeof ticks>) {
        const timer = setInterval(() => (socket.closed ? clearInterval(timer) : socket.emit("tick")), 5);
      },
    });
  }
  @Namespace("/raw")
  class Raw {
    static onMessage(socket: Socket) {
      socket.send("x");
    }
  }
  const server = createServer({ handlers: [Ping, Raw], host: "127.0.0.1", port: 0, heartbeatInterval: 200, heartbeatTimeout: 2000 });
  let url = "";
  before(async () => (url = await start(server)));
  after(() => server.close());

  const open = async (path: string, protocols?: string[]) => {
    const ws = new WebSocket(`${url}${path}`, protocols);
    const frames: string[] = [];
    ws.on("message", (data) => frames.push(data.toString()));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return { ws, frames };
  };

  it("pings an idle socket, not a busy one, and never a raw one", async () => {
    const idle = await open("/ping", ["tsws.v1"]);
    const busy = await open("/ping", ["tsws.v1"]);
    const raw = await open("/raw");
    busy.ws.send(JSON.stringify([0, "busy"]));
    await until(() => idle.frames.filter((f) => f === '[9,"ping"]').length >= 3, "three pings on the idle socket");
    assert.ok(busy.frames.filter((f) => f === '[0,"tick"]').length > 3, "the busy socket got its ticks");
    // Written to every 5 ms, it is pinged only if a stall of the whole process (a loaded machine)
    // left a heartbeat without a tick in between: at most once while the idle socket got three.
    assert.ok(busy.frames.filter((f) => f.startsWith("[9")).length <= 1, "a socket written to since the last heartbeat gets no ping");
    assert.deepEqual(raw.frames, [], "a raw socket never gets an application ping");
    for (const c of [idle, busy, raw]) c.ws.close();
  });
});
