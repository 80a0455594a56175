/**
 * What a resumable socket's close means for its session, read from the socket's close reason and
 * the code the server closed it with, if it did.
 */

/**
 * Close codes a server sends to have its client come back: 1012 (Service Restart) and 1013 (Try
 * Again Later), from the IANA WebSocket close code registry. Sent by `socket.close()`, they keep
 * the session, as a server shutdown does, so the client resumes (on this node or another).
 */
const COME_BACK = [1012, 1013];

/**
 * Closes that keep the session for its window: the network or the peer went away (a close frame
 * without a code, 1001 going away, a lost connection), the server is being replaced, or the app
 * closed the socket with a code that asks the client to come back (1012, 1013).
 * @param serverCode the code of the server's own close, undefined when it did not close it
 * @example
 * keepsSession("peer closed (1001)", undefined); // true; "peer closed (1000)" and "rate limit" are false
 * keepsSession("rebalancing", 1012); // true
 */
export function keepsSession(reason: string | undefined, serverCode: number | undefined): boolean {
  if (serverCode !== undefined && COME_BACK.includes(serverCode)) return true;
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
