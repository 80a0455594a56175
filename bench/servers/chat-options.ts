import type { Logger, ServerOptions } from "../../src/index.js";

/** Errors only: the benchmarks time the server, not its debug lines. */
export const quiet: Logger = { error: (o, m) => console.error(m, o), warn: () => {}, info: () => {}, debug: () => {} };

/**
 * The options of the resume benchmarks' chat server (bench/resume.ts and its handshake servers),
 * `handlers` aside: loopback, a port of its own, no heartbeat, room for 100,000 connections, and
 * with `resume` sessions kept 60 s and 1,000 messages of history per stream.
 * @example
 * createServer({ handlers: [ResumeChat], ...chatOptions(true) });
 */
export function chatOptions(resume: boolean): Omit<ServerOptions, "handlers"> {
  return {
    host: "127.0.0.1",
    port: 0,
    logger: quiet,
    heartbeatInterval: 0,
    maxConnections: 100_000,
    ...(resume ? { resume: { ttl: 60_000, history: { size: 1000 } } } : {}),
  };
}
