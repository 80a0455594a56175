import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { serveControl } from "./control.js";

// The same behaviour as the tswebsockets server, written by hand the usual way: one `send` per
// message, a Set as the room.
const http = createServer();
const wss = new WebSocketServer({ server: http, clientTracking: false, perMessageDeflate: false });
const room = new Set<WebSocket>();

wss.on("connection", (ws, req) => {
  if (req.url === "/room") {
    room.add(ws);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? data : data.toString();
      for (const peer of room) peer.send(message);
    });
    ws.on("close", () => room.delete(ws));
  } else {
    // "/echo" and "/rpc" (request/reply without a protocol: the request frame comes back as it is).
    ws.on("message", (data: Buffer, isBinary: boolean) => ws.send(isBinary ? data : data.toString()));
  }
});

await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
serveControl((http.address() as AddressInfo).port, async () => {
  http.closeAllConnections();
  http.close();
});
