// "tswebsockets/metrics": Prometheus metrics of a server, in the application's own prom-client
// registry. prom-client is an optional peer dependency, loaded only by this entry point.
export { collectMetrics, type MetricsHandle, type MetricsOptions } from "./collect.js";
