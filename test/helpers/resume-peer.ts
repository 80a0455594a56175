// A resumable tsws.v1 client built on a raw `ws` socket, speaking the protocol as docs/resume.md
// describes it (the server's tests check frames, seqs and forged tokens with it, which the real
// client, src/client/, rightly hides; test/client-resume*.test.ts use that one): keeps the session token and the
// last seq (and epoch, once told) of every stream, offers `tsws-resume.<token>` on reconnect and
// sends its positions as the first frame; records every push, gap and control frame.
import { once } from "node:events";
import { WebSocket } from "ws";

export interface Push {
  readonly stream: string;
  readonly seq: number;
  readonly event: string;
  readonly data: unknown;
}

export class ResumePeer {
  url: string;
  ws!: WebSocket;
  sid: string | undefined;
  token: string | undefined;
  /**
   * The token that took the session at the last `resumed` (by its `via`), offered after `token`
   * as the bundled client does (it still resumes the session after a late take of it); undefined
   * after a `welcome`.
   */
  fallback: string | undefined;
  readonly positions = new Map<string, [number, string | undefined]>();
  readonly pushes: Push[] = [];
  readonly gaps: Record<string, unknown>[] = [];
  readonly controls: unknown[][] = [];
  readonly frames: unknown[][] = [];
  /** Whether it answers `resumed` with `[9, "confirm"]`, as the bundled client does (false: a client that never got the frame). */
  confirms = true;
  /** The close code and reason of the last connection, once closed. */
  closed: [number, string] | undefined;
  /** Called when a connection closes (not called for close() of this side). */
  onDrop: (() => void) | undefined;
  #closing = false;
  /** The tokens the current connection offered. */
  #offered: (string | undefined)[] = [];
  /** Resolved by the next welcome or resumed frame. */
  #ready: { resolve: () => void; promise: Promise<void> } | undefined;
  #waiters: { match: (f: unknown[]) => boolean; resolve: (f: unknown[]) => void }[] = [];

  constructor(url: string) {
    this.url = url;
  }

  /**
   * A second peer for `url` holding this one's token, id and positions: the same client
   * reconnecting (elsewhere, or twice at once) while this connection may still look open.
   */
  clone(url: string): ResumePeer {
    const q = new ResumePeer(url);
    q.token = this.token;
    q.fallback = this.fallback;
    q.sid = this.sid;
    for (const [stream, pos] of this.positions) q.positions.set(stream, pos);
    return q;
  }

  /** Connects (offering the token when there is one); resolves on welcome or resumed. */
  async connect(opts: { headers?: Record<string, string>; sendPositions?: boolean } = {}): Promise<void> {
    const offered = [this.token, this.fallback].filter((t) => t !== undefined).map((t) => `tsws-resume.${t}`);
    const protocols = this.token === undefined ? ["tsws.v1"] : ["tsws.v1", ...offered];
    this.#offered = [this.token, this.fallback];
    const ws = new WebSocket(this.url, protocols, { headers: opts.headers });
    this.ws = ws;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#ready = { resolve, promise };
    ws.on("error", () => {});
    this.closed = undefined;
    ws.on("close", (code: number, reason: Buffer) => {
      if (this.ws === ws) this.closed = [code, reason.toString()];
      if (!this.#closing && this.ws === ws) this.onDrop?.();
    });
    ws.on("message", (data: Buffer) => this.#frame(JSON.parse(data.toString()) as unknown[]));
    // Closed before welcome or resumed (another resume with the same token took the session first).
    const shut = once(ws, "close").then(([code, reason]) => {
      throw new Error(`closed before welcome or resumed: ${code} ${String(reason)}`);
    });
    shut.catch(() => {});
    await Promise.race([once(ws, "open"), shut]);
    if (this.token !== undefined && opts.sendPositions !== false) {
      const pos: Record<string, unknown> = {};
      for (const [stream, [seq, epoch]] of this.positions) pos[stream] = epoch === undefined ? [seq] : [seq, epoch];
      ws.send(JSON.stringify([9, "pos", pos]));
    }
    await Promise.race([promise, shut]);
  }

  send(frame: unknown[]): void {
    this.ws.send(JSON.stringify(frame));
  }

  next(match: (f: unknown[]) => boolean, ms = 5000): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms`)), ms);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Drops the TCP connection without a close frame (a network failure, as the server sees it). */
  drop(): void {
    (this.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
  }

  close(): void {
    this.#closing = true;
    this.ws.close();
  }

  /** Seqs received per stream, in arrival order. */
  seqs(stream: string): number[] {
    return this.pushes.filter((p) => p.stream === stream).map((p) => p.seq);
  }

  #frame(frame: unknown[]): void {
    this.frames.push(frame);
    if (frame[0] === 4) {
      const [, stream, seq, event, data] = frame as [4, string, number, string, unknown];
      this.pushes.push({ stream, seq, event, data });
      const known = this.positions.get(stream);
      this.positions.set(stream, [seq, known?.[1]]);
    } else if (frame[0] === 9) {
      this.controls.push(frame);
      const data = (frame[2] ?? {}) as Record<string, unknown>;
      if (frame[1] === "welcome" || frame[1] === "resumed") {
        this.sid = data.sid as string;
        this.token = data.token as string;
        if (frame[1] === "welcome") {
          this.positions.clear();
          this.fallback = undefined;
        } else {
          this.fallback = this.#offered[data.via === 1 ? 1 : 0];
          if (this.confirms) this.ws.send('[9,"confirm"]');
        }
        for (const [stream, [seq, epoch]] of Object.entries((data.positions ?? {}) as Record<string, [number, string]>)) {
          this.positions.set(stream, [seq, epoch]);
        }
        this.#ready?.resolve();
      } else if (frame[1] === "gap") {
        this.gaps.push(data);
        if (data.stream === undefined) this.positions.clear();
        else if (typeof data.epoch === "string") {
          const known = this.positions.get(data.stream as string);
          this.positions.set(data.stream as string, [known?.[0] ?? 0, data.epoch]);
        }
      }
    }
    for (const w of [...this.#waiters]) {
      if (w.match(frame)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  }
}
