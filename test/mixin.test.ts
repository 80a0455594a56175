// MixinFail, through test clients connected in memory (tswebsockets/testing): the server never listens.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BaseMixin, createServer, type Message, MixinFail, mixins, Namespace, type Socket } from "../src/index.js";
import { testClient } from "../src/testing/index.js";
import { gate } from "./helpers.js";

describe("MixinFail", () => {
  const reached: string[] = [];
  const closed: string[] = [];
  let closedNotice = gate();
  class MembersOnly extends BaseMixin {
    static async onConnect(socket: Socket) {
      await new Promise((r) => setImmediate(r));
      if (socket.request.headers["x-member"] !== "yes") throw new MixinFail("login required");
    }
  }
  class NoSwearing extends BaseMixin {
    static onMessage(_socket: Socket, message: Message) {
      if (message === "darn") throw new MixinFail("mind your language", 4403);
      if (message === "long") throw new MixinFail("é".repeat(200), 4400);
      if (message === "reserved") throw new MixinFail("1006 cannot be sent", 1006);
      return undefined;
    }
  }
  class Later extends BaseMixin {
    static onConnect() {
      reached.push("later mixin");
    }
  }
  @Namespace("/members/")
  class Members extends mixins(Later, NoSwearing, MembersOnly) {
    static onConnect() {
      reached.push("handler onConnect");
    }
    static onMessage(socket: Socket, message: Message) {
      reached.push(`handler onMessage ${message}`);
      socket.send(message);
    }
    static onClose(socket: Socket) {
      closed.push(socket.id);
      closedNotice.open();
    }
  }
  const server = createServer({ handlers: [Members] });
  const member = { headers: { "x-member": "yes" } };
  after(() => server.close());

  it("closes with 1008 and the reason by default, stops the chain, and still runs onClose once", async () => {
    reached.length = 0;
    closed.length = 0;
    closedNotice = gate();
    const client = await testClient(server, "/members/");
    client.send("waiting behind onConnect");
    assert.deepEqual(await client.closed(), { code: 1008, reason: "login required" });
    await closedNotice.promise;
    assert.deepEqual(reached, [], "neither later mixins nor the handler ran");
    assert.equal(closed.length, 1);
    await assert.rejects(client.receive(), /closed \(1008\) before a raw message arrived/);
  });

  it("closes with a custom code, and the handler never sees the blocked message", async () => {
    reached.length = 0;
    closed.length = 0;
    closedNotice = gate();
    const client = await testClient(server, "/members/", member);
    client.send("hello");
    assert.equal(await client.receive(), "hello");
    client.send("darn");
    client.send("after");
    assert.deepEqual(await client.closed(), { code: 4403, reason: "mind your language" });
    await closedNotice.promise;
    assert.deepEqual(reached, ["later mixin", "handler onConnect", "handler onMessage hello"]);
    assert.equal(closed.length, 1);
  });

  it("keeps a close within the protocol's limits: a long reason is cut to 123 bytes, a reserved code becomes 1008", async () => {
    const long = await testClient(server, "/members/", member);
    long.send("long");
    const { code, reason } = await long.closed();
    assert.equal(code, 4400);
    assert.ok(Buffer.byteLength(reason) <= 123 && reason.startsWith("ééé"), reason);
    const reserved = await testClient(server, "/members/", member);
    reserved.send("reserved");
    assert.deepEqual(await reserved.closed(), { code: 1008, reason: "1006 cannot be sent" });
  });

  it("is an Error with a reason and a code", () => {
    const fail = new MixinFail("nope");
    assert.ok(fail instanceof Error);
    assert.equal(fail.name, "MixinFail");
    assert.equal(fail.reason, "nope");
    assert.equal(fail.code, 1008);
    assert.equal(new MixinFail("teapot", 4418).code, 4418);
  });
});
