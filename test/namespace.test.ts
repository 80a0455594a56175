import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, ConfigError, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { stripQuery } from "../src/routing/router.js";
import { Client, refusedStatus, start } from "./helpers.js";

/** Replies with what the server knows of the socket's route. */
class Reporter extends BaseHandler {
  static onMessage(socket: Socket, _message: Message) {
    socket.send(JSON.stringify({ handler: this.name, path: socket.path, params: socket.params }));
  }
}

@Namespace("/echo/")
class Echo extends Reporter {}

@Namespace("/room/:name/user/:id")
class Room extends Reporter {}

@Namespace("/other")
// biome-ignore lint/correctness/noUnusedVariables: reached only through the default handler list
class Other extends Reporter {}

@Namespace("/café/:name")
class Cafe extends Reporter {}

// Created before any other class below is decorated: serves exactly the four above.
const byDefault = createServer({ host: "127.0.0.1", port: 0 });

async function ask(url: string): Promise<{ handler: string; path: string; params: Record<string, string> }> {
  const client = await Client.open(url);
  client.send("?");
  const [reply] = await client.received(1);
  await client.close();
  return JSON.parse(reply as string);
}

describe("createServer() without handlers", () => {
  let url: string;
  before(async () => (url = await start(byDefault)));
  after(() => byDefault.close());

  it("serves every class decorated so far", async () => {
    assert.equal((await ask(`${url}/echo/`)).handler, "Echo");
    assert.equal((await ask(`${url}/room/a/user/1`)).handler, "Room");
    assert.equal((await ask(`${url}/other`)).handler, "Other");
  });
});

describe("routing", () => {
  const server = createServer({ handlers: [Echo, Room, Cafe], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("captures :name segments into params, %-decoded", async () => {
    const reply = await ask(`${url}/room/caf%C3%A9%20au%20lait/user/42`);
    assert.deepEqual(reply, { handler: "Room", path: "/room/caf%C3%A9%20au%20lait/user/42", params: { name: "café au lait", id: "42" } });
  });

  it("ignores the query string", async () => {
    assert.deepEqual(await ask(`${url}/echo/?a=1&b=/room/x`), { handler: "Echo", path: "/echo/", params: {} });
    assert.deepEqual((await ask(`${url}/room/r/user/7?x=y`)).params, { name: "r", id: "7" });
  });

  it("refuses unknown paths with 404 before any handshake", async () => {
    for (const path of ["/nope", "/echo", "/echo/more", "/room/a/user", "/room//user/1", "/room/a/user/1/x", "/other"]) {
      assert.equal(await refusedStatus(`${url}${path}`), 404, path);
    }
  });

  it("matches literal segments whatever their %-encoding, and never splits a segment on an encoded slash", async () => {
    // The client encodes "/café/..." as "/caf%C3%A9/..."; a hand-written URL may use lower-case hex.
    assert.deepEqual((await ask(`${url}/café/zoë`)).params, { name: "zoë" });
    assert.equal((await ask(`${url}/caf%c3%a9/x`)).handler, "Cafe");
    assert.equal((await ask(`${url}/%65cho/`)).handler, "Echo");
    assert.deepEqual((await ask(`${url}/room/a%2Fb/user/1`)).params, { name: "a/b", id: "1" });
    assert.equal(await refusedStatus(`${url}/room%2Fa/user/1`), 404);
    assert.equal(await refusedStatus(`${url}/echo%2F`), 404);
  });

  it("refuses a malformed %-escape in a parameter with 404", async () => {
    assert.equal(await refusedStatus(`${url}/room/%E0%A4%A/user/1`), 404);
  });
});

describe("the base URI", () => {
  const viaOption = createServer({ handlers: [Echo, Room], host: "127.0.0.1", port: 0, baseUri: "/ws/" });
  const saved = process.env.WEBSOCKET_BASE_URI;
  process.env.WEBSOCKET_BASE_URI = "/api/v1";
  const viaEnv = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
  if (saved === undefined) delete process.env.WEBSOCKET_BASE_URI;
  else process.env.WEBSOCKET_BASE_URI = saved;
  let optionUrl: string;
  let envUrl: string;
  before(async () => {
    optionUrl = await start(viaOption);
    envUrl = await start(viaEnv);
  });
  after(() => Promise.all([viaOption.close(), viaEnv.close()]));

  it("prefixes every namespace when given as an option", async () => {
    assert.deepEqual(await ask(`${optionUrl}/ws/echo/`), { handler: "Echo", path: "/echo/", params: {} });
    assert.deepEqual((await ask(`${optionUrl}/ws/room/r/user/1`)).params, { name: "r", id: "1" });
    for (const path of ["/echo/", "/wsecho/", "/ws", "/ws/"]) assert.equal(await refusedStatus(`${optionUrl}${path}`), 404, path);
  });

  it("comes from WEBSOCKET_BASE_URI when the option is not given", async () => {
    assert.equal((await ask(`${envUrl}/api/v1/echo/`)).handler, "Echo");
    assert.equal(await refusedStatus(`${envUrl}/echo/`), 404);
  });
});

describe("registration", () => {
  it("refuses two handlers on one path, naming the path", () => {
    @Namespace("/dup/")
    class First extends BaseHandler {}
    @Namespace("/dup/")
    class Second extends BaseHandler {}
    assert.throws(
      () => createServer({ handlers: [First, Second], port: 0 }),
      (e: unknown) => e instanceof ConfigError && e.code === "TSWS_DUPLICATE_PATH" && e.message.includes('"/dup/"'),
    );
  });

  it("counts /a/:x and /a/:y as the same path", () => {
    @Namespace("/a/:x")
    class X extends BaseHandler {}
    @Namespace("/a/:y")
    class Y extends BaseHandler {}
    assert.throws(
      () => createServer({ handlers: [X, Y], port: 0 }),
      (e: unknown) => e instanceof ConfigError && e.message.includes('"/a/:y"') && e.message.includes('"/a/:x"'),
    );
  });

  it("refuses a handler without @Namespace, naming it", () => {
    class Undecorated extends BaseHandler {}
    assert.throws(
      () => createServer({ handlers: [Undecorated], port: 0 }),
      (e: unknown) => e instanceof ConfigError && e.message.includes("Undecorated"),
    );
  });

  it("does not let a subclass inherit its parent's namespace", () => {
    class Child extends Echo {}
    assert.throws(() => createServer({ handlers: [Child], port: 0 }), ConfigError);
  });

  it("refuses a path that does not start with /", () => {
    assert.throws(() => Namespace("chat"), TypeError);
  });
});

describe("two servers in one process", () => {
  const one = createServer({ handlers: [Echo], host: "127.0.0.1", port: 0 });
  const two = createServer({ handlers: [Room], host: "127.0.0.1", port: 0 });
  let oneUrl: string;
  let twoUrl: string;
  before(async () => {
    oneUrl = await start(one);
    twoUrl = await start(two);
  });
  after(() => Promise.all([one.close(), two.close()]));

  it("serve their own handlers only", async () => {
    assert.equal((await ask(`${oneUrl}/echo/`)).handler, "Echo");
    assert.equal((await ask(`${twoUrl}/room/r/user/1`)).handler, "Room");
    assert.equal(await refusedStatus(`${oneUrl}/room/r/user/1`), 404);
    assert.equal(await refusedStatus(`${twoUrl}/echo/`), 404);
  });
});

describe("stripQuery", () => {
  it("drops the query string, and only that", () => {
    assert.equal(stripQuery("/chat/lobby?token=1&x=?"), "/chat/lobby");
    assert.equal(stripQuery("/chat/lobby"), "/chat/lobby");
    assert.equal(stripQuery("/?"), "/");
  });
});
