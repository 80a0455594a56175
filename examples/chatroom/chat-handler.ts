// The chat room's WebSocket side: one namespace per room, the logged-in user from the web app's
// own session (HttpMiddlewareMixin), and a protocol of small JSON messages.
//
// Server → page: welcome, joined, left, present, members (socket ids), message.
// Page → server: {"type":"say","text":…} and {"type":"present","to":<socket id>}.
//
// The member list stays correct across nodes: ids come from `server.to(room).members()` (asked of
// the adapter), and names travel with `sendTo`, which the adapter also carries: when someone joins,
// every page already in the room answers "present" and the server passes each name to the newcomer.
import { BaseMixin, HttpMiddlewareMixin, type Message, MixinFail, mixins, Namespace, type Socket } from "../../src/index.js";
import { type ChatUser, MAX_TEXT, ROOMS } from "./users.js";

export type { ChatUser } from "./users.js";

/** Close code the page reads as "log in again": the same code `server.closeUser` uses. */
const LOGIN_REQUIRED = 4401;

/**
 * The room that holds one user's sockets in one room, on every node: the rooms page counts people
 * (users with at least one socket in it), not tabs.
 * @example
 * (await server.to(personRoom("lobby", "1")).members()).length > 0 // Alice is in the lobby
 */
export function personRoom(room: string, userId: string): string {
  return `person:${userId}@${room}`;
}

/** Only logged-in users, only rooms that exist. */
class MembersOnly extends BaseMixin {
  static onConnect(socket: Socket): void {
    if (!isUser(socket.user)) throw new MixinFail("login required", LOGIN_REQUIRED);
    if (!ROOMS.includes(roomOf(socket))) throw new MixinFail("no such room", 4404);
  }
}

/**
 * A chat room at `/chatroom/<room>`. Mixins run right to left: the session middleware first,
 * then the login check, then these hooks.
 * @example
 * createServer({ server: httpServer, handlers: [ChatRoom], middleware: [sessionMiddleware, passport.session()] })
 */
@Namespace("/chatroom/:room")
export class ChatRoom extends mixins(MembersOnly, HttpMiddlewareMixin) {
  static async onConnect(socket: Socket): Promise<void> {
    const room = roomOf(socket);
    const { name } = socket.user as ChatUser;
    socket.join(room);
    socket.join(personRoom(room, (socket.user as ChatUser).id));
    socket.send(json({ type: "welcome", id: socket.id, name, room }));
    socket.server
      .to(room)
      .except(socket)
      .send(json({ type: "joined", id: socket.id, name, at: Date.now() }));
    await announceMembers(socket, room);
  }

  static async onMessage(socket: Socket, message: Message): Promise<void> {
    const room = roomOf(socket);
    const { name } = socket.user as ChatUser;
    const event = parse(message);
    if (event?.type === "say" && typeof event.text === "string") {
      // Nothing is cut or dropped without a word: the page hears why.
      const text = event.text.trim();
      if (text === "") void socket.send(json({ type: "refused", reason: "The message is empty." }));
      else if (text.length > MAX_TEXT) {
        void socket.send(json({ type: "refused", reason: `The message is ${text.length} characters long; at most ${MAX_TEXT} fit.` }));
      } else socket.server.to(room).send(json({ type: "message", id: socket.id, name, text, at: Date.now() }));
    } else if (event?.type === "present" && typeof event.to === "string") {
      // Only pass names to sockets of this room, on whichever node they are.
      const members = await socket.server.to(room).members();
      if (members.includes(event.to)) socket.server.sendTo(event.to, json({ type: "present", id: socket.id, name }));
    }
  }

  static async onClose(socket: Socket): Promise<void> {
    if (!isUser(socket.user) || !socket.rooms.has(roomOf(socket))) return; // blocked before joining
    const room = roomOf(socket);
    socket.server.to(room).send(json({ type: "left", id: socket.id, name: socket.user.name, at: Date.now() }));
    await announceMembers(socket, room);
  }
}

async function announceMembers(socket: Socket, room: string): Promise<void> {
  const ids = await socket.server.to(room).members();
  socket.server.to(room).send(json({ type: "members", ids }));
}

function roomOf(socket: Socket): string {
  return socket.params.room ?? "";
}

function isUser(user: unknown): user is ChatUser {
  return typeof (user as ChatUser | undefined)?.name === "string";
}

function json(value: object): string {
  return JSON.stringify(value);
}

function parse(message: Message): Record<string, unknown> | undefined {
  if (typeof message !== "string") return undefined;
  try {
    const value: unknown = JSON.parse(message);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
