import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { serveControl } from "./control.js";

// The same behaviour with Socket.IO: WebSocket transport only, an event per message, a room.
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  if (socket.handshake.query.endpoint === "room") {
    socket.join("room");
    socket.on("b", (message: string) => io.to("room").emit("b", message));
  } else if (socket.handshake.query.endpoint === "rpc") {
    // Request/reply: emitWithAck on the client, the data acknowledged back.
    socket.on("echo", (data: unknown, ack: (reply: unknown) => void) => ack(data));
  } else {
    socket.on("e", (message: string) => socket.emit("e", message));
  }
});

await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
serveControl((http.address() as AddressInfo).port, async () => {
  io.close();
  http.closeAllConnections();
});
