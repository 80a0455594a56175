/**
 * "tswebsockets/contract": one isomorphic contract (no Node imports) for the server, the client and
 * the tests: message definitions, validation through any Standard Schema v1 library, the type
 * helpers built on it, and its AsyncAPI document.
 */

export type { BuiltInErrorCode, Issue } from "../protocol/error-codes.js";
export { ErrorCode } from "../protocol/error-codes.js";
export { RequestError } from "../protocol/request-error.js";
export { type AsyncAPIDocument, type AsyncAPIOptions, toAsyncAPI } from "./asyncapi.js";
export { type AnyContract, type Contract, type Definitions, type Direction, defineContract, lookup } from "./define-contract.js";
export {
  type Definition,
  type ErrorSchemas,
  type EventDefinition,
  event,
  isSchema,
  type RequestDefinition,
  request,
  type Schema,
} from "./definitions.js";
export { NAME_PATTERN } from "./names.js";
export type {
  ClientEvents,
  ClientRequests,
  DeclaredErrorOf,
  ErrorCodesOf,
  ErrorDataInputOf,
  ErrorDataOf,
  PayloadInputOf,
  PayloadOf,
  ReplyInputOf,
  ReplyOf,
  ServerEvents,
  ServerRequests,
} from "./types.js";
export { type Validation, validate } from "./validate.js";
