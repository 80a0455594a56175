/**
 * `handle(contract, handlers)`: the handler table of an events namespace. Written as an object
 * literal passed to a function, so TypeScript types every handler's parameters and return value
 * from the contract (class methods could not be: microsoft/TypeScript#1373).
 */
import { type AnyContract, lookup } from "../contract/define-contract.js";
import type { AnyHandler, Handlers, HandlerTable } from "./types.js";

/**
 * Builds the handler table of a class made by `events(contract, ...)`; assign it to
 * `static events`. A request handler returns the reply (checked against the reply schema) or
 * throws an `EventError`; an event handler's return value is ignored.
 * @example
 * class Chat extends events(chat) {
 *   static events = handle(chat, {
 *     typing(socket, { on }) { socket.server.to("lobby").except(socket).emit("typing", { on }); },
 *     async send(socket, { text }) { return { id: await save(text) }; },
 *   });
 * }
 * @throws TypeError when a key is not a client message of the contract or a value is not a function.
 */
export function handle<C extends AnyContract>(contract: C, handlers: NoInfer<Handlers<C>>): HandlerTable<C> {
  if (typeof handlers !== "object" || handlers === null) throw new TypeError("handle(contract, handlers): handlers must be an object");
  const table = Object.create(null) as Record<string, AnyHandler>;
  for (const name of Object.keys(handlers)) {
    if (lookup(contract, "client", name) === undefined) {
      throw new TypeError(`handle(): "${name}" is not a client message of the contract (declare it in contract.client)`);
    }
    const fn: unknown = (handlers as Record<string, unknown>)[name];
    if (fn === undefined) continue;
    if (typeof fn !== "function") throw new TypeError(`handle(): the handler of "${name}" must be a function, got ${typeof fn}`);
    table[name] = fn as AnyHandler;
  }
  return Object.freeze({ contract, handlers: Object.freeze(table) });
}
