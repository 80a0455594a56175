/**
 * The types of the server side of the message layer: the socket handlers get, the broadcast
 * operator with a typed `emit`, and the handler table `handle()` builds. Everything is derived
 * from the contract, so handlers need no annotations.
 */
import type { AnyContract } from "../contract/define-contract.js";
import type { Definition, RequestDefinition } from "../contract/definitions.js";
import type { PayloadInputOf, PayloadOf, ReplyInputOf, ReplyOf, ServerEvents, ServerRequests } from "../contract/types.js";
import type { Broadcaster, ServerApi } from "../socket/server-api.js";
import type { Socket } from "../socket/socket.js";
import type { RequestInfo, Room, SocketId } from "../types.js";

/** `data` is optional when the schema accepts `undefined` (an `event()` without schema, say). */
type DataArgs<D extends Definition> = undefined extends PayloadInputOf<D> ? [data?: PayloadInputOf<D>] : [data: PayloadInputOf<D>];

/** The definition of a server → client request `N`. */
type ServerRequest<C extends AnyContract, N extends keyof C["server"]> = Extract<C["server"][N], RequestDefinition>;

/**
 * Options of a server → client request.
 * @example
 * await socket.request("confirm", { question: "leave?" }, { timeoutMs: 5000 });
 */
export interface RequestOptions {
  /** Milliseconds to wait for the reply before rejecting with `TIMEOUT` (default 10 000). */
  readonly timeoutMs?: number;
}

/**
 * A broadcast operator of an events namespace: `send` as before, plus `emit`, validated and
 * encoded once for every receiver on every node.
 * @example
 * socket.server.to("lobby").except(socket).emit("typing", { on: true });
 */
export interface EventBroadcaster<C extends AnyContract> extends Broadcaster {
  to(room: Room): EventBroadcaster<C>;
  except(socket: { readonly id: SocketId } | SocketId): EventBroadcaster<C>;
  /**
   * Sends event `event` to every socket in the rooms. The data is checked against the event's
   * schema once; invalid data throws a TypeError listing the issues (an async schema: logged).
   */
  emit<N extends ServerEvents<C>>(event: N, ...data: DataArgs<C["server"][N]>): void;
}

/**
 * `socket.server` on an events namespace: the server, with `to(room)` returning an
 * {@link EventBroadcaster}.
 * @example
 * socket.server.to(socket.params.room).emit("message", { id, from: socket.id, text });
 */
export interface EventServer<C extends AnyContract> extends ServerApi<Socket> {
  to(room: Room): EventBroadcaster<C>;
}

/**
 * The socket of an events namespace: a {@link Socket} plus `emit` and `request` towards its
 * client, typed by the contract's `server` side.
 * @example
 * static onConnect(socket: EventSocket<typeof chat>) { socket.emit("message", { id: "0", from: "server", text: "welcome" }); }
 */
export interface EventSocket<C extends AnyContract = AnyContract> extends Socket {
  readonly server: EventServer<C>;
  /** True when the client negotiated tsws.v1 (else its frames go to the raw `onMessage`). */
  readonly negotiated: boolean;
  /**
   * Sends event `event` to this client. The data is checked against the event's schema first;
   * invalid data throws a TypeError listing the issues (an async schema: logged).
   */
  emit<N extends ServerEvents<C>>(event: N, ...data: DataArgs<C["server"][N]>): void;
  /**
   * The upgrade request's record (`url`, `headers`, `remoteAddress`, as on every Socket) and, called,
   * a request to this client: see {@link SendRequest}.
   */
  readonly request: RequestInfo & SendRequest<C>;
}

/**
 * Asks the client and resolves with its reply (checked against the reply schema). Rejects with a
 * `RequestError`: the client's error code, `INVALID_PAYLOAD` (the data or the reply failed its
 * schema), `TIMEOUT` (after `timeoutMs`, default 10 s) or `DISCONNECTED` (as soon as the socket closes).
 * @example
 * const ok: boolean = await socket.request("confirm", { question: "leave?" }, { timeoutMs: 5000 });
 */
export type SendRequest<C extends AnyContract> = <N extends ServerRequests<C>>(
  event: N,
  data: PayloadInputOf<ServerRequest<C, N>>,
  options?: RequestOptions,
) => Promise<ReplyOf<ServerRequest<C, N>>>;

/** The handler of one client message: a request's returns the reply (or a promise of it). */
type HandlerOf<C extends AnyContract, D> = D extends RequestDefinition
  ? (socket: EventSocket<C>, data: PayloadOf<D>) => ReplyInputOf<D> | Promise<ReplyInputOf<D>>
  : D extends Definition
    ? (socket: EventSocket<C>, data: PayloadOf<D>) => unknown
    : never;

/**
 * The handlers `handle()` takes: one per client event or request, each optional (a request
 * without a handler is answered `UNKNOWN_EVENT`, an event without one is dropped).
 * @example
 * const handlers: Handlers<typeof chat> = { typing(socket, { on }) {} };
 */
export type Handlers<C extends AnyContract> = {
  readonly [N in keyof C["client"] & string]?: HandlerOf<C, C["client"][N]>;
};

/** A handler function as the dispatcher calls it. */
export type AnyHandler = (socket: EventSocket, data: unknown) => unknown;

/**
 * What `handle()` returns and a handler class keeps as `static events`: the contract and a
 * frozen null-prototype table of its handlers.
 * @example
 * static events: HandlerTable<typeof chat> = handle(chat, { typing() {} });
 */
export interface HandlerTable<C extends AnyContract = AnyContract> {
  readonly contract: C;
  readonly handlers: { readonly [name: string]: AnyHandler };
}
