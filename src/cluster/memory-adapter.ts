import type { Room, SocketId } from "../types.js";
import type { Adapter, ClusterNode } from "./adapter.js";

/**
 * The default adapter: one node, nothing to carry. Room membership is the server's own index.
 * @example
 * createServer({ adapter: createMemoryAdapter() }) // the same as passing no adapter
 */
export function createMemoryAdapter(): Adapter {
  let node: ClusterNode | undefined;
  return {
    async start(n) {
      node = n;
    },
    publish() {},
    join() {},
    leave() {},
    async members(room: Room): Promise<SocketId[]> {
      return node?.localMembers(room) ?? [];
    },
    async stop() {
      node = undefined;
    },
  };
}
