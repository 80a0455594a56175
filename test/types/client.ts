// Type tests for tswebsockets/client, checked by `tsc --noEmit`. Each `@ts-expect-error` line must
// stay an error: if the contract's types stop reaching the client, tsc fails.
import { expectTypeOf } from "expect-type";
import { z } from "zod";
import { type Client, type ClientState, type CloseInfo, connect, type Gap } from "../../src/client/index.js";
import { defineContract, event, request } from "../../src/contract/index.js";

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
    confirm: request(z.object({ question: z.string() }), z.boolean()),
  },
});

export function typed(client: Client<typeof chat>): void {
  expectTypeOf(client.emit("typing", { on: true }, { volatile: true })).toEqualTypeOf<boolean>();
  client.emit("ping"); // an event without a schema needs no data
  // @ts-expect-error: wrong payload
  client.emit("typing", { on: "yes" });
  // @ts-expect-error: "send" is a request, not an event
  client.emit("send", { text: "hi" });
  // @ts-expect-error: "message" is sent by the server
  client.emit("message", { id: "1", text: "" });
  expectTypeOf(client.request("send", { text: "hi" }, { timeoutMs: 1000 })).toEqualTypeOf<Promise<{ id: string }>>();
  // @ts-expect-error: data is required
  void client.request("send");
  client.on("message", (m) => expectTypeOf(m).toEqualTypeOf<{ id: string; text: string }>());
  client.on("state", (state, close, retryInMs) => {
    expectTypeOf(retryInMs).toEqualTypeOf<number | undefined>();
    expectTypeOf(state).toEqualTypeOf<ClientState>();
    expectTypeOf(close).toEqualTypeOf<CloseInfo | undefined>();
  });
  client.on("gap", (gap) => expectTypeOf(gap).toEqualTypeOf<Gap>());
  // @ts-expect-error: "typing" is sent by clients, not the server
  client.on("typing", () => {});
  client.handle("confirm", ({ question }) => question.length > 0);
  client.handle("confirm", async () => true);
  // @ts-expect-error: the reply must be a boolean
  client.handle("confirm", () => "yes");
}

export function untyped(): void {
  const client = connect("ws://localhost/x");
  client.emit("anything", { a: 1 });
  expectTypeOf(client.request("whatever")).toEqualTypeOf<Promise<unknown>>();
  client.on("news", (data) => expectTypeOf(data).toEqualTypeOf<unknown>());
}
