import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import * as wsModule from "ws";
import { type WebSocket, WebSocketServer } from "ws";
import { serveControl } from "./control.js";

/**
 * The ceiling: the same behaviour as the ws server, written by hand as carefully as ws allows. Two
 * things make it faster than one `send` per message:
 * - every TCP socket written in one event-loop turn is corked on its first write and all of them
 *   are uncorked together in one `process.nextTick`, so a socket gets one write system call per
 *   turn however many frames it got;
 * - a broadcast's frame (header + payload) is built once and the same buffer written to each peer.
 * Echo sends the received bytes back as they came (no decoding to a string and back).
 */

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// ws exports its Sender (the frame encoder) at runtime; @types/ws does not declare it.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

let corked: Duplex[] = [];
function uncorkAll(): void {
  const batch = corked;
  corked = [];
  for (const tcp of batch) tcp.uncork();
}
/** Corks `tcp` for the rest of this turn (once), so everything written to it leaves together. */
function cork(tcp: Duplex): void {
  if (tcp.writableCorked > 0) return;
  tcp.cork();
  if (corked.push(tcp) === 1) process.nextTick(uncorkAll);
}

const http = createServer();
const wss = new WebSocketServer({ server: http, clientTracking: false, perMessageDeflate: false });
const room = new Set<Duplex>();

wss.on("connection", (ws: WebSocket, req) => {
  const tcp = req.socket;
  if (req.url === "/room") {
    room.add(tcp);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const opcode = isBinary ? 2 : 1;
      const frame = Buffer.concat(Sender.frame(data, { fin: true, opcode, mask: false, readOnly: false, rsv1: false }));
      for (const peer of room) {
        cork(peer);
        peer.write(frame);
      }
    });
    ws.on("close", () => room.delete(tcp));
  } else {
    // "/echo" and "/rpc" (request/reply without a protocol: the request frame comes back as it is).
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      cork(tcp);
      ws.send(data, { binary: isBinary }); // ws's own cork/uncork nests inside ours
    });
  }
});

await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
serveControl((http.address() as AddressInfo).port, async () => {
  http.closeAllConnections();
  http.close();
});
