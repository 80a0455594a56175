/**
 * Type helpers for the code built on a contract (server handlers, the client, the test client).
 * Names are per direction; payload, reply and error types are per definition, e.g.
 * `PayloadOf<C["client"]["send"]>`. "Input" types are what a sender passes (the schema's input);
 * the plain ones are what a receiver gets after validation (the schema's output).
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { AnyContract, Definitions } from "./define-contract.js";
import type { Definition, RequestDefinition, Schema } from "./definitions.js";

type NamesOfKind<D extends Definitions, K extends Definition["kind"]> = {
  [N in keyof D]: D[N]["kind"] extends K ? N : never;
}[keyof D] &
  string;

type Output<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;
type Input<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : unknown;

/** Names of the events clients send. @example type E = ClientEvents<typeof chat>; // "typing" */
export type ClientEvents<C extends AnyContract> = NamesOfKind<C["client"], "event">;
/** Names of the requests clients send. @example type R = ClientRequests<typeof chat>; // "send" */
export type ClientRequests<C extends AnyContract> = NamesOfKind<C["client"], "request">;
/** Names of the events the server sends. @example type E = ServerEvents<typeof chat>; // "message" */
export type ServerEvents<C extends AnyContract> = NamesOfKind<C["server"], "event">;
/** Names of the requests the server sends. @example type R = ServerRequests<typeof chat>; // "confirm" */
export type ServerRequests<C extends AnyContract> = NamesOfKind<C["server"], "request">;

/**
 * What the receiver's handler gets: the payload schema's output (`unknown` for `event()` without a schema).
 * @example
 * type P = PayloadOf<(typeof chat)["client"]["send"]>; // { text: string }
 */
export type PayloadOf<D extends Definition> = Output<D["schema"]>;

/**
 * What a sender passes: the payload schema's input.
 * @example
 * client.emit<"typing">("typing", data satisfies PayloadInputOf<(typeof chat)["client"]["typing"]>);
 */
export type PayloadInputOf<D extends Definition> = Input<D["schema"]>;

/**
 * What the requester gets back: the reply schema's output.
 * @example
 * type R = ReplyOf<(typeof chat)["client"]["send"]>; // { id: string }
 */
export type ReplyOf<D extends RequestDefinition> = Output<D["reply"]>;

/**
 * What the handler returns: the reply schema's input.
 * @example
 * const reply: ReplyInputOf<(typeof chat)["client"]["send"]> = { id: "m1" };
 */
export type ReplyInputOf<D extends RequestDefinition> = Input<D["reply"]>;

/**
 * The application error codes a request declares (`never` when none).
 * @example
 * type Codes = ErrorCodesOf<(typeof chat)["client"]["send"]>; // "RATE_LIMITED"
 */
export type ErrorCodesOf<D extends RequestDefinition> = keyof D["errors"] & string;

/**
 * The `data` type of a declared error code: its schema's output, `undefined` for a code declared `null`.
 * @example
 * type D = ErrorDataOf<(typeof chat)["client"]["send"], "RATE_LIMITED">; // { retryAfterMs: number }
 */
export type ErrorDataOf<D extends RequestDefinition, Code extends ErrorCodesOf<D>> = D["errors"][Code] extends Schema
  ? Output<D["errors"][Code]>
  : undefined;

/**
 * What the handler passes as `data` when it throws a declared error: its schema's input.
 * @example
 * const data: ErrorDataInputOf<(typeof chat)["client"]["send"], "RATE_LIMITED"> = { retryAfterMs: 500 };
 */
export type ErrorDataInputOf<D extends RequestDefinition, Code extends ErrorCodesOf<D>> = D["errors"][Code] extends Schema
  ? Input<D["errors"][Code]>
  : undefined;

/**
 * The declared errors of a request as a union tagged by `code`, for narrowing a rejected request.
 * @example
 * function onError(e: DeclaredErrorOf<(typeof chat)["client"]["send"]>) { if (e.code === "RATE_LIMITED") wait(e.data.retryAfterMs); }
 */
export type DeclaredErrorOf<D extends RequestDefinition> = {
  [Code in ErrorCodesOf<D>]: { readonly code: Code; readonly data: ErrorDataOf<D, Code> };
}[ErrorCodesOf<D>];
