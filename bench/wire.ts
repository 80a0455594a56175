import { connect, type Socket as TcpSocket } from "node:net";
import { performance } from "node:perf_hooks";

/**
 * The light load-generator client: a raw TCP socket that does the WebSocket handshake itself,
 * writes pre-built masked frames and reads only frame headers, so that the server under test is
 * what saturates. It speaks plain WebSocket (tswebsockets, raw ws) or the Engine.IO/Socket.IO
 * text framing over it (`42["event","data"]`, answering pings), never the polling transport.
 */

/** Which protocol a server speaks on top of WebSocket. */
export type Protocol = "ws" | "sio";
/** The endpoints every benchmark server offers: echo, a room, request/reply. */
export type Endpoint = "echo" | "room" | "rpc";

/**
 * Called for each data message a server sends: the payload lies in `buf[start, end)`; `at` is when
 * the read that brought it returned (performance.now(), ms), one clock reading per read rather
 * than per message: every message of a read arrived at once, and at hundreds of thousands of
 * messages a second the generator's time is better spent reading.
 */
export type OnMessage = (conn: Conn, buf: Buffer, start: number, end: number, at: number) => void;

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const OP_TEXT = 1;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;

/** A masked client frame, built once and written many times. */
export function maskedFrame(payload: Buffer, opcode = OP_TEXT): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  MASK.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = (payload[i] as number) ^ (MASK[i & 3] as number);
  return frame;
}

/** The frame that carries one application message in a protocol (Socket.IO wraps it in an event). */
export function messageFrame(protocol: Protocol, event: string, data: string): Buffer {
  const text = protocol === "ws" ? data : `42${JSON.stringify([event, data])}`;
  return maskedFrame(Buffer.from(text));
}

/**
 * The frame of one request with id `id` (request/reply scenario): a tsws.v1 request frame
 * `[1,id,"echo",data]` for WebSocket servers (raw ws echoes it back as it is), an Engine.IO
 * message with a Socket.IO ack id `42id["echo",data]` for Socket.IO (answered by `43id[data]`).
 */
export function requestFrame(protocol: Protocol, id: number, data: unknown): Buffer {
  const text = protocol === "ws" ? JSON.stringify([1, id, "echo", data]) : `42${id}${JSON.stringify(["echo", data])}`;
  return maskedFrame(Buffer.from(text));
}

/** Where the application data starts inside a message payload (after `42["e","`). */
export function dataOffset(protocol: Protocol, event: string): number {
  return protocol === "ws" ? 0 : 2 + JSON.stringify([event, ""]).length - 2;
}

/**
 * Every connection reads into this one buffer (net's `onread`): no Buffer and no stream machinery
 * per read, which halves the client's CPU per small message. Reads are handled synchronously, and
 * an incomplete frame left at the end is copied out.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const CLOSE_FRAME = maskedFrame(Buffer.from([0x03, 0xe8]), OP_CLOSE);
const SIO_PONG = maskedFrame(Buffer.from("3"));
const SIO_CONNECT = maskedFrame(Buffer.from("40"));

/**
 * The loopback source address for connection `i`, to spread connections over 250 of them. A
 * closed connection holds its port in TIME_WAIT for a minute, and one source address has about
 * 28,000 ports: thousands of handshakes per second from one address would run out within seconds.
 * @example
 * open({ port, path, protocol: "ws", localAddress: sourceAddress(i), onMessage });
 */
export const sourceAddress = (i: number): string => `127.0.0.${2 + (i % 250)}`;

/** Options of {@link open}. */
export interface OpenOptions {
  readonly port: number;
  readonly path: string;
  readonly protocol: Protocol;
  readonly localAddress?: string;
  /** Subprotocols offered in the handshake (`Sec-WebSocket-Protocol`). */
  readonly subprotocols?: readonly string[];
  readonly onMessage: OnMessage;
}

/**
 * One client connection. `ready` resolves once the server has accepted it: after the 101 for
 * WebSocket, after Socket.IO's namespace connect acknowledgement ("40…") for Socket.IO.
 */
export class Conn {
  readonly tcp: TcpSocket;
  readonly ready: Promise<void>;
  /** Free per-connection slots for the scenario (a ring of send times, a counter). */
  times: Float64Array | undefined;
  head = 0;
  tail = 0;
  #protocol: Protocol;
  #onMessage: OnMessage;
  #state: "http" | "eio" | "open" = "http";
  #rest: Buffer | undefined;
  #at = 0;
  #resolve!: () => void;
  #reject!: (error: Error) => void;

  constructor(options: OpenOptions) {
    this.#protocol = options.protocol;
    this.#onMessage = options.onMessage;
    this.ready = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => {}); // a failure is seen by whoever awaits `ready`, not as an unhandled rejection
    this.tcp = connect({
      host: "127.0.0.1",
      port: options.port,
      localAddress: options.localAddress,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number, buf: Uint8Array) => {
          this.#data(Buffer.from(buf.buffer, buf.byteOffset, bytes));
          return true;
        },
      },
    });
    this.tcp.on("error", (error) => this.#reject(error));
    this.tcp.on("close", () => this.#reject(new Error("closed before ready")));
    this.tcp.write(
      `GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        (options.subprotocols === undefined ? "" : `Sec-WebSocket-Protocol: ${options.subprotocols.join(", ")}\r\n`) +
        "\r\n",
    );
  }

  /** Writes pre-built frames. */
  write(frames: Buffer): void {
    this.tcp.write(frames);
  }

  /** Starts the closing handshake; the server answers and closes the TCP connection. */
  close(): void {
    if (!this.tcp.destroyed) this.tcp.end(CLOSE_FRAME);
  }

  #data(chunk: Buffer): void {
    this.#at = performance.now();
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let pos = 0;
    if (this.#state === "http") {
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1) {
        this.#rest = Buffer.from(buf);
        return;
      }
      if (buf.toString("latin1", 9, 12) !== "101") {
        this.#reject(new Error(`handshake refused: ${buf.toString("latin1", 0, end)}`));
        this.tcp.destroy();
        return;
      }
      pos = end + 4;
      if (this.#protocol === "ws") {
        this.#state = "open";
        this.#resolve();
      } else {
        this.#state = "eio";
      }
    }
    while (pos + 2 <= buf.length) {
      const opcode = (buf[pos] as number) & 0x0f;
      let len = (buf[pos + 1] as number) & 0x7f;
      let start = pos + 2;
      if (len === 126) {
        if (start + 2 > buf.length) break;
        len = buf.readUInt16BE(start);
        start += 2;
      } else if (len === 127) {
        if (start + 8 > buf.length) break;
        len = Number(buf.readBigUInt64BE(start));
        start += 8;
      }
      const end = start + len;
      if (end > buf.length) break;
      pos = end;
      if (opcode === OP_TEXT || opcode === 2) this.#frame(buf, start, end);
      else if (opcode === OP_PING) this.tcp.write(maskedFrame(buf.subarray(start, end), OP_PONG));
      else if (opcode === OP_CLOSE) this.tcp.end();
    }
    if (pos < buf.length) this.#rest = Buffer.from(buf.subarray(pos)); // a copy: `buf` is the shared read buffer
  }

  #frame(buf: Buffer, start: number, end: number): void {
    if (this.#protocol === "ws") {
      this.#onMessage(this, buf, start, end, this.#at);
      return;
    }
    // Engine.IO packet types: 0 open, 2 ping, 4 message; Socket.IO inside 4: 0 connect, 2 event.
    const type = buf[start];
    if (type === 0x32 /* "2" ping */) {
      this.tcp.write(SIO_PONG);
    } else if (type === 0x34 /* "4" */) {
      const inner = buf[start + 1];
      if (inner === 0x32 || inner === 0x33 /* event or ack */) this.#onMessage(this, buf, start, end, this.#at);
      else if (inner === 0x30 && this.#state === "eio") {
        this.#state = "open";
        this.#resolve();
      }
    } else if (type === 0x30 /* "0" open */) {
      this.tcp.write(SIO_CONNECT);
    }
  }
}

/** Opens one connection (see {@link Conn}). */
export function open(options: OpenOptions): Conn {
  return new Conn(options);
}

/** The request path of a scenario's endpoint ("/echo", "/room" or "/rpc") for a protocol. */
export function pathFor(protocol: Protocol, endpoint: Endpoint): string {
  return protocol === "ws" ? `/${endpoint}` : `/socket.io/?EIO=4&transport=websocket&endpoint=${endpoint}`;
}
