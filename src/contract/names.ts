/**
 * The rule for event, request and error-code names. Names come back from the wire as untrusted
 * strings, so they are kept to a plain alphabet, a bounded length, and away from the names that
 * reach Object.prototype.
 */

/**
 * Allowed names: a letter, then up to 63 letters, digits or `_ . : / -`.
 * @example
 * NAME_PATTERN.test("message:send"); // true
 * NAME_PATTERN.test("$internal"); // false
 */
export const NAME_PATTERN = /^[A-Za-z][\w.:/-]{0,63}$/;

const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Throws a TypeError naming `what` and the rule unless `name` is allowed.
 * @example
 * checkName("typing", 'client event "typing"'); // ok
 * checkName("constructor", 'client event "constructor"'); // throws TypeError
 */
export function checkName(name: string, what: string): void {
  if (FORBIDDEN.has(name)) throw new TypeError(`${what}: "${name}" is reserved (__proto__, constructor and prototype are never allowed)`);
  if (!NAME_PATTERN.test(name)) {
    throw new TypeError(`${what}: names must match ${NAME_PATTERN} (a letter, then at most 63 letters, digits or _ . : / -)`);
  }
}
