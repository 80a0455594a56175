import { z } from "zod";
import type { BaseHandler } from "../../src/index.js";
import type { Built } from "./built.js";

/**
 * The request/reply namespace of the benchmark (run.ts' rpc and handshakes scenarios): one request,
 * `echo`, a 64-byte payload validated with zod on the way in and its reply on the way out; nothing
 * done on connect. Made from the package `built` gives (the built one, or src/ for an A/B).
 * @example
 * const Rpc = rpcNamespace(await loadBuilt(), "/rpc");
 */
export function rpcNamespace({ lib, contract }: Built, path: string): typeof BaseHandler {
  const Text = z.object({ text: z.string().max(1000) });
  const rpc = contract.defineContract({ client: { echo: contract.request(Text, Text) } });
  class Rpc extends lib.events(rpc) {
    static events = lib.handle(rpc, { echo: (_socket, data) => data });
  }
  lib.namespace(path, Rpc);
  return Rpc;
}
