/**
 * ws 8 (lib/websocket.js) ends a connection's streams more than once: `socketOnEnd` calls `end()` on
 * its frame receiver (a Writable) and on the TCP socket, `socketOnClose` on the receiver again.
 * Called on a stream that has already finished (or been destroyed), `end()` changes nothing, but
 * Node builds an `ERR_STREAM_ALREADY_FINISHED` (or `ERR_STREAM_DESTROYED`) error with its stack
 * trace for a callback nobody passed, and drops it: one such error per connection closed by a TCP
 * FIN, three per connection closed by a closing handshake, ~5 µs each (node 20), as much as a
 * fifth of the CPU time of a short connection's handshake and close. {@link quietRedundantEnds}
 * gives both streams an `end()` that returns at once in exactly that case and otherwise does what
 * the stream's own does.
 */
import type { Writable } from "node:stream";

/**
 * `end()` for a stream whose own `end` would only build and drop an error: no arguments (so no
 * callback is owed that error), not corked (so there is nothing to uncork), already ending or
 * errored, and finished or destroyed: the branches of Node's `Writable.prototype.end` that do
 * nothing but make the error. Anything else goes to the stream's own `end`.
 */
function endUnlessDone(this: Writable, ...args: unknown[]): Writable {
  if (
    args.length === 0 &&
    this.writableCorked === 0 &&
    (this.writableEnded || this.errored !== null) &&
    (this.writableFinished || this.destroyed)
  ) {
    return this;
  }
  return (Object.getPrototypeOf(this) as Writable).end.apply(this, args as Parameters<Writable["end"]>);
}

/** The ws internals this reaches: its receiver and its socket (present in ws 1 to 8; skipped when absent). */
interface WsStreams {
  readonly _receiver?: unknown;
  readonly _socket?: unknown;
}

function isWritable(stream: unknown): stream is Writable {
  return typeof stream === "object" && stream !== null && typeof (stream as Writable).end === "function" && "writableFinished" in stream;
}

/**
 * Makes the redundant `end()` calls ws makes on `ws`'s receiver and socket cost nothing (see the
 * module comment). Call once, after the handshake (ws sets both in `setSocket`); a ws without them
 * is left as it is.
 * @example
 * quietRedundantEnds(connection); // in Connection.attach
 */
export function quietRedundantEnds(ws: object): void {
  const { _receiver: receiver, _socket: socket } = ws as WsStreams;
  if (isWritable(receiver)) receiver.end = endUnlessDone as Writable["end"];
  if (isWritable(socket)) socket.end = endUnlessDone as Writable["end"];
}
