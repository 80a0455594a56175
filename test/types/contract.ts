// Type tests for tswebsockets/contract, checked by `tsc --noEmit` (npm run typecheck). Each
// `@ts-expect-error` line must stay an error: if inference breaks and the line compiles, tsc fails.
import { expectTypeOf } from "expect-type";
import * as v from "valibot";
import { z } from "zod";
import {
  type ClientEvents,
  type ClientRequests,
  type DeclaredErrorOf,
  defineContract,
  type ErrorCodesOf,
  type ErrorDataInputOf,
  type ErrorDataOf,
  event,
  type PayloadInputOf,
  type PayloadOf,
  type ReplyInputOf,
  type ReplyOf,
  request,
  type ServerEvents,
  type ServerRequests,
  type Validation,
  validate,
} from "../../src/contract/index.js";

const chat = defineContract({
  client: {
    typing: event(z.object({ on: z.boolean() })),
    send: request(z.object({ text: z.string().min(1).max(2000) }), z.object({ id: z.string() }), {
      errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }), CLOSED: null },
    }),
    "count:up": request(
      z.string().transform((s) => s.length),
      v.number(),
    ),
  },
  server: {
    message: event(v.object({ id: v.string(), from: v.string(), text: v.string() })),
    anything: event(),
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});
type Chat = typeof chat;
type Send = Chat["client"]["send"];

// Names per direction and kind.
expectTypeOf<ClientEvents<Chat>>().toEqualTypeOf<"typing">();
expectTypeOf<ClientRequests<Chat>>().toEqualTypeOf<"send" | "count:up">();
expectTypeOf<ServerEvents<Chat>>().toEqualTypeOf<"message" | "anything">();
expectTypeOf<ServerRequests<Chat>>().toEqualTypeOf<"confirm">();
// @ts-expect-error "message" is a server event, not a client one
const wrongDirection: ClientEvents<Chat> = "message";

// Payloads: zod and valibot alike; event() without a schema takes anything.
expectTypeOf<PayloadOf<Chat["client"]["typing"]>>().toEqualTypeOf<{ on: boolean }>();
expectTypeOf<PayloadOf<Chat["server"]["message"]>>().toEqualTypeOf<{ id: string; from: string; text: string }>();
expectTypeOf<PayloadOf<Chat["server"]["anything"]>>().toBeUnknown();
// @ts-expect-error a wrong payload type
const wrongPayload: PayloadInputOf<Chat["client"]["typing"]> = { on: "yes" };

// Input and output differ when the schema transforms.
expectTypeOf<PayloadInputOf<Chat["client"]["count:up"]>>().toEqualTypeOf<string>();
expectTypeOf<PayloadOf<Chat["client"]["count:up"]>>().toEqualTypeOf<number>();

// Replies.
expectTypeOf<ReplyOf<Send>>().toEqualTypeOf<{ id: string }>();
expectTypeOf<ReplyInputOf<Chat["server"]["confirm"]>>().toEqualTypeOf<boolean>();
// @ts-expect-error a wrong reply
const wrongReply: ReplyInputOf<Send> = { id: 1 };

// Declared errors.
expectTypeOf<ErrorCodesOf<Send>>().toEqualTypeOf<"RATE_LIMITED" | "CLOSED">();
expectTypeOf<ErrorCodesOf<Chat["server"]["confirm"]>>().toBeNever();
expectTypeOf<ErrorDataOf<Send, "RATE_LIMITED">>().toEqualTypeOf<{ retryAfterMs: number }>();
expectTypeOf<ErrorDataInputOf<Send, "CLOSED">>().toBeUndefined();
// @ts-expect-error an undeclared code
type Undeclared = ErrorDataOf<Send, "NOPE">;
function narrow(e: DeclaredErrorOf<Send>): number {
  return e.code === "RATE_LIMITED" ? e.data.retryAfterMs : 0;
}

// Runtime kinds are literal types, so code can narrow on them.
expectTypeOf(chat.client.send.kind).toEqualTypeOf<"request">();
expectTypeOf(chat.client.typing.kind).toEqualTypeOf<"event">();

// validate() carries the schema's output type.
const checked = validate(z.object({ n: z.number() }), {});
expectTypeOf(checked).toEqualTypeOf<Validation<{ n: number }> | Promise<Validation<{ n: number }>>>();

// @ts-expect-error not a Standard Schema
event({ parse: () => 1 });
// @ts-expect-error a request needs a reply schema
request(z.string());

export { narrow, type Undeclared, wrongDirection, wrongPayload, wrongReply };
