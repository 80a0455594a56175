/**
 * The socket of an events namespace: `emit` and `request` towards its client, the table of the
 * server's own requests waiting for a reply, and the invalid-frame allowance. One class for every
 * events namespace; what differs (the contract, the logger) comes from its namespace's layer.
 */
import { type AnyContract, lookup } from "../contract/define-contract.js";
import type { RequestDefinition } from "../contract/definitions.js";
import { type Validation, validate } from "../contract/validate.js";
import type { Logger } from "../logger.js";
import { type EventContext, eventChannel } from "../observe/channels.js";
import { ErrorCode } from "../protocol/error-codes.js";
import { encodeEvent, encodeRequest, SUBPROTOCOL } from "../protocol/frames.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, INVALID_FRAME_WINDOW_MS, MAX_INVALID_FRAMES } from "../protocol/limits.js";
import { RequestError } from "../protocol/request-error.js";
import { pushBody } from "../resume/history-log.js";
import type { ResumeHandle } from "../resume/resume-handle.js";
import { outboxOf, Socket, type SocketInit, serverOf } from "../socket/socket.js";
import type { RequestInfo } from "../types.js";
import type { EventServer, RequestOptions } from "./types.js";

/** What a socket needs from its namespace's layer (an interface: the layer imports this file). */
export interface SocketLayer {
  readonly contract: AnyContract;
  readonly logger: Logger;
  /** `socket.server` with typed broadcast operators, made once per layer. */
  serverFor(base: Socket["server"]): EventServer<AnyContract>;
}

/** `socket.request(event, data, options)`: a request to the client. */
type SendRequestFunction = (event: string, data?: unknown, options?: RequestOptions) => Promise<unknown>;

/** A request this server sent its client, waiting for the reply. */
interface Pending {
  readonly definition: RequestDefinition;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: RequestError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * The {@link EventSocket} implementation. Its extra state is made on first use: a socket that
 * never sends a request and never sends a bad frame costs two fields more than a raw one.
 * @example
 * const socket = new EventSocketImpl(init, layer); socket.emit("message", { text: "hi" });
 */
export class EventSocketImpl extends Socket {
  readonly #layer: SocketLayer;
  readonly #negotiated: boolean;
  #pending: Map<number, Pending> | undefined;
  #lastId = 0;
  /** When the last invalid frames arrived (ms), oldest first; at most MAX_INVALID_FRAMES. */
  #invalidAt: number[] | undefined;
  /** `request`, made on first use (most sockets never read it): see {@link request}. */
  #send: (RequestInfo & SendRequestFunction) | undefined;
  /** The resumable session, on a server with `resume` (set once, by the resume layer, as the socket is made). */
  resume: ResumeHandle | undefined;

  constructor(init: SocketInit, layer: SocketLayer) {
    super(init);
    this.#layer = layer;
    this.#negotiated = init.ws.protocol === SUBPROTOCOL;
  }

  /**
   * The DESIGN names both `socket.request` (the upgrade request record of every Socket) and
   * `socket.request(event, data)` (a request to the client): here it is one function object
   * carrying the record's `url`, `headers` and `remoteAddress`, so both keep working. Made on
   * first read, then the same object every time.
   */
  override get request(): RequestInfo & SendRequestFunction {
    if (this.#send === undefined) {
      const info = super.request;
      const send = (event: string, data?: unknown, options?: RequestOptions) => this.#request(event, data, options);
      this.#send = Object.assign(send, { url: info.url, headers: info.headers, remoteAddress: info.remoteAddress });
    }
    return this.#send;
  }

  /** The namespace's layer (its dispatcher). */
  get layer(): SocketLayer {
    return this.#layer;
  }

  /** True when the client negotiated tsws.v1. */
  get negotiated(): boolean {
    return this.#negotiated;
  }

  override get server(): EventServer<AnyContract> {
    return this.#layer.serverFor(super.server);
  }

  /** Sends an event to this client after checking its data against the contract. */
  emit(event: string, data?: unknown): void {
    const definition = lookup(this.#layer.contract, "server", event);
    if (definition?.kind !== "event") {
      throw new TypeError(`emit("${event}"): the contract declares no server event of that name`);
    }
    checked(validate(definition.schema, data), `emit("${event}")`, this.#layer.logger, () => {
      // A resumable session's direct messages go through its inbox: numbered, replayed after a resume.
      if (this.resume !== undefined) this.resume.emit(pushBody(event, data));
      else this.send(encodeEvent(event, data));
    });
  }

  /**
   * Sends the answer (reply or error frame) to the client's request `id`; a resumable session
   * keeps it, so the same request retried after a resume gets it again instead of a second run.
   */
  answer(id: number, frame: string): void {
    if (this.resume !== undefined) {
      this.resume.replies.settle(id, frame);
      this.resume.changed();
    }
    this.send(frame);
  }

  /**
   * Sends a request to this client; resolves with its validated reply or rejects with a RequestError.
   * Traced on the `tswebsockets:event` channel (direction "out") when it has subscribers.
   */
  #request(event: string, data?: unknown, options?: RequestOptions): Promise<unknown> {
    if (!eventChannel.hasSubscribers) return this.#ask(event, data, options, ++this.#lastId);
    const id = ++this.#lastId; // known at the start, for the span
    const context: EventContext = {
      server: serverOf(this),
      socket: this,
      event: lookup(this.#layer.contract, "server", event) === undefined ? "" : event,
      kind: "request",
      direction: "out",
      id,
    };
    const run = async () => {
      try {
        const reply = await this.#ask(event, data, options, id);
        context.outcome = "ok";
        return reply;
      } catch (error) {
        context.outcome = error instanceof RequestError ? error.code : ErrorCode.INTERNAL;
        throw error;
      }
    };
    return eventChannel.tracePromise(run, context);
  }

  /** Sends request `id` (allocated by the caller, so a trace knows it from its start). */
  #ask(event: string, data: unknown, options: RequestOptions | undefined, id: number): Promise<unknown> {
    const definition = lookup(this.#layer.contract, "server", event);
    if (definition?.kind !== "request") {
      return Promise.reject(new TypeError(`request("${event}"): the contract declares no server request of that name`));
    }
    const timeoutMs = options?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeoutMs > 0)) return Promise.reject(new TypeError(`request("${event}"): timeoutMs must be a positive number of milliseconds`));
    return settle(validate(definition.schema, data), (input) => {
      if (input.issues !== undefined) throw new RequestError(ErrorCode.INVALID_PAYLOAD, { issues: input.issues });
      if (this.closed) throw new RequestError(ErrorCode.DISCONNECTED);
      return new Promise<unknown>((resolve, reject) => {
        if (this.#pending === undefined) {
          this.#pending = new Map();
          outboxOf(this).onceClosed(() => this.#disconnected());
        }
        const timer = setTimeout(() => this.#settle(id)?.reject(new RequestError(ErrorCode.TIMEOUT)), timeoutMs);
        this.#pending.set(id, { definition, resolve, reject, timer });
        this.send(encodeRequest(id, event, data));
      });
    });
  }

  /**
   * The client answered request `id`: resolves it with the reply checked against its schema (an
   * invalid reply rejects with `INVALID_PAYLOAD`). Unknown or settled ids are ignored.
   */
  reply(id: number, data: unknown): void {
    const pending = this.#settle(id);
    if (pending === undefined) return;
    const done = (result: Validation<unknown>) => {
      if (result.issues === undefined) pending.resolve(result.value);
      else pending.reject(new RequestError(ErrorCode.INVALID_PAYLOAD, { issues: result.issues }, "the reply failed its schema"));
    };
    try {
      const result = validate(pending.definition.reply, data);
      if (result instanceof Promise) result.then(done, (error: unknown) => pending.reject(internal(error, this.#layer.logger)));
      else done(result);
    } catch (error) {
      pending.reject(internal(error, this.#layer.logger));
    }
  }

  /** The client answered request `id` with an error. */
  replyError(id: number, code: string, data: unknown, message: string | undefined): void {
    this.#settle(id)?.reject(new RequestError(code, data, message));
  }

  /**
   * Counts an invalid frame; true when this one used up the allowance (MAX_INVALID_FRAMES within
   * INVALID_FRAME_WINDOW_MS), and the caller closes the socket.
   */
  invalidFrame(now: number): boolean {
    const times = (this.#invalidAt ??= []);
    times.push(now);
    if (times.length > MAX_INVALID_FRAMES) times.shift();
    return times.length === MAX_INVALID_FRAMES && now - (times[0] as number) < INVALID_FRAME_WINDOW_MS;
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending?.get(id);
    if (pending === undefined) return undefined;
    this.#pending?.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #disconnected(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    for (const id of [...pending.keys()]) this.#settle(id)?.reject(new RequestError(ErrorCode.DISCONNECTED));
  }
}

/** Runs `next` with the validation once it is there (no promise for a synchronous schema). */
function settle<T>(
  result: Validation<unknown> | Promise<Validation<unknown>>,
  next: (v: Validation<unknown>) => T | Promise<T>,
): Promise<T> {
  try {
    return result instanceof Promise ? result.then(next) : Promise.resolve(next(result));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Sends when the data passed its schema; throws a TypeError with the issues (synchronous
 * schemas) or logs them (async ones, whose caller has moved on).
 * @example
 * checked(validate(schema, data), 'emit("message")', logger, () => socket.send(text));
 */
export function checked(result: Validation<unknown> | Promise<Validation<unknown>>, what: string, logger: Logger, send: () => void): void {
  if (!(result instanceof Promise)) {
    if (result.issues !== undefined) throw new TypeError(`${what}: the data failed its schema: ${describe(result)}`);
    send();
    return;
  }
  result.then(
    (r) => {
      if (r.issues === undefined) send();
      else logger.error({ issues: r.issues }, `${what}: the data failed its schema; not sent`);
    },
    (error: unknown) => logger.error({ err: error }, `${what}: the schema failed; not sent`),
  );
}

function describe(result: { readonly issues: readonly { message: string; path: readonly (string | number)[] }[] }): string {
  return result.issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

/** A schema that threw is a bug on this side: logged, and the request fails with INTERNAL. */
function internal(error: unknown, logger: Logger): RequestError {
  logger.error({ err: error }, "a reply schema threw while checking a client's reply");
  return new RequestError(ErrorCode.INTERNAL);
}
