/**
 * `defineContract({ client, server })`: checks every name once, then keeps each direction in a
 * frozen null-prototype table, so looking up a name that came off the wire can only find what the
 * contract declared (never `__proto__`, `constructor` or any other inherited member).
 */
import type { Definition } from "./definitions.js";
import { checkName } from "./names.js";

/**
 * The definitions of one direction: message name → `event()` or `request()`.
 * @example
 * const client = { typing: event(), send: request(Text, Id) } satisfies Definitions;
 */
export type Definitions = { readonly [name: string]: Definition };

/**
 * A contract: what clients send (`client`) and what the server sends (`server`). Both tables
 * have a null prototype and are frozen.
 * @example
 * const chat: Contract<{ typing: EventDefinition<undefined> }, {}> = defineContract({ client: { typing: event() } });
 */
export interface Contract<Client extends Definitions = Definitions, Server extends Definitions = Definitions> {
  readonly client: Client;
  readonly server: Server;
}

/**
 * Any contract, for signatures generic over one.
 * @example
 * function names<C extends AnyContract>(c: C) { return Object.keys(c.client); }
 */
export type AnyContract = Contract<Definitions, Definitions>;

/**
 * The two directions: `client` (client → server) and `server` (server → client).
 * @example
 * const dir: Direction = "client";
 */
export type Direction = "client" | "server";

/**
 * Declares the messages each side may send. Either direction may be left out (no messages).
 * @example
 * const chat = defineContract({
 *   client: { typing: event(z.object({ on: z.boolean() })), send: request(z.object({ text: z.string() }), z.object({ id: z.string() })) },
 *   server: { message: event(z.object({ id: z.string(), text: z.string() })) },
 * });
 * @throws TypeError naming the key when a name breaks the rule (`^[A-Za-z][\w.:/-]{0,63}$`, never
 * `__proto__`, `constructor`, `prototype`) or a value is not made by `event()` or `request()`.
 */
export function defineContract<const Client extends Definitions = {}, const Server extends Definitions = {}>(contract: {
  readonly client?: Client;
  readonly server?: Server;
}): Contract<Client, Server> {
  if (typeof contract !== "object" || contract === null) throw new TypeError("defineContract expects { client, server }");
  for (const key of Object.keys(contract)) {
    if (key !== "client" && key !== "server") throw new TypeError(`defineContract: unknown key "${key}" (expected "client" and "server")`);
  }
  return Object.freeze({
    client: table(contract.client, "client") as Client,
    server: table(contract.server, "server") as Server,
  });
}

/**
 * The definition of `name` in one direction, or undefined. Safe for untrusted names: only the
 * table's own entries are found.
 * @example
 * const def = lookup(chat, "client", frame[2]);
 * if (def === undefined) reply(encodeError(id, "UNKNOWN_EVENT"));
 */
export function lookup(contract: AnyContract, direction: Direction, name: string): Definition | undefined {
  const defs = contract[direction];
  return Object.hasOwn(defs, name) ? defs[name] : undefined;
}

function table(defs: Definitions | undefined, direction: Direction): Definitions {
  const out = Object.create(null) as Record<string, Definition>;
  if (defs === undefined) return Object.freeze(out);
  if (typeof defs !== "object" || defs === null)
    throw new TypeError(`defineContract: "${direction}" must be an object of event()/request() definitions`);
  // Object.keys skips inherited and symbol keys; a "__proto__" written as an own key in an object
  // literal with a computed name still shows up here and is refused by checkName.
  for (const name of Object.keys(defs)) {
    const what = `${direction} message "${name}"`;
    checkName(name, what);
    const def: unknown = defs[name];
    if (typeof def !== "object" || def === null || ((def as Definition).kind !== "event" && (def as Definition).kind !== "request")) {
      throw new TypeError(`${what}: expected the result of event() or request()`);
    }
    out[name] = def as Definition;
  }
  return Object.freeze(out);
}
