/**
 * One events namespace's dispatcher, built once per server: decodes each tsws.v1 frame, looks the
 * name up in the contract's null-prototype table, validates, runs the mixins' `onEvent` hooks
 * (right to left), calls the handler, checks and sends the reply. It stays synchronous while the
 * schemas, hooks and handler are, so a fast request costs no promise.
 */
import { type AnyContract, lookup } from "../contract/define-contract.js";
import type { RequestDefinition } from "../contract/definitions.js";
import { type Validation, validate } from "../contract/validate.js";
import { CloseCode, MixinFail } from "../errors.js";
import type { InboundEvent, MixinClass } from "../hooks/mixin.js";
import type { Logger } from "../logger.js";
import { type EventContext, eventChannel } from "../observe/channels.js";
import { ErrorCode } from "../protocol/error-codes.js";
import { encodeError, encodeReply, type Frame, type FrameMeta } from "../protocol/frames.js";
import { DROP } from "../socket/drop.js";
import { type Socket, serverOf } from "../socket/socket.js";
import { decodeText, looksLikeReply } from "./decode.js";
import { EventError } from "./event-error.js";
import { EventSocketImpl, type SocketLayer } from "./event-socket.js";
import { EventOperator, type RoomHistory } from "./operator.js";
import type { AnyHandler, EventServer, HandlerTable } from "./types.js";

type OnEvent = (socket: Socket, event: InboundEvent) => unknown;
type Sync<T> = T | Promise<T>;

const dropped = () => DROP;

/** Records a traced call's outcome (nothing when untraced); returns DROP for the callers' convenience. */
function note(traced: EventContext | undefined, outcome: string): typeof DROP {
  if (traced !== undefined) traced.outcome = outcome;
  return DROP;
}

/** Calls `next` with the value now, or once the promise settles: promises only where a step made one. */
function then<T>(value: Sync<T>, next: (value: T) => unknown): unknown {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * The dispatcher and the per-namespace state its sockets share.
 * @example
 * const layer = new EventLayer(chat, Chat.events, mixinsOf(Chat), logger);
 * layer.receive(socket, '[1,1,"send",{"text":"hi"}]');
 */
export class EventLayer implements SocketLayer {
  readonly contract: AnyContract;
  readonly logger: Logger;
  readonly #handlers: { readonly [name: string]: AnyHandler };
  readonly #hooks: readonly OnEvent[];
  readonly #history: RoomHistory | undefined;
  #server: { base: Socket["server"]; api: EventServer<AnyContract> } | undefined;

  /** @param history where room broadcasts are numbered, on a server with `resume` */
  constructor(
    contract: AnyContract,
    table: HandlerTable | undefined,
    mixins: readonly MixinClass[],
    logger: Logger,
    history?: RoomHistory,
  ) {
    this.contract = contract;
    this.logger = logger;
    this.#history = history;
    this.#handlers = table?.handlers ?? Object.create(null);
    const hooks: OnEvent[] = [];
    for (const m of mixins) if (typeof m.onEvent === "function") hooks.push(m.onEvent.bind(m));
    this.#hooks = hooks;
  }

  serverFor(base: Socket["server"]): EventServer<AnyContract> {
    if (this.#server?.base !== base) {
      const to = (room: string) => new EventOperator(this.contract, this.logger, base.to(room), this.#history, [room]);
      // A proxy rather than Object.create(base): the server's methods read #private fields, so
      // they must run with the server itself as `this`.
      const bound = new Map<PropertyKey, unknown>();
      const api = new Proxy(base, {
        get: (target, key) => {
          if (key === "to") return to;
          const value: unknown = Reflect.get(target, key, target);
          if (typeof value !== "function") return value;
          let fn = bound.get(key);
          if (fn === undefined) bound.set(key, (fn = value.bind(target)));
          return fn;
        },
      }) as unknown as EventServer<AnyContract>;
      this.#server = { base, api };
    }
    return this.#server.api;
  }

  /** The Connection's first look at a message: replies are settled here, never queued. */
  readonly claim = (socket: Socket, data: Buffer, isBinary: boolean): boolean => {
    // A resuming client's positions come first and must not wait behind onConnect in the queue;
    // its confirm of the new token likewise. `[9,` as most write it, or JSON whitespace before or
    // after the `[` (a byte test on the hot path; control() reads the frame and gives back what
    // is neither).
    if (
      !isBinary &&
      (data[1] === 0x39 || data[0] !== 0x5b || (data[1] as number) <= 0x20) &&
      socket instanceof EventSocketImpl &&
      socket.resume?.wantsControl &&
      socket.resume.control(data.toString())
    ) {
      return true;
    }
    if (isBinary || !looksLikeReply(data) || !(socket instanceof EventSocketImpl) || !socket.negotiated) return false;
    this.receive(socket, data.toString());
    return true;
  };

  /** Handles one text frame of a socket that negotiated tsws.v1; returns DROP (or a promise of it). */
  receive(socket: EventSocketImpl, text: string): unknown {
    const result = decodeText(text);
    if (!result.ok) {
      this.#invalid(socket, result.id, result.message);
      return DROP;
    }
    const frame: Frame = result.frame;
    switch (frame[0]) {
      case 0:
        if (eventChannel.hasSubscribers) return this.#traced(socket, text, "event", frame[1], undefined, undefined, frame[2]);
        return this.#event(socket, frame[1], frame[2]);
      case 1:
        if (eventChannel.hasSubscribers) return this.#traced(socket, text, "request", frame[2], frame[1], frame[4], frame[3]);
        return this.#request(socket, frame[1], frame[2], frame[3]);
      case 2:
        socket.reply(frame[1], frame[2]);
        return DROP;
      case 3:
        if (frame[1] === null) this.logger.debug({ socket: socket.id, code: frame[2], message: frame[4] }, "the client refused a frame");
        else socket.replyError(frame[1], frame[2], frame[3], frame[4]);
        return DROP;
      case 9:
        return DROP; // a client's `pos` or `confirm` outside its window (claim() takes them in it), or an unknown kind: ignored as the protocol says
      default:
        this.#invalid(socket, null, "push frames (kind 4) are sent by the server only");
        return DROP;
    }
  }

  /**
   * Runs an event or request inside the `tswebsockets:event` TracingChannel (only when it has
   * subscribers): an async run, so every call ends with asyncEnd, and `outcome` set before it.
   */
  #traced(
    socket: EventSocketImpl,
    text: string,
    kind: "event" | "request",
    name: string,
    id: number | undefined,
    meta: FrameMeta | undefined,
    data?: unknown,
  ): Promise<unknown> {
    const context: EventContext = {
      server: serverOf(socket),
      socket,
      event: lookup(this.contract, "client", name) === undefined ? "" : name,
      kind,
      direction: "in",
      id,
      meta,
      bytes: Buffer.byteLength(text),
    };
    const run = async () => {
      await (kind === "event" ? this.#event(socket, name, data, context) : this.#request(socket, id as number, name, data, context));
      context.outcome ??= "ok";
    };
    return eventChannel.tracePromise(run, context).then(dropped);
  }

  #event(socket: EventSocketImpl, name: string, data: unknown, traced?: EventContext): unknown {
    const definition = lookup(this.contract, "client", name);
    if (definition?.kind !== "event") {
      this.logger.debug({ socket: socket.id, event: name }, "dropped an event the contract does not declare");
      return note(traced, ErrorCode.UNKNOWN_EVENT);
    }
    const handler = this.#handlers[name];
    try {
      const out = then(validate(definition.schema, data), (input: Validation<unknown>) => {
        if (input.issues !== undefined) {
          this.logger.debug({ socket: socket.id, event: name, issues: input.issues }, "dropped an event whose data failed its schema");
          return note(traced, ErrorCode.INVALID_PAYLOAD);
        }
        return then(this.#onEvent(socket, name, input.value, "event"), (value) =>
          value === DROP ? note(traced, ErrorCode.DROPPED) : handler?.(socket, value),
        );
      });
      if (out instanceof Promise) return out.then(dropped, (error: unknown) => this.#eventFailed(socket, name, error, traced));
    } catch (error) {
      return this.#eventFailed(socket, name, error, traced);
    }
    return DROP;
  }

  #request(socket: EventSocketImpl, id: number, name: string, data: unknown, traced?: EventContext): unknown {
    const cache = socket.resume?.replies;
    if (cache !== undefined) {
      // A request retried across a resume (same id): answered from the session's cache, not run twice.
      const step = cache.begin(id);
      if (step.kind === "resend") {
        socket.send(step.frame);
        return note(traced, "ok");
      }
      if (step.kind === "wait") {
        // Held in the socket's queue until the run answers, as the run itself would hold it: a
        // flood of retries then meets the queue's backpressure instead of a waiter kept for each.
        return step.frame.then((frame) => {
          socket.send(frame);
          return note(traced, "ok");
        });
      }
    }
    const definition = lookup(this.contract, "client", name);
    const handler = definition?.kind === "request" ? this.#handlers[name] : undefined;
    if (definition?.kind !== "request" || handler === undefined) {
      const why = definition === undefined ? "no client request of that name" : "no handler for it";
      socket.answer(id, encodeError(id, ErrorCode.UNKNOWN_EVENT, undefined, why));
      return note(traced, ErrorCode.UNKNOWN_EVENT);
    }
    try {
      const out = then(validate(definition.schema, data), (input: Validation<unknown>) => {
        if (input.issues !== undefined) {
          socket.answer(id, encodeError(id, ErrorCode.INVALID_PAYLOAD, { issues: input.issues }));
          return note(traced, ErrorCode.INVALID_PAYLOAD);
        }
        return then(this.#onEvent(socket, name, input.value, "request"), (value) => {
          if (value === DROP) {
            socket.answer(id, encodeError(id, ErrorCode.DROPPED));
            return note(traced, ErrorCode.DROPPED);
          }
          return then(handler(socket, value), (reply) => this.#reply(socket, id, name, definition, reply, traced));
        });
      });
      if (out instanceof Promise) {
        return out.then(dropped, (error: unknown) => this.#requestFailed(socket, id, name, definition, error, traced));
      }
    } catch (error) {
      return this.#requestFailed(socket, id, name, definition, error, traced);
    }
    return DROP;
  }

  /** Checks the handler's reply against its schema: a bad reply is this server's bug, the client gets INTERNAL. */
  #reply(socket: EventSocketImpl, id: number, name: string, definition: RequestDefinition, reply: unknown, traced?: EventContext): unknown {
    return then(validate(definition.reply, reply), (checked: Validation<unknown>) => {
      if (checked.issues === undefined) {
        socket.answer(id, encodeReply(id, reply));
        return;
      }
      note(traced, ErrorCode.INTERNAL);
      this.logger.error(
        { socket: socket.id, event: name, issues: checked.issues },
        `the handler of "${name}" returned a reply that fails its schema; answered INTERNAL`,
      );
      socket.answer(id, encodeError(id, ErrorCode.INTERNAL));
    });
  }

  /** The mixins' onEvent hooks, right to left; returns the data they leave, or DROP. */
  #onEvent(socket: Socket, event: string, data: unknown, kind: InboundEvent["kind"], from = 0): unknown {
    const hooks = this.#hooks;
    for (let i = from; i < hooks.length; i++) {
      const result = (hooks[i] as OnEvent)(socket, { event, data, kind });
      if (result instanceof Promise) {
        return result.then((value: unknown) => {
          if (value === DROP) return DROP;
          return this.#onEvent(socket, event, value === undefined ? data : value, kind, i + 1);
        });
      }
      if (result === DROP) return DROP;
      if (result !== undefined) data = result;
    }
    return data;
  }

  /** A request's handler or hook failed: EventError with a declared code answers it, MixinFail closes, the rest is INTERNAL. */
  #requestFailed(
    socket: EventSocketImpl,
    id: number,
    name: string,
    definition: RequestDefinition,
    error: unknown,
    traced?: EventContext,
  ): unknown {
    if (error instanceof MixinFail) throw error;
    if (traced !== undefined) traced.outcome = error instanceof EventError ? error.code : ErrorCode.INTERNAL;
    if (socket.closed) {
      note(traced, ErrorCode.DISCONNECTED);
      // Typically a DISCONNECTED from socket.request(): nobody is left to answer.
      this.logger.debug({ err: error, socket: socket.id, event: name }, `request "${name}" failed after the socket closed`);
      return DROP;
    }
    if (error instanceof EventError && Object.hasOwn(definition.errors, error.code)) {
      const schema = definition.errors[error.code];
      if (schema === null || schema === undefined) {
        socket.answer(id, encodeError(id, error.code));
        return DROP;
      }
      const answer = (checked: Validation<unknown>) => {
        if (checked.issues === undefined) socket.answer(id, encodeError(id, error.code, error.data));
        else this.#internal(socket, id, name, error, `EventError("${error.code}") data fails its declared schema`, traced);
        return DROP;
      };
      try {
        const out = then(validate(schema, error.data), answer);
        if (out instanceof Promise) return out.catch((e: unknown) => this.#internal(socket, id, name, e, "an error schema threw", traced));
        return out;
      } catch (e) {
        return this.#internal(socket, id, name, e, "an error schema threw", traced);
      }
    }
    const why = error instanceof EventError ? `EventError("${error.code}") is not declared in the request's errors` : "the handler threw";
    return this.#internal(socket, id, name, error, why, traced);
  }

  #internal(socket: EventSocketImpl, id: number, name: string, error: unknown, why: string, traced?: EventContext): typeof DROP {
    note(traced, ErrorCode.INTERNAL);
    this.logger.error({ err: error, socket: socket.id, event: name }, `request "${name}": ${why}; answered INTERNAL`);
    socket.answer(id, encodeError(id, ErrorCode.INTERNAL));
    return DROP;
  }

  #eventFailed(socket: Socket, name: string, error: unknown, traced?: EventContext): typeof DROP {
    if (error instanceof MixinFail) throw error;
    note(traced, error instanceof EventError ? error.code : ErrorCode.INTERNAL);
    if (error instanceof EventError) {
      this.logger.info(
        { socket: socket.id, event: name, code: error.code },
        `event "${name}" ended with EventError (events have no reply)`,
      );
    } else {
      this.logger.error({ err: error, socket: socket.id, event: name }, `the handler of event "${name}" threw; the socket stays open`);
    }
    return DROP;
  }

  /** Answers INVALID_FRAME; past the allowance the socket is closed with 1008. */
  #invalid(socket: EventSocketImpl, id: number | null, message: string): void {
    socket.send(encodeError(id, ErrorCode.INVALID_FRAME, undefined, message));
    if (!socket.invalidFrame(Date.now())) return;
    this.logger.info({ socket: socket.id, closeCode: CloseCode.policyViolation }, "too many invalid frames; closing with 1008");
    socket.close(CloseCode.policyViolation, "too many invalid frames");
  }
}
