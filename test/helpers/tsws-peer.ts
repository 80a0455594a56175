// A bare tsws.v1 peer for the server's tests: a real `ws` client offering the subprotocol that
// writes frames as JSON arrays and waits for the frames it receives, by predicate.
import { once } from "node:events";
import { WebSocket } from "ws";

export type Frame = readonly unknown[];

export class Peer {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly raw: (string | Buffer)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  /** Answers the server's requests: name → reply (a function may return `{ error: code }` or a promise). */
  answers = new Map<string, (data: unknown) => unknown>();

  constructor(url: string, protocols: string[] = ["tsws.v1"]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.raw.push(data);
        return;
      }
      const text = data.toString();
      this.raw.push(text);
      let frame: Frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (!Array.isArray(frame)) return;
      this.frames.push(frame);
      if (frame[0] === 1) void this.#answer(frame);
      for (const w of [...this.#waiters]) {
        if (w.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
    this.closed = new Promise((resolve) => this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on("error", () => {});
  }

  static async open(url: string, protocols?: string[]): Promise<Peer> {
    const peer = new Peer(url, protocols);
    await once(peer.ws, "open"); // rejects with the client's error (once() listens for "error")
    return peer;
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  send(frame: Frame | string | Buffer): void {
    this.ws.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The first frame (already received or still to come) that matches; rejects after `ms` or on close. */
  next(match: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames)}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** The answer (kind 2 or 3) to request `id`. */
  answer(id: number | null, ms?: number): Promise<Frame> {
    return this.next((f) => (f[0] === 2 || f[0] === 3) && f[1] === id, ms);
  }

  /** Sends request `id` and waits for its answer. */
  request(id: number, event: string, data?: unknown): Promise<Frame> {
    this.send(data === undefined ? [1, id, event] : [1, id, event, data]);
    return this.answer(id);
  }

  event(name: string, ms?: number): Promise<Frame> {
    return this.next((f) => f[0] === 0 && f[1] === name, ms);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }

  async #answer(frame: Frame): Promise<void> {
    const [, id, name, data] = frame;
    const answer = this.answers.get(name as string);
    if (answer === undefined) return;
    const result = (await answer(data)) as { error?: string; data?: unknown } | unknown;
    if (typeof result === "object" && result !== null && "error" in result) {
      const e = result as { error: string; data?: unknown };
      this.send(e.data === undefined ? [3, id, e.error] : [3, id, e.error, e.data]);
    } else if (result !== undefined) {
      this.send([2, id, result]);
    }
  }
}

/** A logger that keeps what it is told, to assert that faults were logged. */
export function recordingLogger() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const log = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg: msg ?? "" });
  return { lines, logger: { error: log("error"), warn: log("warn"), info: log("info"), debug: log("debug") } };
}
