/**
 * The options of resumable sessions, `createServer({ resume: { ttl, history } })`: the resume window
 * and how much history each stream keeps. Times are in milliseconds.
 */
import { type Check, type Checks, isInt, validate } from "./validate.js";

/**
 * How much each stream (a room with history, or one session's inbox) keeps for replay.
 * @example
 * const history: HistoryOptions = { size: 100, ttl: 300_000 }; // the defaults
 */
export interface HistoryOptions {
  /** The most messages a stream keeps; older ones are trimmed. Default 100. */
  size?: number;
  /** How long a message stays replayable, in ms. Default 300_000 (5 minutes). */
  ttl?: number;
}

/**
 * `createServer({ resume })`: a client that reconnects within `ttl` keeps its session.
 * @example
 * createServer({ handlers: [Chat], resume: { ttl: 60_000, history: { size: 500 } } });
 */
export interface ResumeOptions {
  /** How long a closed session can still be resumed, in ms. Default 120_000 (2 minutes). */
  ttl?: number;
  /** Per-stream history bounds. */
  history?: HistoryOptions;
}

/**
 * Resume options with every default applied.
 * @example
 * const { ttl, history } = resolveResumeOptions({}); // 120_000, { size: 100, ttl: 300_000 }
 */
export interface ResolvedResumeOptions {
  readonly ttl: number;
  readonly history: Readonly<Required<HistoryOptions>>;
}

/** The defaults DESIGN.md fixes. @example RESUME_DEFAULTS.ttl // 120_000 */
export const RESUME_DEFAULTS: ResolvedResumeOptions = Object.freeze({
  ttl: 120_000,
  history: Object.freeze({ size: 100, ttl: 300_000 }),
});

// A day bounds the windows: longer than that is a persistence layer, not a resume window, and keeps
// deadlines far from the 2^31 ms limit of one timer's delay in spirit (timers are re-armed anyway).
const DAY = 86_400_000;
const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);

const resumeChecks: Checks<ResumeOptions> = {
  ttl: [isInt(1_000, DAY), "a number of milliseconds from 1000 to 86400000"],
  history: [isObject, "an object { size?, ttl? }"],
};
const historyChecks: Checks<HistoryOptions> = {
  size: [isInt(1, 1_000_000), "an integer from 1 to 1000000"],
  ttl: [isInt(1_000, DAY), "a number of milliseconds from 1000 to 86400000"],
};

/**
 * Validates `createServer`'s `resume` option and applies the defaults. Throws a TypeError naming
 * the option by its full path, e.g. `createServer: option "resume.history.size" must be ...`.
 * @example
 * resolveResumeOptions({ history: { size: 0 } }); // TypeError: createServer: option "resume.history.size" must be an integer from 1 to 1000000, got number 0
 */
export function resolveResumeOptions(options: ResumeOptions): ResolvedResumeOptions {
  validateUnder("resume", resumeChecks, options);
  if (options.history !== undefined) validateUnder("resume.history", historyChecks, options.history);
  return {
    ttl: options.ttl ?? RESUME_DEFAULTS.ttl,
    history: {
      size: options.history?.size ?? RESUME_DEFAULTS.history.size,
      ttl: options.history?.ttl ?? RESUME_DEFAULTS.history.ttl,
    },
  };
}

/** Runs validate() with every key prefixed, so the TypeError names the nested option in full. */
function validateUnder<O extends object>(prefix: string, table: Checks<O>, options: O): void {
  if (!isObject(options)) throw new TypeError(`createServer: option "${prefix}" must be an object, got ${String(options)}`);
  const prefixedTable: Record<string, Check> = {};
  for (const [key, check] of Object.entries(table)) prefixedTable[`${prefix}.${key}`] = check as Check;
  const prefixed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) prefixed[`${prefix}.${key}`] = value;
  validate(prefixedTable as Checks<Record<string, unknown>>, prefixed, "createServer(options)");
}
