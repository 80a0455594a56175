import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Server } from "../src/index.js";
import { echoOnce, recordingLogger, startEcho } from "./fixtures/echo.js";
import { RawPeer } from "./fixtures/raw-peer.js";

describe("maxConnectionsPerAddress", () => {
  const logger = recordingLogger();
  let server: Server;
  let port: number;
  const peers: RawPeer[] = [];
  before(async () => {
    ({ server, port } = await startEcho({ logger, maxConnectionsPerAddress: 2 }));
  });
  after(async () => {
    for (const peer of peers) peer.destroy();
    await server.close();
  });

  async function connectFrom(address: string): Promise<RawPeer> {
    const peer = await RawPeer.connect(port, { path: "/echo" }, address);
    peers.push(peer);
    return peer;
  }

  it("refuses the third connection from one address with 429, before the upgrade", async () => {
    assert.equal((await connectFrom("127.0.0.2")).status, 101);
    assert.equal((await connectFrom("127.0.0.2")).status, 101);
    const third = await connectFrom("127.0.0.2");
    assert.equal(third.status, 429);
    assert.match(third.response, /\r\nRetry-After: \d+/);
    assert.ok(logger.lines.includes("upgrade refused: too many connections from 127.0.0.2"));
  });

  it("still accepts other addresses", async () => {
    assert.equal((await connectFrom("127.0.0.3")).status, 101);
    assert.equal((await connectFrom("127.0.0.4")).status, 101);
  });

  it("accepts that address again once one of its connections has closed", async () => {
    const first = peers[0] as RawPeer;
    first.destroy();
    await first.ended;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await connectFrom("127.0.0.2")).status, 101);
    assert.equal((await connectFrom("127.0.0.2")).status, 429);
  });
});

describe("maxConnections", () => {
  let server: Server;
  let port: number;
  const peers: RawPeer[] = [];
  before(async () => {
    ({ server, port } = await startEcho({ maxConnections: 3 }));
  });
  after(async () => {
    for (const peer of peers) peer.destroy();
    await server.close();
  });

  it("refuses upgrades past the total with 503, and serves again once a connection closes", async () => {
    for (let i = 0; i < 3; i++) {
      const peer = await RawPeer.connect(port, { path: "/echo" }, `127.0.0.${10 + i}`);
      peers.push(peer);
      assert.equal(peer.status, 101);
    }
    const over = await RawPeer.connect(port, { path: "/echo" }, "127.0.0.20");
    assert.equal(over.status, 503);
    (peers[0] as RawPeer).destroy();
    await (peers[0] as RawPeer).ended;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await echoOnce(port), "still here");
  });
});
