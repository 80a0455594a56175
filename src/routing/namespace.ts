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
 * Marks a handler class as serving the namespace `path`, as a class decorator. It works as a
 * standard (TC39) decorator and, in projects with `experimentalDecorators` (NestJS, TypeORM,
 * Angular), as a legacy one. `:name` segments match one path segment and are captured into
 * `socket.params.name`. Without decorators, {@link namespace} does the same.
 * @throws TypeError when `path` does not start with "/"
 * @example
 * \@Namespace("/chat/:room")
 * class Chat extends BaseHandler { static onMessage(socket: Socket<"/chat/:room">, m: Message) { socket.server.to(socket.params.room).send(m) } }
 */
export function Namespace(path: string) {
  checkPath(path, "@Namespace(path)");
  // The context is optional: a legacy (experimentalDecorators) class decorator gets the class alone.
  return <C extends HandlerClass>(cls: C, _context?: ClassDecoratorContext<C>): void => {
    register(path, cls);
  };
}

/**
 * Registers a handler class on the namespace `path` without a decorator: the same as
 * `@Namespace(path)` on the class, for plain JavaScript, `experimentalDecorators` projects and
 * `tsc` targets that keep decorators in their output. Returns the class.
 * @throws TypeError when `path` does not start with "/" or `cls` is not a class
 * @example
 * class Echo extends BaseHandler { static onMessage(socket: Socket, m: Message) { socket.send(m) } }
 * namespace("/echo/", Echo);
 * createServer({ handlers: [Echo] });
 */
export function namespace<C extends HandlerClass>(path: string, cls: C): C {
  checkPath(path, "namespace(path, cls)");
  if (typeof cls !== "function") throw new TypeError(`namespace(path, cls): cls must be a handler class, got ${typeof cls}`);
  register(path, cls);
  return cls;
}

function checkPath(path: string, call: string): void {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(`${call}: path must be a string starting with "/", got ${JSON.stringify(path)}`);
  }
}

function register(path: string, cls: HandlerClass): void {
  if (Object.hasOwn(cls, NAMESPACE)) {
    throw new TypeError(`${cls.name || "(anonymous class)"} is already registered on ${namespaceOf(cls)}; a class serves one namespace`);
  }
  Object.defineProperty(cls, NAMESPACE, { value: path, enumerable: false });
  decorated.push(cls);
}

/** The path a class was decorated with, or undefined (a subclass does not inherit it). */
export function namespaceOf(cls: HandlerClass): string | undefined {
  return Object.hasOwn(cls, NAMESPACE) ? (cls as unknown as Record<symbol, string>)[NAMESPACE] : undefined;
}

/** The classes decorated so far (see {@link decorated}). */
export function decoratedHandlers(): readonly HandlerClass[] {
  return decorated;
}
