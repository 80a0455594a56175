/**
 * bench/servers/tswebsockets.ts with resumable sessions on (their defaults), for the handshakes
 * scenario: the generator offers tsws.v1 on /rpc and counts a handshake once the welcome frame (the
 * session's id and token) has arrived. Run by the runner as server "tswebsockets-resume".
 */
process.env.TSWS_BENCH_RESUME = "1";
await import("./tswebsockets.js");
