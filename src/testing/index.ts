/**
 * "tswebsockets/testing": a test client connected in memory (no port) through the server's real
 * upgrade path, with the client's methods and ways to wait for what the server sends.
 */
export { UpgradeRefused } from "../errors.js";
export { RequestError } from "../protocol/request-error.js";
export { testClient } from "./test-client.js";
export type { RawMessage, TestClient, TestClientOptions, WaitOptions } from "./types.js";
