// Small helpers shared by the tests: real `ws` clients on loopback, and ways to wait for what
// they receive without timing assumptions.
import { once } from "node:events";
import { WebSocket } from "ws";
import { BaseHandler, type HandlerClass, type Message, Namespace, type Server, type Socket } from "../src/index.js";

/**
 * A handler at `path` that echoes every message back and tells `events` of each connect and close,
 * so a test file can watch its sockets without writing its own echo handler.
 */
export function echoHandler(path: string, events: { connect?(socket: Socket): void; close?(socket: Socket): void } = {}): HandlerClass {
  @Namespace(path)
  class Echo extends BaseHandler {
    static onConnect(socket: Socket) {
      events.connect?.(socket);
    }
    static onMessage(socket: Socket, message: Message) {
      socket.send(message);
    }
    static onClose(socket: Socket) {
      events.close?.(socket);
    }
  }
  return Echo;
}

/** Starts a server on 127.0.0.1 with a free port and returns its ws:// base URL. */
export async function start(server: Server): Promise<string> {
  const { port } = await server.listen();
  return `ws://127.0.0.1:${port}`;
}

/** A client that records every message and its close, so a test can wait for either. */
export class Client {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { count: number; resolve: () => void }[] = [];

  constructor(url: string, options?: ConstructorParameters<typeof WebSocket>[2]) {
    this.ws = new WebSocket(url, options);
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.messages.push(isBinary ? `bytes:${data.toString("hex")}` : data.toString());
      const ready = this.#waiters.filter((w) => this.messages.length >= w.count);
      this.#waiters = this.#waiters.filter((w) => this.messages.length < w.count);
      for (const w of ready) w.resolve();
    });
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on("error", () => {}); // a refused or dropped socket surfaces through `closed`
  }

  /** Connects and resolves once open. */
  static async open(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<Client> {
    const client = new Client(url, options);
    await once(client.ws, "open");
    return client;
  }

  /** Resolves once `count` messages have arrived in total; rejects if the socket closes first. */
  received(count: number): Promise<string[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages.slice(0, count));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ count, resolve: () => resolve(this.messages.slice(0, count)) });
      this.closed.then(({ code }) => reject(new Error(`closed with ${code} after ${this.messages.length} of ${count} messages`)));
    });
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    return this.closed;
  }
}

/** The HTTP status a refused upgrade answered with (via the client's 'unexpected-response'). */
export function refusedStatus(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error(`the upgrade to ${url} was accepted`));
    });
    ws.on("error", (error) => reject(error));
  });
}

/** Polls `test` until it is true; fails after a generous deadline (never a timing assertion). */
export async function until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve function, to hold a hook until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** A logger that keeps what it was told, so expected errors do not clutter the test output. */
export function quietLogger() {
  const errors: unknown[] = [];
  return {
    errors,
    error: (obj: object) => errors.push(obj),
    warn: () => {},
    info: () => {},
    debug: () => {},
  };
}
