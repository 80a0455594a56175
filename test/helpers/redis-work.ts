import type { Redis } from "ioredis";

/**
 * What one call (a plain command, or a script with the commands it ran) asked of Redis, read
 * from MONITOR. `named` counts the keys and elements the call's commands name: every argument
 * after the command's name, except SSCAN (its COUNT, the elements it may return) and whole reads
 * (SMEMBERS, ZRANGEBYSCORE...: 1, allowed only on keys whose size is bounded by the node count).
 */
export interface CallWork {
  /** The command as sent by the client: "evalsha <sha>" or a plain command's name, lower case. */
  readonly name: string;
  /** Commands Redis ran for it: 1 for a plain command, the inner commands for a script. */
  commands: number;
  named: number;
  /** The call's first arguments and first inner commands, to say which call was the largest. */
  sample: string;
}

/** How a command's work is counted; a command missing here is reported as unknown (the test decides). */
const counting: Record<string, "args" | "scan" | "whole" | "connection"> = {
  sadd: "args",
  srem: "args",
  sismember: "args",
  smismember: "args",
  zadd: "args",
  zrem: "args",
  zscore: "args",
  pexpire: "args",
  unlink: "args",
  del: "args",
  publish: "args",
  spublish: "args",
  subscribe: "args",
  ssubscribe: "args",
  unsubscribe: "args",
  sunsubscribe: "args",
  time: "args",
  evalsha: "args",
  eval: "args",
  sscan: "scan",
  smembers: "whole",
  zrangebyscore: "whole",
  zremrangebyscore: "whole",
  hello: "connection",
  info: "connection",
  client: "connection",
  select: "connection",
  script: "connection",
  ping: "connection",
  quit: "connection",
  echo: "connection",
};

/**
 * Records every call the other clients of one Redis make, through MONITOR, and says how much
 * the largest did: a count that does not depend on timing (a loaded machine cannot blur it).
 * Redis 7 shows a script's inner commands (source "lua") right after the script's own line.
 * @example
 * const work = await RedisWork.start(admin, /:(room|at):|:nodes$/); ...; const report = await work.stop();
 * report.largest.named; // keys and elements named by the largest call
 */
export class RedisWork {
  readonly #admin: Redis;
  readonly #monitor: Redis;
  readonly #wholeReadable: RegExp;
  readonly #ignored: string;
  readonly calls: CallWork[] = [];
  /** Commands not in the counting table, and whole reads of keys not known to be bounded by the node count. */
  readonly unbounded: string[] = [];
  #current: CallWork | undefined;
  #marker = "";
  #marked: (() => void) | undefined;

  private constructor(admin: Redis, monitor: Redis, wholeReadable: RegExp) {
    this.#admin = admin;
    this.#monitor = monitor;
    this.#wholeReadable = wholeReadable;
    this.#ignored = RedisWork.addressOf(admin);
    monitor.on("monitor", this.#onLine);
    monitor.on("error", () => {}); // the test sees a lost Redis through its own connection
  }

  /** The address Redis knows a connection by ("127.0.0.1:<port>"), as MONITOR and SLOWLOG show it. */
  static addressOf(connection: Redis): string {
    return `127.0.0.1:${connection.stream.localPort}`;
  }

  /** Starts recording every client but `admin` (which the test uses to look at Redis). */
  static async start(admin: Redis, wholeReadable: RegExp): Promise<RedisWork> {
    return new RedisWork(admin, await admin.monitor(), wholeReadable);
  }

  /** Waits until MONITOR has shown everything sent before, stops recording, and sums up. */
  async stop(): Promise<{ calls: number; largest: CallWork; unbounded: string[] }> {
    this.#marker = `tsws-work-end-${Date.now()}`;
    const seen = new Promise<void>((resolve) => {
      this.#marked = resolve;
    });
    await this.#admin.echo(this.#marker);
    await seen;
    this.close();
    let largest: CallWork = { name: "none", commands: 0, named: 0, sample: "" };
    for (const call of this.calls) if (call.named > largest.named) largest = call;
    return { calls: this.calls.length, largest, unbounded: this.unbounded };
  }

  /** Stops recording (also after a failure, when {@link stop} is not reached). */
  close(): void {
    this.#monitor.disconnect();
  }

  #onLine = (_time: string, args: string[], source: string): void => {
    const name = String(args[0]).toLowerCase();
    if (source === this.#ignored) {
      if (name === "echo" && args[1] === this.#marker) this.#marked?.();
      return;
    }
    if (source === "lua") {
      const call = this.#current;
      if (call === undefined) return;
      // A script's own line counted its keys and arguments; what it costs is what it ran.
      if (call.commands === 0) call.named = 0;
      call.commands++;
      call.named += this.#named(args);
      if (call.commands <= 2) call.sample += ` | ${args.slice(0, 3).join(" ").slice(0, 100)}`;
      return;
    }
    const script = name === "evalsha" || name === "eval";
    const call: CallWork = {
      name: script ? `evalsha ${name === "eval" ? "(text)" : args[1]}` : name,
      commands: script ? 0 : 1,
      named: this.#named(args),
      sample: args.slice(0, 4).join(" ").slice(0, 160),
    };
    this.#current = call;
    this.calls.push(call);
  };

  #named(args: string[]): number {
    const name = String(args[0]).toLowerCase();
    const how = counting[name];
    if (how === undefined) {
      this.unbounded.push(`unknown command ${args.slice(0, 3).join(" ")}`);
      return args.length - 1;
    }
    if (how === "args") return name === "eval" || name === "evalsha" ? args.length - 3 : args.length - 1;
    if (how === "connection") return 1;
    if (how === "scan") {
      const at = args.findIndex((a) => a.toLowerCase() === "count");
      return at < 0 ? 10 : Number(args[at + 1]);
    }
    if (!this.#wholeReadable.test(String(args[1]))) this.unbounded.push(`whole read of ${args.slice(0, 2).join(" ")}`);
    return 1;
  }
}
