import type { BaseHandler, Message, Socket } from "../../src/index.js";
import { loadBuilt } from "./built.js";
import { serveControl } from "./control.js";
import { rpcNamespace } from "./rpc-namespace.js";

// The built package, as an application runs it (see built.ts); the runner builds it first.
const built = await loadBuilt();
const { BaseMixin, createServer, mixins, Namespace } = built.lib;

/** A mixin that looks at every event and lets it through, as a logging or metrics mixin would. */
class PassA extends BaseMixin {
  static onConnect = (_socket: Socket, _path: string) => undefined;
  static onMessage = (_socket: Socket, _message: Message) => undefined;
}
class PassB extends BaseMixin {
  static onConnect = (_socket: Socket, _path: string) => undefined;
  static onMessage = (_socket: Socket, _message: Message) => undefined;
}
class PassC extends BaseMixin {
  static onConnect = (_socket: Socket, _path: string) => undefined;
  static onMessage = (_socket: Socket, _message: Message) => undefined;
}

@Namespace("/echo")
class Echo extends mixins(PassA, PassB, PassC) {
  static onMessage(socket: Socket, message: Message): void {
    socket.send(message);
  }
}

@Namespace("/room")
class Room extends mixins(PassA, PassB, PassC) {
  static onConnect(socket: Socket): void {
    socket.join("room");
  }
  static onMessage(socket: Socket, message: Message): void {
    socket.server.to("room").send(message);
  }
}

/** Request/reply (rpc-namespace.ts). */
const Rpc = rpcNamespace(built, "/rpc");

const handlers: (typeof BaseHandler)[] = [Echo, Room, Rpc];
// With TSWS_BENCH_RESUME=1 (tswebsockets-resume.ts), resumable sessions with their defaults: a
// tsws.v1 connection to /rpc then opens a session and gets its welcome frame.
const resume = process.env.TSWS_BENCH_RESUME === "1" ? { resume: {} } : {};
// The default cap (10,000 connections) would refuse part of the idle-at-scale scenario.
const server = createServer({ handlers, host: "127.0.0.1", port: 0, maxConnections: 1_000_000, ...resume });
const { port } = await server.listen();
serveControl(port, () => server.close());
