// "tswebsockets/otel": OpenTelemetry spans of a server, from its diagnostics channels.
// @opentelemetry/api is an optional peer dependency, loaded only by this entry point.
export { type TracingHandle, type TracingOptions, traceServer } from "./trace-server.js";
