import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";

/** A RESP command (an array whose first bulk string is its name) named SUBSCRIBE, SSUBSCRIBE or PSUBSCRIBE. */
const SUBSCRIBE = /(?:^|\r\n)\*\d+\r\n\$\d+\r\n[sp]?subscribe\r\n/i;

/**
 * A TCP proxy in front of a Redis server that can hold back the replies on command connections
 * (those that never sent a SUBSCRIBE, SSUBSCRIBE or PSUBSCRIBE command) while subscriber
 * connections flow: a node behind it then hears pub/sub notices before the answers to its own
 * commands, an order two connections allow and a loopback test otherwise never shows. A
 * connection is told apart by the commands it sent, so its links must be up (the node subscribed)
 * before {@link hold}.
 * @example
 * const proxy = await RedisProxy.start(redisPort); // a node's Redis client connects to proxy.port
 * proxy.hold(); ...; proxy.release(); // the held replies arrive, in order
 */
export class RedisProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #links = new Set<{ client: Socket; upstream: Socket; subscriber: boolean; held: [number, Buffer][] }>();
  #holding = false;
  /** Numbers the held chunks in order of arrival (see {@link mark}). */
  #count = 0;
  /** What reached subscriber connections (pub/sub messages), latin1, for {@link delivered}. */
  #published = "";

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(target: number): Promise<RedisProxy> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = new RedisProxy(server, (server.address() as { port: number }).port);
    server.on("connection", (client) => proxy.#link(client, target));
    return proxy;
  }

  /** From now on, replies to command connections wait. */
  hold(): void {
    this.#holding = true;
  }

  /** The replies held are delivered, in order, and replies flow again. */
  release(): void {
    this.#holding = false;
    for (const link of this.#links) for (const [, chunk] of link.held.splice(0)) link.client.write(chunk);
  }

  /** Where the held replies stand now: {@link releaseBefore} delivers those held up to here. */
  mark(): number {
    return this.#count;
  }

  /** Delivers, in order, the replies held before `mark`, and goes on holding the rest. */
  releaseBefore(mark: number): void {
    for (const link of this.#links) {
      while (link.held.length > 0 && (link.held[0] as [number, Buffer])[0] < mark)
        link.client.write((link.held.shift() as [number, Buffer])[1]);
    }
  }

  /** Whether a pub/sub message containing `text` has been passed on to a subscriber connection. */
  delivered(text: string): boolean {
    return this.#published.includes(text);
  }

  /** Releases what is held, stops accepting, and cuts the links still open (stop the node first). */
  async close(): Promise<void> {
    this.release();
    for (const { client, upstream } of this.#links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((done) => this.#server.close(done));
  }

  #link(client: Socket, target: number): void {
    const upstream = connect(target, "127.0.0.1");
    const link = { client, upstream, subscriber: false, held: [] as [number, Buffer][] };
    this.#links.add(link);
    client.on("data", (chunk: Buffer) => {
      if (SUBSCRIBE.test(chunk.toString("latin1"))) link.subscriber = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (link.subscriber) this.#published += chunk.toString("latin1");
      if (this.#holding && !link.subscriber) link.held.push([this.#count++, chunk]);
      else client.write(chunk);
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#links.delete(link);
    };
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  }
}
