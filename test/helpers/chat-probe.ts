// A Node-side chat page for the demo's tests: tswebsockets/client on ws' WebSocket, carrying the
// session cookie of a real login, recording every event the server sends from the first frame on.
import { WebSocket } from "ws";
import type { chat } from "../../examples/chatroom/contract.js";
import { type Client, type ClientState, type CloseInfo, connect } from "../../src/client/index.js";
import type { PayloadOf, ServerEvents } from "../../src/contract/index.js";

type Chat = typeof chat;
type Name = ServerEvents<Chat>;
type Data<N extends Name> = PayloadOf<Chat["server"][N]>;

const NAMES: Name[] = ["welcome", "joined", "left", "members", "message"];

/**
 * One client of `/chatroom/<room>`; `waitFor` finds events that came before it was called too.
 * @example
 * const alice = new ChatProbe(`${ws}/chatroom/lobby`, cookie);
 * const { you } = await alice.waitFor("welcome");
 */
export class ChatProbe {
  readonly client: Client<Chat>;
  readonly #seen: { name: Name; data: unknown; taken: boolean }[] = [];
  readonly #waiters = new Set<() => void>();
  #closed: CloseInfo | undefined;

  constructor(url: string, cookie?: string, options: { reconnect?: boolean } = {}) {
    const headers = cookie === undefined ? {} : { cookie };
    class WithCookie extends WebSocket {
      constructor(address: string, protocols: string[]) {
        super(address, protocols, { headers });
      }
    }
    this.client = connect<Chat>(url, { WebSocket: WithCookie, reconnect: options.reconnect === true ? {} : false });
    for (const name of NAMES) {
      (this.client.on as (n: string, l: (d: unknown) => void) => void)(name, (data) => {
        this.#seen.push({ name, data, taken: false });
        this.#wake();
      });
    }
    this.client.on("state", (state: ClientState, close) => {
      if (state === "closed") this.#closed = close ?? { code: 1000, reason: "" };
      this.#wake();
    });
  }

  /** The first event `name` not yet taken that matches; waits for it (at most `timeoutMs`). */
  waitFor<N extends Name>(name: N, match: (data: Data<N>) => boolean = () => true, timeoutMs = 15_000): Promise<Data<N>> {
    return this.#until(`event "${name}"`, timeoutMs, () => {
      const found = this.#seen.find((e) => !e.taken && e.name === name && match(e.data as Data<N>));
      if (found === undefined) return undefined;
      found.taken = true;
      return found.data as Data<N>;
    });
  }

  /** Resolves with the close once the client is closed for good. */
  closed(timeoutMs = 15_000): Promise<CloseInfo> {
    return this.#until("the close", timeoutMs, () => this.#closed);
  }

  #until<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(poll);
        reject(new Error(`no ${what} within ${timeoutMs} ms (seen: ${this.#seen.map((e) => e.name).join(", ")})`));
      }, timeoutMs);
      const poll = () => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(poll);
        resolve(value);
      };
      this.#waiters.add(poll);
      poll();
    });
  }

  #wake(): void {
    for (const poll of [...this.#waiters]) poll();
  }
}
