/**
 * Protocol limits and defaults shared by server and client, and the nesting-depth check both apply
 * to every decoded frame (JSON.parse accepts any depth; deep values make later recursive code slow
 * or blow the stack).
 */

/**
 * The default maximum nesting depth of a frame. The frame array itself counts as depth 1, so
 * `[0, "e", { a: [1] }]` has depth 3; scalars add nothing.
 * @example
 * withinDepth(JSON.parse(text), MAX_FRAME_DEPTH);
 */
export const MAX_FRAME_DEPTH = 32;

/**
 * The default request timeout in milliseconds, the same in both directions.
 * @example
 * setTimeout(() => settle("TIMEOUT"), DEFAULT_REQUEST_TIMEOUT_MS);
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * The default invalid-frame allowance: after this many invalid frames within
 * {@link INVALID_FRAME_WINDOW_MS} the server closes the socket with 1008.
 * @example
 * if (++invalid >= MAX_INVALID_FRAMES) socket.close(CloseCode.POLICY, "too many invalid frames");
 */
export const MAX_INVALID_FRAMES = 10;

/**
 * The window, in milliseconds, over which {@link MAX_INVALID_FRAMES} is counted.
 * @example
 * const windowStart = Date.now() - INVALID_FRAME_WINDOW_MS;
 */
export const INVALID_FRAME_WINDOW_MS = 60_000;

/**
 * True when `value` nests at most `maxDepth` arrays/objects deep (a scalar has depth 0, `[]` and
 * `{}` depth 1). Stops descending as soon as the limit is passed, so a hostile value costs at most
 * `maxDepth` stack frames, however deep it is.
 * @example
 * withinDepth([0, "e", { a: 1 }], 2); // true
 * withinDepth([[[[]]]], 3); // false
 */
export function withinDepth(value: unknown, maxDepth: number = MAX_FRAME_DEPTH): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (maxDepth < 1) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!withinDepth(item, maxDepth - 1)) return false;
    return true;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && !withinDepth((value as Record<string, unknown>)[key], maxDepth - 1)) return false;
  }
  return true;
}
