/**
 * The resume options live in src/options/resume.ts (below the server, which validates them in
 * createServer); re-exported here so the resume modules keep one import path.
 */
export {
  type HistoryOptions,
  RESUME_DEFAULTS,
  type ResolvedResumeOptions,
  type ResumeOptions,
  resolveResumeOptions,
} from "../options/resume.js";
