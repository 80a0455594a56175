/**
 * Resumable sessions: options, the history and session ports with their in-memory implementations,
 * the gap logic and the reply cache. docs/resume.md says how the server wires them in.
 */
export {
  admitLive,
  DEFAULT_MAX_REPLAY,
  type Gap,
  type GapReason,
  planResume,
  planStream,
  resumeFrames,
  SESSION_EXPIRED,
  type StreamPlan,
} from "./gap-plan.js";
export {
  type Awaitable,
  type HistoryEntry,
  type HistoryLog,
  type HistoryWindow,
  inboxStream,
  pushBody,
  pushFrame,
  roomStream,
  type StreamName,
  type StreamPosition,
} from "./history-log.js";
export { MemoryHistory, type MemoryHistoryOptions } from "./memory-history.js";
export { MemorySessions } from "./memory-sessions.js";
export { type HistoryOptions, RESUME_DEFAULTS, type ResolvedResumeOptions, type ResumeOptions, resolveResumeOptions } from "./options.js";
export { REPLY_CACHE_SIZE, ReplyCache, type ReplyStep } from "./reply-cache.js";
export { ownerKey, type ReplyState, type SessionRecord, type SessionStore, type TakeRefusal, type TakeResult } from "./session-store.js";
export { issueSecret, issueToken, parseToken, resumeTokensOf, sameDigest, sameSecret, splitToken } from "./session-token.js";
