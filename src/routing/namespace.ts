import type { HandlerClass } from "../hooks/handler.js";

const NAMESPACE = Symbol("tswebsockets.namespace");

/**
 * Every class decorated so far, in order. It exists for one documented behaviour: `createServer()`
 * called without `handlers` serves every decorated class (handy in scripts, and what DESIGN
 * promises). Routing state lives on each server, so two servers never see each other's routes;
 * pass `handlers` to serve only some classes.
 */
const decorated: HandlerClass[] = [];

/**
 * Marks a handler class as serving the namespace `path` (a TC39 class decorator).
 * `:name` segments match one path segment and are captured into `socket.params.name`.
 * @example
 * \@Namespace("/chat/:room")
 * class Chat extends BaseHandler { static onMessage(socket: Socket, m: Message) { socket.send(m) } }
 */
export function Namespace(path: string) {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(`@Namespace(path): path must be a string starting with "/", got ${JSON.stringify(path)}`);
  }
  return <C extends HandlerClass>(cls: C, _context: ClassDecoratorContext<C>): void => {
    Object.defineProperty(cls, NAMESPACE, { value: path, enumerable: false });
    decorated.push(cls);
  };
}

/** The path a class was decorated with, or undefined (a subclass does not inherit it). */
export function namespaceOf(cls: HandlerClass): string | undefined {
  return Object.hasOwn(cls, NAMESPACE) ? (cls as unknown as Record<symbol, string>)[NAMESPACE] : undefined;
}

/** The classes decorated so far (see {@link decorated}). */
export function decoratedHandlers(): readonly HandlerClass[] {
  return decorated;
}
