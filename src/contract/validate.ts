/**
 * `validate(schema, value)`: runs a Standard Schema and maps its issues to the wire shape
 * (`{ message, path }`, path as keys and indexes). It stays synchronous when the schema is, so the
 * receive path awaits only for async schemas.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Issue } from "../protocol/error-codes.js";
import type { Schema } from "./definitions.js";

/**
 * The outcome of {@link validate}: the schema's output value, or its issues.
 * @example
 * const r: Validation<{ text: string }> = { issues: [{ message: "Required", path: ["text"] }] };
 */
export type Validation<T> = { readonly value: T; readonly issues?: undefined } | { readonly issues: readonly Issue[] };

/**
 * Validates `value` against `schema` (no schema: any value passes unchanged). Returns a Promise
 * only when the schema's validate does. A schema that throws makes this throw (or reject): that is
 * a bug in the schema, not bad input.
 * @example
 * let r = validate(z.object({ text: z.string() }), { text: 1 });
 * if (r instanceof Promise) r = await r;
 * if (r.issues) reply(encodeError(id, "INVALID_PAYLOAD", { issues: r.issues }));
 */
export function validate<S extends Schema | undefined>(
  schema: S,
  value: unknown,
): Validation<OutputOf<S>> | Promise<Validation<OutputOf<S>>> {
  if (schema === undefined) return { value: value as OutputOf<S> };
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) return result.then(toValidation<OutputOf<S>>);
  return toValidation<OutputOf<S>>(result);
}

/** The output type of a schema, `unknown` for none. */
type OutputOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;

function toValidation<T>(result: StandardSchemaV1.Result<unknown>): Validation<T> {
  if (result.issues === undefined) return { value: result.value as T };
  return { issues: result.issues.map(toIssue) };
}

function toIssue(issue: StandardSchemaV1.Issue): Issue {
  const path: (string | number)[] = [];
  for (const segment of issue.path ?? []) path.push(toKey(typeof segment === "object" && segment !== null ? segment.key : segment));
  return { message: String(issue.message), path };
}

/** Array indexes stay numbers; symbols (not representable in JSON) become their description. */
function toKey(key: PropertyKey): string | number {
  if (typeof key === "number") return key;
  if (typeof key === "symbol") return key.description ?? "";
  return key;
}
