import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Answers an upgrade request with a plain HTTP response and closes the connection: used for every
 * refusal made before the handshake, so a client sees a real status and a reason it can read.
 */
export function refuseUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  // A peer that never reads must not keep the descriptor: give the answer a moment, then drop.
  setTimeout(() => socket.destroy(), 1000).unref();
}
