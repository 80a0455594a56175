// A namespace open to any WebSocket client (no login): the quickest way to see the server
// answer from a terminal, e.g. `python3 -m websockets ws://localhost:8000/echo/`.
import { BaseHandler, type Message, Namespace, type Socket } from "../../src/index.js";

@Namespace("/echo/")
export class Echo extends BaseHandler {
  static onConnect(socket: Socket): void {
    socket.send("connected to tswebsockets: every message you send comes back");
  }
  static onMessage(socket: Socket, message: Message): void {
    socket.send(message);
  }
}
