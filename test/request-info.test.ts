import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { RequestInfo } from "../src/types.js";
import { requestInfo } from "../src/upgrade/request-info.js";

describe("requestInfo", () => {
  const http = createHttpServer((req: IncomingMessage, res) => {
    seen.push(requestInfo(req));
    res.end();
  });
  const seen: RequestInfo[] = [];
  let port: number;
  before(async () => {
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    port = (http.address() as AddressInfo).port;
  });
  after(() => http.close());

  it("keeps the url, every header value and the remote address, for repeated and unique values alike", async () => {
    for (const agent of ["agent-a", "agent-a", "agent-b"]) {
      const response = await fetch(`http://127.0.0.1:${port}/chat?x=1`, { headers: { "user-agent": agent, "x-token": `t-${agent}` } });
      await response.text();
    }
    assert.deepEqual(
      seen.map((r) => [r.url, r.headers["user-agent"], r.headers["x-token"], r.headers.host, r.remoteAddress]),
      ["agent-a", "agent-a", "agent-b"].map((agent) => ["/chat?x=1", agent, `t-${agent}`, `127.0.0.1:${port}`, "127.0.0.1"]),
    );
  });

  it("lets go of the handshake's unique key, and keeps the remote address once the TCP socket dropped its cached copy", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/ws`, { headers: { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    await response.text();
    const record = seen.at(-1) as RequestInfo;
    assert.equal(record.headers["sec-websocket-key"], undefined);
    assert.equal(record.remoteAddress, "127.0.0.1");
    assert.equal(record.url, "/ws");
  });
});
