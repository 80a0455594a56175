/**
 * `testClient()`: a client connected to a server in memory. The request goes through everything a
 * TCP client's does after the port (Node's HTTP parser, routing, the namespace's upgrade pipeline
 * with its checks, caps, origin and middleware, ws' handshake) over a {@link memoryPipe}. On a
 * message-layer namespace the client is `connect()` of tswebsockets/client itself, so tests see
 * the real client's behaviour; a tap on the same WebSocket keeps what arrives for `next()`.
 */
import { createServer as createHttpServer } from "node:http";
import type { Socket as NetSocket } from "node:net";
import { WebSocket } from "ws";
import { type Client, type ClientOptions, connect } from "../client/index.js";
import { SeenIds } from "../client/seen-ids.js";
import type { AnyContract } from "../contract/index.js";
import { UpgradeRefused } from "../errors.js";
import { decodeFrame } from "../protocol/decode-frame.js";
import { FrameKind } from "../protocol/frames.js";
import { entranceOf, type Server } from "../server.js";
import { Inbox, type RawMessage } from "./inbox.js";
import { type MemoryEnd, memoryPipe } from "./memory-pipe.js";
import type { TestClient, TestClientOptions, WaitOptions } from "./types.js";

const DEFAULT_WAIT_MS = 2000;

/**
 * Connects a test client to `path` of `server` without a port: the server need not listen (it
 * may, and may be attached to an app's HTTP server). Resolves once the handshake is done.
 * @param path the request's path and query, e.g. `/chat/lobby?token=abc`
 * @example
 * import { testClient } from "tswebsockets/testing";
 * const c = await testClient<typeof chat>(server, "/chat/lobby", { headers: { cookie } });
 * const { id } = await c.request("send", { text: "hi" }, { timeoutMs: 500 });
 * await c.next("message");
 * await c.close();
 * @throws UpgradeRefused (rejection) when the server answers with an HTTP response instead of a
 * handshake, with its `status` (403 for a cross-site `Origin`, 404 for an unknown path, a
 * middleware's own status...) and `body`; a TypeError for a path that does not start with "/".
 */
export async function testClient<C extends AnyContract = AnyContract>(
  server: Server,
  path: string,
  options: TestClientOptions = {},
): Promise<TestClient<C>> {
  if (typeof path !== "string" || !path.startsWith("/")) throw new TypeError(`testClient: the path must start with "/", got ${path}`);
  const entrance = entranceOf(server);
  await entrance.ready.catch(() => {}); // a failed adapter: the server answers 503, which rejects below
  const url = new URL(path, "ws://localhost");
  const protocol = entrance.subprotocolAt(url.pathname + url.search) ?? "";
  // A private HTTP server that never listens: it only parses the request and hands the upgrade on.
  const http = createHttpServer();
  http.on("upgrade", entrance.upgrade);
  const [clientEnd, serverEnd] = memoryPipe();
  http.emit("connection", serverEnd);

  const inbox = new Inbox();
  let link: WebSocket | undefined;
  // The constructor connect() is given: ws' WebSocket over the in-memory end, tapped for the inbox.
  const Link = class extends WebSocket {
    constructor(address: string, protocols: string[]) {
      super(address, protocols, {
        createConnection: () => clientEnd as MemoryEnd as unknown as NetSocket,
        headers: { ...options.headers },
      });
      if (link !== undefined) throw new Error("testClient: a test client connects once (reconnecting is off)");
      link = this;
      tap(this, inbox, protocol !== "");
    }
  };
  let client: Client | undefined;
  if (protocol === "") new Link(url.href, []);
  else {
    const clientOptions: ClientOptions = { WebSocket: Link, reconnect: false, liveness: false };
    client = connect(
      url.href,
      options.requestTimeoutMs === undefined ? clientOptions : { ...clientOptions, requestTimeoutMs: options.requestTimeoutMs },
    );
  }
  const ws = link as unknown as WebSocket;
  await opened(ws);
  return new InMemoryClient(ws, client, inbox) as unknown as TestClient<C>;
}

/** Keeps what arrives on `ws` in `inbox`: events by name, and every message that is no tsws.v1 frame. */
function tap(ws: WebSocket, inbox: Inbox, tsws: boolean): void {
  const seen = new SeenIds(); // a message emitted to several rooms is one event, as the client makes it
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) return inbox.raw(data);
    const text = data.toString();
    const result = tsws ? decodeFrame(text) : undefined;
    if (result === undefined || !result.ok) return inbox.raw(text);
    const frame = result.frame;
    if (frame[0] === FrameKind.EVENT) inbox.event(frame[1], frame[2]);
    else if (frame[0] === FrameKind.PUSH) {
      if (seen.first(frame[5])) inbox.event(frame[3], frame[4]);
    } else if (frame[0] === FrameKind.REQUEST) inbox.request(frame[2]);
    // Replies and errors settle the client's own requests; control frames (ping) are the protocol's.
  });
  ws.on("close", (code: number, reason: Buffer) => inbox.end({ code, reason: reason.toString() }));
  ws.on("error", () => {}); // a close follows every error: it is reported through closed()
}

/** Resolves when the handshake completes; rejects with the refusal's status, or with why it failed. */
function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    ws.once("open", () => resolve());
    ws.on("error", (error: Error) => {
      failure ??= error;
    });
    // With this listener ws leaves the response to us: read the refusal's body, then drop the link.
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("end", () => {
        failure = new UpgradeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString().trim(), res.headers);
        ws.terminate();
      });
    });
    ws.once("close", (code: number) => {
      reject(failure ?? new Error(`testClient: the connection closed (${code}) before the handshake completed`));
    });
  });
}

/** The object `testClient()` resolves to; typed by its contract through {@link TestClient}. */
class InMemoryClient {
  readonly #ws: WebSocket;
  readonly #client: Client | undefined;
  readonly #inbox: Inbox;

  constructor(ws: WebSocket, client: Client | undefined, inbox: Inbox) {
    this.#ws = ws;
    this.#client = client;
    this.#inbox = inbox;
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  emit(event: string, data?: unknown, options?: { volatile?: boolean }): boolean {
    return this.#events("emit").emit(event, data, options);
  }

  request(event: string, data?: unknown, options?: { timeoutMs?: number }): Promise<unknown> {
    return this.#events("request").request(event, data, options);
  }

  on(event: string, listener: (data: unknown) => void): () => void {
    return this.#events("on").on(event, listener);
  }

  handle(request: string, handler: (data: unknown) => unknown): () => void {
    return this.#events("handle").handle(request, handler);
  }

  next(event: string, options?: WaitOptions): Promise<unknown> {
    return this.#inbox.next(event, options?.timeoutMs ?? DEFAULT_WAIT_MS);
  }

  receive(options?: WaitOptions): Promise<RawMessage> {
    return this.#inbox.receive(options?.timeoutMs ?? DEFAULT_WAIT_MS);
  }

  nothing(ms: number): Promise<void> {
    return this.#inbox.nothing(ms);
  }

  closed(): Promise<{ code: number; reason: string }> {
    return this.#inbox.closed();
  }

  send(data: string | Uint8Array): void {
    if (this.#ws.readyState !== WebSocket.OPEN) throw new Error("send(): the test client is closed");
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): Promise<{ code: number; reason: string }> {
    if (this.#client !== undefined) this.#client.close(code, reason);
    else if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, reason);
    return this.#inbox.closed();
  }

  #events(method: string): Client {
    if (this.#client !== undefined) return this.#client;
    throw new TypeError(`${method}(): this namespace has no message layer (raw): use send() and receive()`);
  }
}
