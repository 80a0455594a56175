// Temporary consumer projects for test/consumer.test.ts: the packed tarball installed as a user
// installs it, compiled with this repository's TypeScript, run with this Node, and reached by a
// real ws client.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { WebSocket } from "ws";

export const root = join(import.meta.dirname, "..", "..");
export const tscBin = join(root, "node_modules", ".bin", "tsc");
export const tsxBin = join(root, "node_modules", ".bin", "tsx");

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (callers assert on `code`). */
export function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and throws its whole output when it fails, so a failing test shows why. */
export async function mustRun(command: string, args: readonly string[], cwd: string, timeoutMs?: number): Promise<string> {
  const result = await run(command, args, cwd, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`${[command, ...args].join(" ")} (in ${cwd}) exited with ${result.code}:\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/** The version of a package installed in this repository, so consumers install what npm has cached. */
export async function installedVersion(name: string): Promise<string> {
  const json = JSON.parse(await readFile(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string };
  return json.version;
}

/**
 * Parses the JSON-with-comments `tsc --init` writes (line comments, trailing commas). Enough for
 * that file, not a general JSONC parser: no string in it contains "//".
 */
export function parseTsconfig(text: string): { compilerOptions: Record<string, unknown> } {
  const withoutComments = text.replace(/^\s*\/\/.*$/gm, "").replace(/\/\/ .*$/gm, "");
  return JSON.parse(withoutComments.replace(/,(\s*[}\]])/g, "$1"));
}

export interface ProjectSpec {
  /** A folder of test/fixtures/consumer/ copied into the project. */
  readonly fixture: string;
  readonly type: "module" | "commonjs";
  /** Packages besides the tarball, as `name@version`. */
  readonly deps: readonly string[];
  /** Whether to run `tsc --init` in the project (a TypeScript project). */
  readonly typescript: boolean;
}

/** Copies the fixture, writes package.json, runs `tsc --init`, installs the tarball and deps. */
export async function createProject(dir: string, spec: ProjectSpec, tarball: string): Promise<void> {
  await cp(join(root, "test", "fixtures", "consumer", spec.fixture), dir, { recursive: true });
  const pkg = { name: `consumer-${spec.fixture}`, version: "1.0.0", private: true, type: spec.type };
  await writeFile(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  if (spec.typescript) await mustRun(tscBin, ["--init"], dir);
  // --prefer-offline: the versions asked for are the ones this repository installed, so npm's
  // cache has them; --ignore-scripts: nothing here needs an install script (bufferutil is optional).
  await mustRun("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball, ...spec.deps], dir);
}

/** Writes `tsconfig.<name>.json` extending the generated one, for the given files and options. */
export async function writeVariant(
  dir: string,
  name: string,
  files: readonly string[],
  options: Record<string, unknown> = {},
): Promise<string> {
  const file = `tsconfig.${name}.json`;
  await writeFile(join(dir, file), `${JSON.stringify({ extends: "./tsconfig.json", compilerOptions: options, files }, null, 2)}\n`);
  return file;
}

/** Compiles with one tsconfig of the project; throws tsc's diagnostics when it fails. */
export function tsc(dir: string, tsconfig: string): Promise<string> {
  return mustRun(tscBin, ["-p", tsconfig, "--pretty", "false"], dir);
}

/**
 * Starts a consumer's server (`command args` in `dir`), reads the port it prints, connects a real
 * ws client to `path`, sends `text` and resolves with the first reply. The server closes itself
 * when the client leaves; the process is killed only if it is still running after 10 s.
 */
export async function replyFrom(dir: string, command: string, args: readonly string[], path: string, text: string): Promise<string> {
  const child = spawn(command, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    const port = await portOf(child, () => output);
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.on("error", () => {}); // an unexpected close shows as the missing reply below
    await once(ws, "open");
    ws.send(text);
    const [reply] = (await once(ws, "message")) as [Buffer];
    ws.close();
    const [code] = await exited;
    if (code !== 0) throw new Error(`the server exited with ${code} after the client left:\n${output}`);
    return reply.toString();
  } finally {
    clearTimeout(guard);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

function portOf(child: ChildProcess, output: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = /\{"port":(\d+)\}/.exec(output());
      if (match) {
        child.stdout?.off("data", check);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`the server exited with ${code} before listening:\n${output()}`)));
  });
}
