// A minimal chat server on the embedded defaults (localhost:8001): every message sent to
// /chat/<room> is relayed to everyone in that room. The full demo with logins replaces this.
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../../src/index.js";

@Namespace("/chat/:room")
class Chat extends BaseHandler {
  static override onConnect(socket: Socket): void {
    socket.join(socket.params.room as string);
    socket.server.to(socket.params.room as string).send(`* ${socket.id.slice(0, 8)} joined`);
  }
  static override onMessage(socket: Socket, message: Message): void {
    socket.server.to(socket.params.room as string).send(message);
  }
}

const server = createServer({ handlers: [Chat] });
const { host, port } = await server.listen();
console.log(`chat server on ws://${host}:${port}/chat/<room>`);
process.once("SIGTERM", () => server.close());
process.once("SIGINT", () => server.close());
