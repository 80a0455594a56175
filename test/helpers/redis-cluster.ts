import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./redis-server.js";

const run = promisify(execFile);

/**
 * A private Redis Cluster for one test file: `masters` masters (and `replicas` replicas per
 * master) on free loopback ports, no persistence, joined with `redis-cli --cluster create`. Cluster
 * mode needs fixed ports (each node announces its own), so they are picked free beforehand.
 * `stop()` kills every process by its pid and removes the nodes' config files.
 * @example
 * const cluster = await RedisCluster.launch(3); after(() => cluster.stop());
 * new Redis.Cluster(cluster.nodes)
 */
export class RedisCluster {
  readonly ports: readonly number[];
  readonly #dir: string;
  readonly #children = new Map<number, ChildProcess>();

  private constructor(ports: number[], dir: string) {
    this.ports = ports;
    this.#dir = dir;
  }

  static async launch(masters = 3, replicas = 0): Promise<RedisCluster> {
    const ports: number[] = [];
    while (ports.length < masters * (1 + replicas)) {
      const port = await freePort();
      // The cluster bus listens on port + 10000: both must be free and distinct from the others.
      if (port + 10_000 < 65_536 && !ports.includes(port) && !ports.some((p) => Math.abs(p - port) === 10_000)) ports.push(port);
    }
    const cluster = new RedisCluster(ports, await mkdtemp(join(tmpdir(), "tsws-cluster-")));
    try {
      await Promise.all(ports.map((port) => cluster.start(port)));
      const addresses = ports.map((port) => `127.0.0.1:${port}`);
      await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", String(replicas), "--cluster-yes"]);
      await cluster.#untilSettled();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Startup nodes for `new Redis.Cluster(nodes)`. */
  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: "127.0.0.1", port }));
  }

  /** Runs one redis-cli command on the node at `port` and returns its output. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
    return stdout;
  }

  /** The ports of the nodes that are masters right now. */
  async masters(): Promise<number[]> {
    return (await this.#liveMasters()).map((m) => m.port);
  }

  /**
   * The port of the master serving `key`'s hash slot right now (as a running node sees the cluster:
   * after a failover, the promoted replica). Throws when no live master serves the slot.
   * @example
   * const doomed = await cluster.masterOf("{room:r0}:log"); await cluster.kill(doomed);
   */
  async masterOf(key: string): Promise<number> {
    const port = this.#running();
    const slot = Number((await this.cli(port, "cluster", "keyslot", key)).trim());
    const master = (await this.#liveMasters()).find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to));
    if (master === undefined) throw new Error(`no live master serves slot ${slot} (key ${key})`);
    return master.port;
  }

  /**
   * The port of the first replica attached to the master at `master` (INFO replication's `slave0`),
   * or undefined when it has none (its replica was promoted, or the cluster has no replicas).
   * @example
   * const replica = await cluster.replicaOf(await cluster.masterOf(key)); // 30012, or undefined
   */
  async replicaOf(master: number): Promise<number | undefined> {
    const port = /^slave0:ip=[^,]*,port=(\d+)/m.exec(await this.cli(master, "info", "replication"))?.[1];
    return port === undefined ? undefined : Number(port);
  }

  /** A node still running (not killed by {@link kill}), to ask about the cluster. */
  #running(): number {
    const port = this.ports.find((p) => this.#children.has(p));
    if (port === undefined) throw new Error("no node of the Redis cluster is running");
    return port;
  }

  /** The masters not flagged failed, with their slot ranges (inclusive), from CLUSTER NODES. */
  async #liveMasters(): Promise<{ port: number; slots: [number, number][] }[]> {
    const out = await this.cli(this.#running(), "cluster", "nodes");
    const found: { port: number; slots: [number, number][] }[] = [];
    for (const line of out.split("\n")) {
      const [, address, flags, , , , , , ...ranges] = line.split(" ");
      if (!flags?.includes("master") || flags.includes("fail")) continue;
      const slots: [number, number][] = [];
      // Ranges read "0-5460" or "42"; entries in brackets are slots being migrated, not served.
      for (const range of ranges) {
        if (range.startsWith("[")) continue;
        const [from, to = from] = range.trim().split("-").map(Number);
        if (from !== undefined && to !== undefined) slots.push([from, to]);
      }
      found.push({ port: Number(address?.split(":")[1]?.split("@")[0]), slots });
    }
    return found;
  }

  /** Kills one node with SIGKILL. */
  async kill(port: number): Promise<void> {
    const child = this.#children.get(port);
    this.#children.delete(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((port) => this.kill(port)));
    await rm(this.#dir, { recursive: true, force: true });
  }

  async start(port: number): Promise<void> {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(this.#dir, `nodes-${port}.conf`),
      "--cluster-node-timeout",
      "2000",
      // A replica takes over whatever the age of its data: a test's replica has had seconds to sync, not minutes.
      "--cluster-replica-validity-factor",
      "0",
      // A master sends its first full sync to a new replica at once, not after the default 5 s wait for
      // more replicas to share it: launch() waits for every replica's first sync.
      "--repl-diskless-sync-delay",
      "0",
      "--dir",
      this.#dir,
    ];
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#children.set(port, child);
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
      const onExit = (code: number | null) => reject(new Error(`redis-server (cluster node ${port}) exited with ${code}:\n${output}`));
      child.stdout?.on("data", onData);
      child.once("exit", onExit);
      child.once("error", reject);
    });
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Waits until every node reports the cluster ok with every slot assigned. */
  async #untilSettled(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(this.ports.map((port) => this.cli(port, "cluster", "info")));
      const settled = infos.every((info) => info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384"));
      // A replica that has not finished its first sync cannot take over: wait for every link to be up.
      const replication = settled ? await Promise.all(this.ports.map((port) => this.cli(port, "info", "replication"))) : [];
      if (settled && replication.every((info) => info.includes("role:master") || info.includes("master_link_status:up"))) return;
      if (Date.now() > deadline) throw new Error(`the Redis cluster did not settle:\n${infos.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
