/**
 * The client's decoder: JSON.parse plus the checks the server gets from secure-json-parse, in a few
 * lines so the browser bundle stays small. A `"__proto__"` key is kept by JSON.parse as an own
 * property, and pollutes the first time the object is merged with Object.assign or a spread; a
 * `constructor` object holding `prototype` does the same through code that walks
 * `obj.constructor.prototype`. Both reject the whole frame, as on the server.
 */
import { type ParseOptions, type ParseResult, parseFrame } from "./parse-frame.js";

class PrototypeKey extends Error {}

function reviver(key: string, value: unknown): unknown {
  if (key === "__proto__") throw new PrototypeKey('the key "__proto__" is not allowed');
  if (key === "constructor" && typeof value === "object" && value !== null && Object.hasOwn(value, "prototype")) {
    throw new PrototypeKey('a "constructor" object with a "prototype" key is not allowed');
  }
  return value;
}

/**
 * Parses a text frame and types it: invalid JSON, prototype keys, too deep or a wrong shape all
 * come back as `{ ok: false, id: null | id, message }`. Never throws.
 * @example
 * const r = decodeFrame('[2,7,{"id":"m1"}]'); // { ok: true, frame: [2, 7, { id: "m1" }] }
 * decodeFrame('[0,"e",{"__proto__":{}}]').ok; // false
 */
export function decodeFrame(text: string, options?: ParseOptions): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text, reviver);
  } catch (error) {
    return { ok: false, id: null, message: error instanceof PrototypeKey ? error.message : "the frame is not valid JSON" };
  }
  return parseFrame(value, options);
}
