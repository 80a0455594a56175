/**
 * `toAsyncAPI(contract, info)`: an AsyncAPI 3.0 document describing a contract from the server's
 * side: one channel (the WebSocket), an operation per message and direction (`receive` for what
 * clients send, `send` for what the server sends), request replies and declared errors through
 * AsyncAPI 3's `reply`. Payloads come from each schema's Standard JSON Schema converter where the
 * library has one (zod 4 does; valibot needs its own adapter first), else an empty schema that
 * says so.
 */
import type { StandardJSONSchemaV1 } from "@standard-schema/spec";
import { SUBPROTOCOL } from "../protocol/frames.js";
import type { AnyContract, Direction } from "./define-contract.js";
import type { Definition, Schema } from "./definitions.js";

/**
 * Options of {@link toAsyncAPI}. `servers` is copied as given (AsyncAPI 3 Server Objects).
 * @example
 * toAsyncAPI(chat, { title: "Chat", version: "1.0.0", address: "/chat/{room}", servers: { prod: { host: "example.com", protocol: "wss" } } });
 */
export interface AsyncAPIOptions {
  /** `info.title`. */
  readonly title: string;
  /** `info.version`: the API's version, not AsyncAPI's. */
  readonly version: string;
  /** `info.description`. */
  readonly description?: string;
  /** The channel's address, e.g. the namespace path `/chat/{room}` (default null: not stated). */
  readonly address?: string | null;
  /** The channel's id in the document (default `"socket"`; characters outside `[A-Za-z0-9._-]` become `_`). */
  readonly channel?: string;
  /** AsyncAPI 3 Server Objects by id, copied into `servers`. */
  readonly servers?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * An AsyncAPI document as a plain JSON-serializable object.
 * @example
 * const doc: AsyncAPIDocument = toAsyncAPI(chat, { title: "Chat", version: "1.0.0" });
 */
export type AsyncAPIDocument = Record<string, unknown>;

type Json = Record<string, unknown>;

/**
 * Builds the AsyncAPI 3.0 document of `contract`. Message and operation ids are
 * `<direction>.<name>` with characters outside `[A-Za-z0-9._-]` replaced by `_` (the message's
 * `name` keeps the real name); replies are `<id>.reply`, declared errors `<id>.error.<CODE>`.
 * @example
 * writeFileSync("asyncapi.json", JSON.stringify(toAsyncAPI(chat, { title: "Chat", version: "1.0.0" }), null, 2));
 */
export function toAsyncAPI(contract: AnyContract, options: AsyncAPIOptions): AsyncAPIDocument {
  const channelId = (options.channel ?? "socket").replace(/[^A-Za-z0-9._-]/g, "_");
  const messages: Json = {};
  const operations: Json = {};
  const used = new Set<string>();
  const ref = (messageId: string) => ({ $ref: `#/channels/${channelId}/messages/${messageId}` });
  const channelRef = { $ref: `#/channels/${channelId}` };

  for (const direction of ["client", "server"] as const satisfies readonly Direction[]) {
    const defs = contract[direction];
    for (const name of Object.keys(defs)) {
      const def = defs[name] as Definition;
      const id = uniqueId(`${direction}.${name}`, used);
      const from = direction === "client" ? "client → server" : "server → client";
      messages[id] = { name, title: name, summary: `${from} ${def.kind}`, payload: payloadSchema(def.schema) };
      const operation: Json = {
        action: direction === "client" ? "receive" : "send",
        channel: channelRef,
        summary: `${from} ${def.kind} "${name}"`,
        messages: [ref(id)],
      };
      if (def.kind === "request") {
        const replies = [uniqueId(`${id}.reply`, used)];
        messages[replies[0]!] = { name, title: `${name} reply`, payload: payloadSchema(def.reply) };
        for (const code of Object.keys(def.errors)) {
          const errorId = uniqueId(`${id}.error.${code}`, used);
          const data = def.errors[code];
          messages[errorId] = {
            name: code,
            title: `${name} error ${code}`,
            payload: data === null || data === undefined ? { description: "no data" } : payloadSchema(data),
          };
          replies.push(errorId);
        }
        operation.reply = { channel: channelRef, messages: replies.map(ref) };
      }
      operations[id] = operation;
    }
  }

  const info: Json = { title: options.title, version: options.version };
  if (options.description !== undefined) info.description = options.description;
  const doc: Json = { asyncapi: "3.0.0", info, defaultContentType: "application/json" };
  if (options.servers !== undefined) doc.servers = { ...options.servers };
  doc.channels = {
    [channelId]: {
      address: options.address ?? null,
      description: `A WebSocket speaking the ${SUBPROTOCOL} subprotocol: each payload travels inside a tsws.v1 frame (see docs/protocol.md).`,
      messages,
    },
  };
  doc.operations = operations;
  return doc;
}

/**
 * The JSON Schema of what travels on the wire (the schema's input), as draft-07, which AsyncAPI's
 * default schema format is a superset of.
 */
function payloadSchema(schema: Schema | undefined): Json {
  if (schema === undefined) return { description: "any JSON value" };
  const props = schema["~standard"] as Partial<StandardJSONSchemaV1.Props>;
  const converter = props.jsonSchema;
  const vendor = String(props.vendor);
  if (typeof converter?.input !== "function") return { description: `no JSON Schema conversion available for this ${vendor} schema` };
  try {
    const { $schema: _dialect, ...rest } = converter.input({ target: "draft-07" });
    return rest;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { description: `the ${vendor} schema could not be converted to JSON Schema: ${reason}` };
  }
}

/** An id made of AsyncAPI's allowed characters, unique within the document. */
function uniqueId(wanted: string, used: Set<string>): string {
  const base = wanted.replace(/[^A-Za-z0-9._-]/g, "_");
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
  used.add(id);
  return id;
}
