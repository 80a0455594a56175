/**
 * "tswebsockets/client": the tsws.v1 client for browsers and Node (Node 20 passes ws' WebSocket).
 * No runtime dependency; it imports only the protocol and the contract's types.
 */
export { RequestError } from "../protocol/request-error.js";
export { connect } from "./client.js";
export type {
  Client,
  ClientOptions,
  ClientState,
  CloseInfo,
  EmitOptions,
  Gap,
  RequestOptions,
  WebSocketConstructor,
} from "./types.js";
