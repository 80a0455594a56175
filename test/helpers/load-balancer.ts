import { WebSocket } from "ws";
import type { WebSocketConstructor } from "../../src/client/types.js";

/**
 * A load balancer in front of nodes, for the bundled client: its `WebSocket` class connects
 * wherever `port` says now, whatever port the client's URL names, and keeps each WebSocket it made
 * in `links` (newest last).
 * @example
 * const lb = new LoadBalancer(a.port); const c = resumer(a.url, { WebSocket: lb.WebSocket });
 * lb.port = b.port; lb.breakLink(); // the client's next attempt reaches node b
 */
export class LoadBalancer {
  /** Where the next connection goes. */
  port: number;
  readonly links: WebSocket[] = [];
  readonly WebSocket: WebSocketConstructor;

  constructor(port: number) {
    this.port = port;
    const lb = this;
    this.WebSocket = class Routed extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url.replace(/:\d+\//, `:${lb.port}/`), protocols);
        lb.links.push(this);
      }
    };
  }

  /** Breaks the newest link without a close frame: the network failed, as the server sees it. */
  breakLink(): void {
    (this.links.at(-1) as unknown as { _socket: { destroy(): void } })._socket.destroy();
  }
}
