import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/**
 * A private `redis-server` for one test file: a free loopback port, no persistence. `kill()`
 * stops it with SIGKILL (an outage as abrupt as a crash) and `start()` brings it back on the
 * same port, empty. `freeze()`/`thaw()` stop and resume the process (SIGSTOP/SIGCONT) without
 * closing a connection.
 * @example
 * const redis = await RedisServer.launch(); after(() => redis.stop()); new Redis(redis.port, "127.0.0.1");
 */
export class RedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async launch(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The redis-server process id while it runs (a test reads its scheduling counters in /proc). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts (or restarts) the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          child.stdout?.off("data", onData);
          child.off("exit", onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`redis-server exited with ${code}:\n${output}`));
      child.stdout?.on("data", onData);
      child.once("exit", onExit);
      child.once("error", reject);
    });
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Kills the server with SIGKILL and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /** Freezes the server with SIGSTOP: its connections stay open and nothing is answered (a hung Redis, not a crash). */
  freeze(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a frozen server run again (SIGCONT); it then works through everything sent to it meanwhile. */
  thaw(): void {
    this.#child?.kill("SIGCONT");
  }

  stop(): Promise<void> {
    return this.kill();
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
