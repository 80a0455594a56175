// The chat room's contract: what pages send and what the server sends, checked with zod on the
// server. Isomorphic: the page imports it with `import type`, so zod stays out of its bundle.
import { z } from "zod";
import { defineContract, event, request } from "../../src/contract/index.js";
import { MAX_TEXT } from "./users.js";

const person = { id: z.string(), name: z.string() };

/**
 * The messages of `/chatroom/<room>`.
 * @example
 * const client = connect<typeof chat>(`/chatroom/${encodeURIComponent(room)}`);
 */
export const chat = defineContract({
  client: {
    /** Say something; the reply is the message's id. Empty or longer than MAX_TEXT: INVALID_PAYLOAD. */
    send: request(z.object({ text: z.string().trim().min(1, "The message is empty.").max(MAX_TEXT) }), z.object({ id: z.string() })),
    /** Tell a newcomer (socket id `to`) who this page is. */
    present: event(z.object({ to: z.string() })),
  },
  server: {
    welcome: event(z.object({ ...person, room: z.string() })),
    joined: event(z.object({ ...person, at: z.number() })),
    left: event(z.object({ ...person, at: z.number() })),
    present: event(z.object(person)),
    /** The socket ids in the room right now (from the adapter: every node). */
    members: event(z.object({ ids: z.array(z.string()) })),
    message: event(z.object({ ...person, text: z.string(), at: z.number() })),
  },
});
