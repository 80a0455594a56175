/**
 * `event()` and `request()`: the two kinds of message a contract declares. Both return frozen
 * definitions carrying a `kind` so the receiver can tell them apart at run time.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { isBuiltInErrorCode } from "../protocol/error-codes.js";
import { checkName } from "./names.js";

/**
 * Any Standard Schema v1 object (zod, valibot, arktype...).
 * @example
 * const schema: Schema = z.object({ text: z.string() });
 */
export type Schema = StandardSchemaV1;

/**
 * A fire-and-forget message. `schema` is undefined when the event takes any JSON value.
 * @example
 * const typing: EventDefinition<z.ZodObject<{ on: z.ZodBoolean }>> = event(z.object({ on: z.boolean() }));
 */
export interface EventDefinition<S extends Schema | undefined = Schema | undefined> {
  readonly kind: "event";
  readonly schema: S;
}

/**
 * Declared application error codes of a request: each code maps to the schema of its `data`, or
 * `null` when the error carries no data. Codes follow the name rule and may not be built-in codes.
 * @example
 * const errors = { RATE_LIMITED: z.object({ retryAfterMs: z.number() }), CLOSED: null } satisfies ErrorSchemas;
 */
export type ErrorSchemas = { readonly [code: string]: Schema | null };

/**
 * A message that expects exactly one answer: a reply matching `reply`, or an error.
 * `errors` is a null-prototype table of the declared application codes.
 * @example
 * const send = request(z.object({ text: z.string() }), z.object({ id: z.string() }));
 * send.kind; // "request"
 */
export interface RequestDefinition<S extends Schema = Schema, R extends Schema = Schema, E extends ErrorSchemas = ErrorSchemas> {
  readonly kind: "request";
  readonly schema: S;
  readonly reply: R;
  readonly errors: E;
}

/**
 * Either kind of message definition.
 * @example
 * function describe(d: Definition) { return d.kind === "request" ? "needs a reply" : "fire and forget"; }
 */
export type Definition = EventDefinition | RequestDefinition<Schema, Schema, ErrorSchemas>;

/**
 * Declares an event. Without a schema it accepts any JSON value.
 * @example
 * event(z.object({ on: z.boolean() }));
 * event(); // any JSON value
 * @throws TypeError when `schema` is given but is not a Standard Schema v1 object.
 */
export function event<S extends Schema | undefined = undefined>(schema?: S): EventDefinition<S> {
  if (schema !== undefined) checkSchema(schema, "event(schema)");
  return Object.freeze({ kind: "event", schema: schema as S });
}

/**
 * Declares a request: its payload schema, its reply schema and, optionally, the application error
 * codes its handler may answer with (anything else becomes `INTERNAL`).
 * @example
 * request(z.object({ text: z.string() }), z.object({ id: z.string() }), {
 *   errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }) },
 * });
 * @throws TypeError when a schema is not a Standard Schema v1 object, or an error code breaks the
 * name rule or reuses a built-in code.
 */
export function request<S extends Schema, R extends Schema, const E extends ErrorSchemas = {}>(
  schema: S,
  reply: R,
  options?: { readonly errors?: E },
): RequestDefinition<S, R, NoInfer<E>> {
  checkSchema(schema, "request(schema)");
  checkSchema(reply, "request(schema, reply)");
  const errors = Object.create(null) as Record<string, Schema | null>;
  for (const [code, data] of Object.entries(options?.errors ?? {})) {
    checkName(code, `error code "${code}"`);
    if (isBuiltInErrorCode(code)) throw new TypeError(`error code "${code}" is built in; declare a code of your own`);
    if (data !== null) checkSchema(data, `errors.${code}`);
    errors[code] = data;
  }
  return Object.freeze({ kind: "request", schema, reply, errors: Object.freeze(errors) as E });
}

/**
 * True for a Standard Schema v1 object (version 1 with a `validate` function).
 * @example
 * isSchema(z.string()); // true
 * isSchema({}); // false
 */
export function isSchema(value: unknown): value is Schema {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const props = (value as Partial<Schema>)["~standard"];
  return typeof props === "object" && props !== null && props.version === 1 && typeof props.validate === "function";
}

function checkSchema(value: unknown, where: string): void {
  if (!isSchema(value)) throw new TypeError(`${where} must be a Standard Schema v1 object (with "~standard".version 1 and validate)`);
}
