/**
 * The frame that tells a fresh session's client its id and first resume token, and its write.
 */
import { messageChannel } from "../observe/channels.js";
import { ControlKind } from "../protocol/index.js";
import { textFrame } from "../socket/frames.js";
import { outboxOf, type Socket, trafficFor } from "../socket/socket.js";

/**
 * The welcome frame, byte for byte `encodeControl(ControlKind.WELCOME, { sid, token })`, written
 * without the array and object that would be built only to be encoded (one per fresh session).
 * @example
 * welcomeFrame("s1", "s1.AAAAAAAAAAAAAAAAAAAAAA"); // '[9,"welcome",{"sid":"s1","token":"s1.AAAAAAAAAAAAAAAAAAAAAA"}]'
 */
export function welcomeFrame(sid: string, token: string): string {
  return `[9,"${ControlKind.WELCOME}",{"sid":${JSON.stringify(sid)},"token":${JSON.stringify(token)}}]`;
}

/**
 * Writes the welcome as one prebuilt frame: with the 101 answer it is then one buffer more in the
 * handshake's write, not two. What observes a socket's sends (traffic totals, the message
 * channel) sees it as any send; outbound hooks never see protocol frames either way.
 * @example
 * sendWelcome(socket, welcomeFrame(socket.id, token));
 */
export function sendWelcome(socket: Socket, frame: string): void {
  if (trafficFor(socket).counting !== 0 || messageChannel.hasSubscribers) socket.send(frame);
  else outboxOf(socket).sendFrame([textFrame(frame)], frame);
}
