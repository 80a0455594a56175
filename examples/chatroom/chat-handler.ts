// The chat room's WebSocket side: one namespace per room speaking the contract of contract.ts
// (events(chat) + handle(chat)), with the logged-in user from the web app's own session
// (HttpMiddlewareMixin). The contract checks what pages send; the handlers never see bad input.
//
// People, not tabs: each socket also joins `personRoom(room, userId)`. Counting the sockets of those
// rooms (asked of the adapter, so every node counts) gives who is here and with how many tabs.
import { randomUUID } from "node:crypto";
import {
  BaseMixin,
  type EventSocket,
  events,
  HttpMiddlewareMixin,
  handle,
  MixinFail,
  Namespace,
  type ServerApi,
  type Socket,
} from "../../src/index.js";
import { chat } from "./contract.js";
import { type ChatUser, DEMO_USERS, ROOMS } from "./users.js";

export type { ChatUser } from "./users.js";

/** A socket of the chat namespace: typed events from the contract, `params.room` from the path. */
type ChatSocket = EventSocket<typeof chat> & Socket<"/chatroom/:room">;

/** Close code the page reads as "log in again": the same code `server.closeUser` uses. */
const LOGIN_REQUIRED = 4401;

/**
 * The room that holds one user's sockets in one room, on every node.
 * @example
 * (await server.to(personRoom("lobby", "1")).members()).length // Alice's tabs in the lobby
 */
export function personRoom(room: string, userId: string): string {
  return `person:${userId}@${room}`;
}

/** One person in a room, with the number of tabs they have open there (at least 1). */
export interface Present extends ChatUser {
  tabs: number;
}

/**
 * Who is in `room` right now on every node, each person once with their tab count. The demo's
 * users are a fixed list; an application would ask its user store which ids to look up.
 * @example
 * (await peopleIn(server, "lobby")).length // "2 online"
 */
export async function peopleIn(server: Pick<ServerApi<Socket>, "to">, room: string): Promise<Present[]> {
  const counts = await Promise.all(DEMO_USERS.map(async (u) => (await server.to(personRoom(room, u.id)).members()).length));
  return DEMO_USERS.flatMap((u, i) => ((counts[i] ?? 0) > 0 ? [{ id: u.id, name: u.name, tabs: counts[i] ?? 0 }] : []));
}

/** Only logged-in users, only rooms that exist. */
class MembersOnly extends BaseMixin {
  static onConnect(socket: Socket): void {
    if (!isUser(socket.user)) throw new MixinFail("login required", LOGIN_REQUIRED);
    // 1008: the page stops instead of retrying a room that will never exist.
    if (!ROOMS.includes(roomOf(socket))) throw new MixinFail("no such room", 1008);
  }
}

/**
 * A chat room at `/chatroom/<room>`, the room name URL-encoded. Mixins run right to left: the
 * session middleware first, then the login check, then these hooks; `send` requests go to the
 * `events` table once the contract has checked them.
 * @example
 * createServer({ server: httpServer, handlers: [ChatRoom], middleware: [sessionMiddleware, passport.session()] })
 */
@Namespace("/chatroom/:room")
export class ChatRoom extends events(chat, MembersOnly, HttpMiddlewareMixin) {
  static async onConnect(socket: ChatSocket): Promise<void> {
    const room = socket.params.room;
    const you = userOf(socket);
    socket.join(room);
    socket.join(personRoom(room, you.id));
    socket.emit("welcome", { you, room });
    // Announced once per person: a second tab of someone already here is not news.
    const tabs = (await socket.server.to(personRoom(room, you.id)).members()).length;
    if (tabs === 1) socket.server.to(room).except(socket).emit("joined", { who: you, at: Date.now() });
    await announceMembers(socket, room);
  }

  static async onClose(socket: ChatSocket): Promise<void> {
    const room = socket.params.room;
    if (!isUser(socket.user) || !socket.rooms.has(room)) return; // refused before joining
    const who = userOf(socket);
    // This socket has already left its rooms: no tab left means the person left.
    if ((await socket.server.to(personRoom(room, who.id)).members()).length === 0) {
      socket.server.to(room).emit("left", { who, at: Date.now() });
    }
    await announceMembers(socket, room);
  }

  static events = handle(chat, {
    send(socket, { text }) {
      const id = randomUUID();
      socket.server.to(roomOf(socket)).emit("message", { id, from: userOf(socket), text, at: Date.now() });
      return { id };
    },
  });
}

async function announceMembers(socket: ChatSocket, room: string): Promise<void> {
  socket.server.to(room).emit("members", { people: await peopleIn(socket.server, room) });
}

function roomOf(socket: Socket): string {
  return socket.params.room ?? "";
}

/** The user as the contract's `person`: id and name only (never the whole session record). */
function userOf(socket: Socket): ChatUser {
  const { id, name } = socket.user as ChatUser;
  return { id, name };
}

function isUser(user: unknown): user is ChatUser {
  return typeof (user as ChatUser | undefined)?.name === "string";
}
