// Starts test/fixtures/tsws-peer-process.ts as a child process and waits for its port. The fixture
// is bundled once with esbuild, so a (re)start costs plain `node` (about 0.1 s), not a TypeScript
// compile that would eat the CPU the clients under test need.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundle = `${root}test-output/tsws-peer.mjs`;
let bundled: Promise<unknown> | undefined;

/** A running peer process: its port, the child, and a graceful stop. */
export interface PeerProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Closes the server (1001 to every client), waits `downMs`, listens again on the same port. */
  restart(downMs: number): Promise<void>;
  /** SIGTERM (the server closes every socket with 1001), then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Spawns the peer with `env` (PORT, PING_IDLE_MS, STATIC) and resolves once it listens.
 * @example
 * const peer = await spawnPeer({ PING_IDLE_MS: "200" });
 */
export async function spawnPeer(env: Record<string, string> = {}): Promise<PeerProcess> {
  bundled ??= build({
    entryPoints: [`${root}test/fixtures/tsws-peer-process.ts`],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: bundle,
    logLevel: "warning",
  });
  await bundled;
  const child = spawn(process.execPath, [bundle], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  let listening = 0;
  let waiters: (() => void)[] = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    const count = output.match(/listening \d+/g)?.length ?? 0;
    if (count > listening) {
      listening = count;
      for (const w of waiters) w();
      waiters = [];
    }
  });
  const nextListening = () =>
    new Promise<void>((resolve, reject) => {
      waiters.push(resolve);
      child.once("exit", (code) => reject(new Error(`the peer exited with ${code}: ${output}`)));
    });
  await nextListening();
  const port = Number(/listening (\d+)/.exec(output)![1]);
  return {
    port,
    child,
    async restart(downMs) {
      const back = nextListening();
      child.stdin?.write(`restart ${downMs}\n`);
      await back;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(child.signalCode === "SIGSTOP" ? "SIGKILL" : "SIGTERM");
      await exited;
    },
  };
}
