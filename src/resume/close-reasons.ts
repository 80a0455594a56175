/**
 * What a resumable socket's close means for its session, read from the socket's close reason.
 */

/**
 * Close reasons that keep the session for its window: the network or the peer went away (a close
 * frame without a code, 1001 going away, a lost connection), or the server is being replaced.
 * @example
 * keepsSession("peer closed (1001)"); // true; "peer closed (1000)" and "rate limit" are false
 */
export function keepsSession(reason: string | undefined): boolean {
  if (reason === undefined || reason === "heartbeat timeout" || reason === "server shutting down") return true;
  return reason.startsWith("peer closed") && !leftOnPurpose(reason);
}

/**
 * A close frame whose code the client chose: 1000 (normal closure: the bundled client's `close()`)
 * or an application code (3000–4999). The client is done with the session, which ends at once, as
 * Socket.IO keeps no state after `socket.disconnect()`; 1001, 1005 (no code, what the client sends
 * a link it gives up on) and 1006 (no close frame) keep it for a resume.
 * @example
 * leftOnPurpose("peer closed (4000: bye)"); // true
 */
export function leftOnPurpose(reason: string): boolean {
  return reason.startsWith("peer closed (1000") || /^peer closed \([34]\d{3}[:)]/.test(reason);
}
