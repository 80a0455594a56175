/**
 * The WebSocket close codes the tsws.v1 protocol uses. 1000-1011 are RFC 6455's; 4401 is ours,
 * in the 4000-4999 range RFC 6455 leaves to applications.
 */

/**
 * Close codes, by meaning.
 * - `NORMAL` (1000): a deliberate close by either side.
 * - `GOING_AWAY` (1001): the server shuts down or the page unloads; a client may reconnect.
 * - `POLICY` (1008): the peer broke a rule (for example 10 invalid frames within 60 s); a client
 *   does not reconnect blindly.
 * - `INTERNAL` (1011): an unexpected server fault.
 * - `SESSION_ENDED` (4401): the session is over (logged out, revoked, expired); a client must not
 *   reconnect without being told to.
 * @example
 * if (event.code === CloseCode.SESSION_ENDED || event.code === CloseCode.POLICY) stopReconnecting();
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  INTERNAL: 1011,
  SESSION_ENDED: 4401,
} as const;

/**
 * One of the close codes in {@link CloseCode}.
 * @example
 * const code: CloseCode = CloseCode.POLICY; // 1008
 */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
