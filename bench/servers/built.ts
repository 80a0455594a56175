/**
 * The library as an application runs it: the built package (dist/, from `npm run build`), for the
 * benchmark's servers. Not src/ through tsx: tsx transforms with esbuild's `keepNames`, which
 * adds a `__name()` call each time a named function, class or closure bound to a name is made (a
 * defineProperty each), so src/ pays per connection for what no application pays, while `ws` and
 * Socket.IO run as published. Measured with bench/resume.ts' server part (pinned, warmed, rotating
 * rounds): the resumable chat's handshake 253 µs from src/, 226 µs built; in run.ts' handshakes
 * scenario the two were not told apart (docs/resume-measured.md, twelfth look).
 * Types are src's: dist/ exists only after a build, so its paths live in variables (tsc does not
 * follow them).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

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
 * Readies another checkout's servers (a `--before` comparison): builds its package when its
 * servers load the built package (it has this file), and says which form it will run, so a
 * runner can warn that a checkout older than this file runs src/ through tsx (not like for like).
 * @throws Error when its build fails
 */
export function prepareCheckout(dir: string): "built" | "src" {
  if (!existsSync(`${dir}/bench/servers/built.ts`)) return "src";
  buildPackage(dir);
  return "built";
}

/**
 * Imports the built package's "." and "./contract" entry points.
 * @throws Error naming the fix when dist/ is missing
 */
export async function loadBuilt(): Promise<Built> {
  // TSWS_BENCH_FROM=src: src/ through tsx instead (tswebsockets-resume-src.ts, an A/B of the two).
  if (process.env.TSWS_BENCH_FROM === "src") {
    const [lib, contract] = await Promise.all([import("../../src/index.js"), import("../../src/contract/index.js")]);
    return { lib, contract };
  }
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
  return import(pathToFileURL(path).href);
}
