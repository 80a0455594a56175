import { WebSocket } from "ws";
import { type Adapter, BaseMixin, createServer, type Logger, mixins, Namespace, type Server, type Socket } from "../../src/index.js";

/** Sets `socket.user` and `socket.session` from the query string (`?user=u1&session=s1`), as login middleware would. */
class QueryIdentity extends BaseMixin {
  static onConnect(socket: Socket) {
    const query = new URL(socket.request.url, "http://x").searchParams;
    const user = query.get("user");
    const session = query.get("session");
    if (user !== null) socket.user = { id: user };
    if (session !== null) socket.session = { id: session };
  }
}

/**
 * Joins `/room/<name>` and obeys JSON commands, each through the public server API:
 * `{to, text, except?}`, `{sendTo, text}`, `{members}`, `{closeUser}`, `{closeSession}`, `{echo}`.
 * Tells the client its id first: `id:<socket id>`.
 */
@Namespace("/room/:room")
export class ClusterChat extends mixins(QueryIdentity) {
  static onConnect(socket: Socket) {
    socket.join(socket.params.room ?? "");
    socket.send(`id:${socket.id}`);
  }

  static async onMessage(socket: Socket, message: string | Buffer) {
    const c = JSON.parse(message.toString()) as Record<string, string | boolean | string[] | undefined>;
    const server = socket.server;
    if (Array.isArray(c.to)) {
      let target = server.to(c.to[0] ?? "");
      for (const room of c.to.slice(1)) target = target.to(room);
      (c.except ? target.except(socket) : target).send(String(c.text));
    } else if (typeof c.sendTo === "string") server.sendTo(c.sendTo, String(c.text));
    else if (typeof c.members === "string") socket.send(`members:${JSON.stringify((await server.to(c.members).members()).sort())}`);
    else if (typeof c.closeUser === "string") server.closeUser(c.closeUser);
    else if (typeof c.closeSession === "string") server.closeSession(c.closeSession);
    else if (typeof c.echo === "string") socket.send(c.echo);
  }
}

/** A logger that keeps every line, for tests that check what was logged. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (_obj: object, msg?: string) => {
    lines.push(msg ?? "");
  };
  return { lines, error: keep, warn: keep, info: keep, debug: keep };
}

/** A server node for the chat above, listening on a loopback port. */
export async function startNode(adapter?: Adapter, logger: Logger = recordingLogger()): Promise<{ server: Server; port: number }> {
  const server = createServer({ handlers: [ClusterChat], host: "127.0.0.1", port: 0, adapter, logger });
  const { port } = await server.listen();
  return { server, port };
}

/** A ws client that records what it receives and can wait for the next message. */
export class ChatClient {
  readonly ws: WebSocket;
  readonly received: string[] = [];
  id = "";
  closeCode: number | undefined;
  #waiters: (() => void)[] = [];
  #read = 0;
  /** Answers to `members` commands, kept apart so they never interleave with room messages. */
  readonly #answers: string[][] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith("members:")) this.#answers.push(JSON.parse(text.slice("members:".length)) as string[]);
      else this.received.push(text);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    ws.on("close", (code) => {
      this.closeCode = code;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Connects to `/room/<room>` on a node and waits for its id. */
  static async connect(port: number, room: string, query = ""): Promise<ChatClient> {
    const client = new ChatClient(new WebSocket(`ws://127.0.0.1:${port}/room/${room}${query ? `?${query}` : ""}`));
    const first = await client.next();
    client.id = first.slice("id:".length);
    return client;
  }

  /** The next message not read yet (rejects when the socket closes first). */
  async next(): Promise<string> {
    while (this.#read >= this.received.length) {
      if (this.closeCode !== undefined) throw new Error(`closed with ${this.closeCode} while waiting for a message`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.received[this.#read++] as string;
  }

  /** Whether `text` has arrived (read or not). */
  has(text: string): boolean {
    return this.received.includes(text);
  }

  /** Marks everything up to and including `text` as read. */
  skipPast(text: string): void {
    const at = this.received.indexOf(text);
    if (at >= 0) this.#read = Math.max(this.#read, at + 1);
  }

  /** Reads messages until one equals `marker`; returns those before it. */
  async until(marker: string): Promise<string[]> {
    const before: string[] = [];
    for (let m = await this.next(); m !== marker; m = await this.next()) before.push(m);
    return before;
  }

  /** Resolves once the socket has closed, with the close code. */
  async closed(): Promise<number> {
    while (this.closeCode === undefined) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.closeCode;
  }

  command(c: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(c));
  }

  async members(room: string): Promise<string[]> {
    this.command({ members: room });
    while (this.#answers.length === 0) {
      if (this.closeCode !== undefined) throw new Error(`closed with ${this.closeCode} while waiting for members`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.#answers.shift() as string[];
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Polls `check` every 50 ms until it returns true, failing after `ms` (generous: the machine is
 * shared) with "timed out waiting until <what>"; `what` may be a function, read at the failure, to
 * say what the last check saw.
 * @example
 * await eventually(() => client.received.length === 5, "the 5 messages", 10_000);
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string | (() => string), ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${typeof what === "string" ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
