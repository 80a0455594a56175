/**
 * The logging interface: the subset of pino's API the library calls, so a pino logger (or a
 * child of one) can be passed as is. Each method takes an optional context object first.
 * @example
 * const logger: Logger = pino({ level: "info" }); createServer({ handlers: [Chat], logger });
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/**
 * The default logger: quiet, as a library should be. Errors and warnings go to stderr because
 * they mean something needs fixing; info and debug are dropped.
 * @example
 * createServer({ logger: consoleLogger }) // the default; pass a pino logger to see more
 */
export const consoleLogger: Logger = {
  error: (obj, msg) => console.error(`[tswebsockets] ${msg ?? ""}`, obj),
  warn: (obj, msg) => console.warn(`[tswebsockets] ${msg ?? ""}`, obj),
  info: () => {},
  debug: () => {},
};
