// Type tests for the server side of the message layer, checked by `tsc --noEmit` (npm run
// typecheck). Each `@ts-expect-error` line must stay an error: if inference breaks and the line
// compiles, tsc fails. Nothing here runs.
import { expectTypeOf } from "expect-type";
import { z } from "zod";
import { defineContract, event, request } from "../../src/contract/index.js";
import { type EventBroadcaster, EventError, type EventSocket, events, handle, Namespace, RequestError } from "../../src/index.js";

const chat = defineContract({
  client: {
    typing: event(z.object({ on: z.boolean() })),
    ping: event(),
    send: request(z.object({ text: z.string() }), z.object({ id: z.string() }), {
      errors: { RATE_LIMITED: z.object({ retryAfterMs: z.number() }) },
    }),
  },
  server: {
    message: event(z.object({ id: z.string(), text: z.string() })),
    tick: event(),
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});
type Chat = typeof chat;

// Handler parameters and replies are inferred from the contract, without annotations.
handle(chat, {
  typing(socket, data) {
    expectTypeOf(socket).toEqualTypeOf<EventSocket<Chat>>();
    expectTypeOf(data).toEqualTypeOf<{ on: boolean }>();
  },
  ping(_socket, data) {
    expectTypeOf(data).toBeUnknown();
  },
  async send(socket, { text }) {
    expectTypeOf(text).toBeString();
    const ok = await socket.request("confirm", { question: text }, { timeoutMs: 5000 });
    expectTypeOf(ok).toBeBoolean();
    if (!ok) throw new EventError("RATE_LIMITED", { retryAfterMs: 500 });
    return { id: "m1" };
  },
});

// A wrong reply, payload, name or handler shape does not compile.
handle(chat, {
  // @ts-expect-error the reply must be { id: string }
  send() {
    return { id: 1 };
  },
});
handle(chat, {
  // @ts-expect-error "nope" is not a client message
  nope() {},
});
handle(chat, {
  typing(_socket, { on }) {
    // @ts-expect-error `on` is a boolean
    on.toUpperCase();
  },
});

// socket.emit / socket.request / server.to().emit are typed by the contract's server side.
declare const socket: EventSocket<Chat>;
socket.emit("message", { id: "1", text: "hi" });
socket.emit("tick");
// @ts-expect-error unknown event name
socket.emit("nope", {});
// @ts-expect-error wrong payload
socket.emit("message", { id: 1, text: "hi" });
// @ts-expect-error a request is not an event
socket.emit("confirm", { question: "?" });
// @ts-expect-error message needs its data
socket.emit("message");
expectTypeOf(socket.request("confirm", { question: "?" })).toEqualTypeOf<Promise<boolean>>();
// @ts-expect-error wrong request payload
void socket.request("confirm", { question: 1 });
// @ts-expect-error an event is not a request
void socket.request("message", { id: "1", text: "x" });
// socket.request is still the upgrade request's record too
expectTypeOf(socket.request.headers).toEqualTypeOf<Readonly<Record<string, string | string[] | undefined>>>();
expectTypeOf(socket.server.to("lobby")).toEqualTypeOf<EventBroadcaster<Chat>>();
socket.server.to("lobby").except(socket).emit("message", { id: "1", text: "hi" });
// @ts-expect-error wrong broadcast payload
socket.server.to("lobby").emit("message", { text: "hi" });

// The handler class: static events must be handle() of the same contract.
const other = defineContract({ client: { x: event() } });
@Namespace("/chat")
class ChatHandler extends events(chat) {
  static events = handle(chat, { typing() {} });
  static onConnect(s: EventSocket<Chat>) {
    s.emit("tick");
  }
}
void ChatHandler;
// A table of another contract is refused when the server starts (test/events.test.ts): the class
// type does not declare `events`, so that writing it needs no `override` under noImplicitOverride.
void other;

const error = new RequestError("TIMEOUT");
expectTypeOf(error.code).toEqualTypeOf<"TIMEOUT">();
expectTypeOf(error).toMatchTypeOf<Error>();
