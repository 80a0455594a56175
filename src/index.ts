export type { Adapter, AdapterStats, ClusterNode, ClusterOp, SocketPlace } from "./cluster/adapter.js";
export { BroadcastOperator } from "./cluster/broadcast.js";
export { createMemoryAdapter } from "./cluster/memory-adapter.js";
export {
  AdapterError,
  AdapterErrors,
  CloseCode,
  ConfigError,
  ConfigErrors,
  ForcedClose,
  MixinFail,
  Refusal,
  type RefusalKind,
  TsWebSocketError,
} from "./errors.js";
export { EventError } from "./events/event-error.js";
export { type EventHandlerClass, events } from "./events/events.js";
export { handle } from "./events/handle.js";
export type { EventBroadcaster, EventServer, EventSocket, Handlers, HandlerTable, RequestOptions, SendRequest } from "./events/types.js";
export { BaseHandler, type HandlerClass, type HandlerHooks, mixins } from "./hooks/handler.js";
export { BaseMixin, type InboundEvent, type MixinClass, type MixinHooks } from "./hooks/mixin.js";
export type { RateLimit } from "./limits/rate-limit.js";
export { consoleLogger, type Logger } from "./logger.js";
export {
  type AdapterMessage,
  type BroadcastMessage,
  CHANNELS,
  type CloseMessage,
  type ConnectMessage,
  type DropMessage,
  type EventContext,
  type ForcedCloseMessage,
  type FrameMeta,
  type HeartbeatMessage,
  type MessageMessage,
  type ObservedSocket,
  type RefuseMessage,
} from "./observe/channels.js";
export type { HistoryOptions, ResumeOptions } from "./options/resume.js";
export { RequestError } from "./protocol/request-error.js";
export type { Gap, GapReason } from "./resume/gap-plan.js";
export type { ExpiredSession } from "./resume/runtime.js";
export { Namespace, namespace } from "./routing/namespace.js";
export { createServer, Server } from "./server.js";
export type { ServerOptions } from "./server-options.js";
export { DROP, type Drop } from "./socket/drop.js";
export { type Outbound, type OutboundEvent, variant } from "./socket/outbound.js";
export type { SlowConsumerPolicy } from "./socket/outbox.js";
export type { Broadcaster, ServerApi } from "./socket/server-api.js";
export { type SessionLike, Socket, type SocketData, type SocketSession, type SocketTypes, type SocketUser } from "./socket/socket.js";
export type { Message, ParamNames, Params, PathParams, RequestInfo, Room, SocketId } from "./types.js";
export { HttpMiddlewareMixin, type Middleware } from "./upgrade/http-middleware.js";
