// The chat room's contract: what pages send and what the server sends, checked with zod on the
// server. Isomorphic: the page imports it with `import type`, so zod stays out of its bundle, and
// every check of what a user typed lives here, once; the page shows the server's answer.
import { z } from "zod";
import { defineContract, event, request } from "../../src/contract/index.js";
import { MAX_TEXT } from "./users.js";

/** A user (not a tab): the user's id and display name. */
const person = z.object({ id: z.string(), name: z.string() });

/** What one message may hold: trimmed, not empty, at most MAX_TEXT characters; the errors say what to fix. */
const text = z
  .string()
  .trim()
  .min(1, "The message is empty: type something first.")
  .max(MAX_TEXT, { error: (issue) => `${String(issue.input).length} characters: at most ${MAX_TEXT} fit in one message.` });

/**
 * The messages of `/chatroom/<room>`.
 * @example
 * const client = connect<typeof chat>(`/chatroom/${encodeURIComponent(room)}`);
 * const { id } = await client.request("send", { text: "hello" });
 */
export const chat = defineContract({
  client: {
    /** Say something; the reply is the message's id. Empty or longer than MAX_TEXT: INVALID_PAYLOAD with the reason. */
    send: request(z.object({ text }), z.object({ id: z.string() })),
  },
  server: {
    /** To a socket that has joined: who it is logged in as, and the room. */
    welcome: event(z.object({ you: person, room: z.string() })),
    /** Someone came in (their first tab in the room). */
    joined: event(z.object({ who: person, at: z.number() })),
    /** Someone went (their last tab in the room closed). */
    left: event(z.object({ who: person, at: z.number() })),
    /** Everyone in the room right now, on every node: people, each with how many tabs they have open. */
    members: event(z.object({ people: z.array(person.extend({ tabs: z.number().int().min(1) })) })),
    message: event(z.object({ id: z.string(), from: person, text: z.string(), at: z.number() })),
  },
});
