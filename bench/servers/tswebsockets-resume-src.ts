/**
 * bench/servers/tswebsockets-resume.ts with the library loaded from src/ through tsx instead of the
 * built package: run by the runner as server "tswebsockets-resume-src" (only when named), for an
 * A/B of what the benchmark measured before it ran the built package.
 */
process.env.TSWS_BENCH_FROM = "src";
await import("./tswebsockets-resume.js");
