/**
 * The client's decoder: JSON.parse plus the checks the server gets from secure-json-parse, in a few
 * lines so the browser bundle stays small. JSON.parse keeps a `"__proto__"` key as an own property,
 * which pollutes the first time the object is merged with Object.assign or a spread; a
 * `constructor` object holding `prototype` does the same through code that walks
 * `obj.constructor.prototype`. Both reject the whole frame, as on the server.
 */
import { type ParseOptions, type ParseResult, parseFrame } from "./parse-frame.js";

/**
 * Parses a text frame and types it: invalid JSON, a wrong shape, too deep or a prototype key all
 * come back as `{ ok: false, id, message }` (`id` set when the frame was a request with a usable
 * id). Never throws.
 * @example
 * const r = decodeFrame('[2,7,{"id":"m1"}]'); // { ok: true, frame: [2, 7, { id: "m1" }] }
 * decodeFrame('[0,"e",{"__proto__":{}}]').ok; // false
 */
export function decodeFrame(text: string, options?: ParseOptions): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // A SyntaxError, or a RangeError for nesting deep enough to exhaust the parser's stack.
    return { ok: false, id: null, message: "the frame is not valid JSON" };
  }
  const result = parseFrame(value, options);
  // parseFrame has bounded the depth, so this walk's recursion is bounded too.
  if (result.ok && hasPrototypeKey(value)) {
    const id = result.frame[0] === 1 ? result.frame[1] : null;
    return { ok: false, id, message: 'the keys "__proto__" and "constructor.prototype" are not allowed' };
  }
  return result;
}

function hasPrototypeKey(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some(hasPrototypeKey);
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (key === "__proto__") return true;
    if (key === "constructor" && typeof child === "object" && child !== null && Object.hasOwn(child, "prototype")) return true;
    if (hasPrototypeKey(child)) return true;
  }
  return false;
}
