// Type tests for the root entry point, checked by `tsc --noEmit` (npm run typecheck). Each
// `@ts-expect-error` line must stay an error. (Declaration merging of SocketTypes is checked in a
// consumer project, test/fixtures/consumer/esm-strict/typed.ts: here it would retype every test.)
import type { IncomingMessage, ServerResponse } from "node:http";
import { expectTypeOf } from "expect-type";
import type { RequestHandler } from "express";
import type session from "express-session";
import passport from "passport";
import {
  BaseHandler,
  BaseMixin,
  createServer,
  type HandlerClass,
  type Message,
  type Middleware,
  mixins,
  namespace,
  type ParamNames,
  type Socket,
} from "../../src/index.js";

// Middleware: Connect-style functions are accepted as they are typed (issue 12 item 2).
declare const sessionMiddleware: ReturnType<typeof session>;
declare const expressHandler: RequestHandler;
const connectStyle = (_req: IncomingMessage, _res: ServerResponse, next: (err?: Error) => void) => next();
const asyncStyle = async (_req: IncomingMessage, _res: ServerResponse, next: () => void) => next();
const accepted: Middleware[] = [sessionMiddleware, passport.session(), expressHandler, connectStyle, asyncStyle];
// @ts-expect-error a middleware is a function of (req, res, next)
const notAFunction: Middleware = { handle() {} };

// Params typed from the path, present under noUncheckedIndexedAccess (issue 12 item 1).
expectTypeOf<ParamNames<"/chat/:room/:topic">>().toEqualTypeOf<"room" | "topic">();
declare const chatSocket: Socket<"/chat/:room">;
declare const anySocket: Socket;
expectTypeOf(chatSocket.params.room).toEqualTypeOf<string>();
expectTypeOf(anySocket.params.room).toEqualTypeOf<string | undefined>();

// Hooks are static methods typed by HandlerClass/MixinClass, written without `override` (item 1).
class Shout extends BaseMixin {
  static onMessage(_socket: Socket, message: Message) {
    return typeof message === "string" ? message.toUpperCase() : message;
  }
}
class Chat extends mixins(Shout) {
  static onConnect(socket: Socket<"/chat/:room">) {
    socket.join(socket.params.room);
  }
}
class WrongHook extends BaseHandler {
  static onMessage(_socket: Socket, _message: number) {}
}
const handlers: HandlerClass[] = [Chat, namespace("/x/", class extends BaseHandler {})];
// @ts-expect-error onMessage takes a Message, not a number
const wrong: HandlerClass = WrongHook;
// A returned class keeps its own type.
expectTypeOf(namespace("/chat/:room", Chat)).toEqualTypeOf<typeof Chat>();

// A Socket of a path is a Socket.
expectTypeOf<Socket<"/chat/:room">>().toMatchTypeOf<Socket>();

void createServer;

export { accepted, handlers, notAFunction, wrong };
