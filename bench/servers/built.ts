/**
 * The library as an application runs it: the built package (dist/, from `npm run build`), for the
 * benchmark's servers. Not src/ through tsx: tsx transforms with esbuild's `keepNames`, which
 * gives every function made at run time, closures included, a `__name()` call (a
 * defineProperty each), so src/ pays per connection for what no application pays, while `ws` and
 * Socket.IO run as published. Measured with bench/resume.ts' server part (pinned, warmed, rotating
 * rounds): the resumable chat's handshake 253 µs from src/, 226 µs built.
 * Types are src's: dist/ exists only after a build, so its paths live in variables (tsc does not
 * follow them).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package's "." and "./contract" entry points. */
export interface Built {
  readonly lib: typeof import("../../src/index.js");
  readonly contract: typeof import("../../src/contract/index.js");
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Builds the package from this checkout's src/ (`npm run build`, a few seconds). The runner calls
 * it before starting servers, so they never run a stale dist/.
 * @throws Error when the build fails
 */
export function buildPackage(root = ROOT): void {
  const built = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (built.status !== 0) throw new Error(`bench: \`npm run build\` failed in ${root}; the servers run the built package`);
}

/**
 * Imports the built package's "." and "./contract" entry points.
 * @throws Error naming the fix when dist/ is missing
 */
export async function loadBuilt(): Promise<Built> {
  const [lib, contract] = await Promise.all([importBuilt("index.js"), importBuilt("contract/index.js")]);
  return { lib, contract } as Built;
}

/** Imports the built package's "./redis" entry point (the Redis adapter; loads ioredis). */
export async function loadBuiltRedis(): Promise<typeof import("../../src/adapters/redis/index.js")> {
  return (await importBuilt("adapters/redis/index.js")) as typeof import("../../src/adapters/redis/index.js");
}

async function importBuilt(file: string): Promise<unknown> {
  const path = `${ROOT}dist/${file}`;
  if (!existsSync(path)) throw new Error(`bench: ${path} is missing; run \`npm run build\` first`);
  return import(path);
}
