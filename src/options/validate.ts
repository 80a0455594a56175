/**
 * The option checks every capability uses for its own options: a table of `[test, what it accepts]`
 * per option, and one `validate()` that throws a TypeError naming the option, what it accepts and
 * what it got (STYLE: misuse throws a TypeError with an exact message).
 */

/** One option's test and how the TypeError describes what it accepts. */
export type Check = readonly [test: (value: unknown) => boolean, accepts: string];

/**
 * The checks of an options type: one per key.
 * @example
 * const checks: Checks<{ ttl?: number }> = { ttl: [isInt(1), "a number of milliseconds, 1 or more"] };
 */
export type Checks<O> = { readonly [K in keyof Required<O>]: Check };

/**
 * Throws a TypeError naming the first unknown or faulty option. `undefined` counts as "not given".
 * @param call how the caller writes the call, e.g. "createServer(options)"
 * @example
 * validate(checks, options, "createRedisAdapter(client, options)");
 */
export function validate<O extends object>(table: Checks<O>, options: O, call: string): void {
  const fn = call.slice(0, call.indexOf("("));
  if (typeof options !== "object" || options === null) throw new TypeError(`${call}: options must be an object`);
  for (const [key, value] of Object.entries(options)) {
    const check = (table as Record<string, Check | undefined>)[key];
    if (check === undefined) throw new TypeError(`${fn}: unknown option "${key}"`);
    if (value !== undefined && !check[0](value)) {
      throw new TypeError(`${fn}: option "${key}" must be ${check[1]}, got ${describe(value)}`);
    }
  }
}

/** @example isInt(0, 65535)(8080) // true */
export const isInt =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: unknown): boolean =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** @example isStr("x") // true */
export const isStr = (v: unknown): v is string => typeof v === "string";

/** @example isFn(() => {}) // true */
export const isFn = (v: unknown): boolean => typeof v === "function";

/** @example isArrayOf(isStr)(["a"]) // true */
export const isArrayOf =
  (test: (v: unknown) => boolean) =>
  (v: unknown): boolean =>
    Array.isArray(v) && v.every(test);

/** An object with every named method. @example hasMethods("on")(server) */
export const hasMethods =
  (...names: string[]) =>
  (v: unknown): boolean =>
    typeof v === "object" && v !== null && names.every((n) => isFn((v as Record<string, unknown>)[n]));

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array with a wrong element";
  return value === null ? "null" : typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}
