import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { Client, start, until } from "./helpers.js";

/** Each client names itself in the URL; commands drive rooms from the handler's side. */
const byName = new Map<string, Socket>();
const roomsAtClose = new Map<string, string[]>();
let closes = 0;

@Namespace("/member/:name")
class Member extends BaseHandler {
  static onConnect(socket: Socket) {
    byName.set(socket.params.name as string, socket);
  }
  static onMessage(socket: Socket, message: Message) {
    const [command, ...rooms] = String(message).split(" ");
    if (command === "join") for (const room of rooms) socket.join(room);
    else if (command === "leave") for (const room of rooms) socket.leave(room);
    socket.send(`rooms: ${[...socket.rooms].sort().join(",")}`);
  }
  static onClose(socket: Socket) {
    roomsAtClose.set(socket.params.name as string, [...socket.rooms].sort());
    closes++;
  }
}

describe("rooms", () => {
  const server = createServer({ handlers: [Member], host: "127.0.0.1", port: 0 });
  let url: string;
  const clients = new Map<string, Client>();
  /** Opens a member and runs one command, waiting for its reply. */
  async function member(name: string, command: string): Promise<Client> {
    const client = await Client.open(`${url}/member/${name}`);
    clients.set(name, client);
    client.send(command);
    await client.received(1);
    return client;
  }
  before(async () => {
    url = await start(server);
    await member("ann", "join red");
    await member("bob", "join red blue");
    await member("cat", "join blue");
    await member("dan", "join");
  });
  after(async () => {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await server.close();
  });

  /** Sends a marker to everyone in every room, so "not received" can be checked without waiting on time. */
  async function nextMessages(): Promise<Record<string, string>> {
    const counts = new Map([...clients].map(([name, c]) => [name, c.messages.length]));
    for (const socket of byName.values()) socket.send("marker");
    const out: Record<string, string> = {};
    for (const [name, client] of clients) {
      const start = counts.get(name) as number;
      await until(() => client.messages.includes("marker", start), `${name}'s marker`);
      const fresh = client.messages.slice(start, client.messages.indexOf("marker", start));
      client.messages.splice(start); // keep only what came before this round
      if (fresh.length > 0) out[name] = fresh.join("|");
    }
    return out;
  }

  it("lists each socket's rooms", () => {
    assert.deepEqual([...(byName.get("bob") as Socket).rooms].sort(), ["blue", "red"]);
    assert.deepEqual(clients.get("bob")?.messages, ["rooms: blue,red"]);
    assert.deepEqual([...(byName.get("dan") as Socket).rooms], []);
  });

  it("sends to(room) to its members only", async () => {
    server.to("red").send("to red");
    assert.deepEqual(await nextMessages(), { ann: "to red", bob: "to red" });
  });

  it("sends to(a).to(b) once to a socket in both rooms", async () => {
    server.to("red").to("blue").send("red or blue");
    assert.deepEqual(await nextMessages(), { ann: "red or blue", bob: "red or blue", cat: "red or blue" });
  });

  it("sends bytes as a binary frame", async () => {
    server.to("blue").send(Buffer.from([1, 2]));
    assert.deepEqual(await nextMessages(), { bob: "bytes:0102", cat: "bytes:0102" });
  });

  it("leaves out the socket given to except()", async () => {
    const bob = byName.get("bob") as Socket;
    server.to("red").except(bob).send("not bob");
    server.to("blue").except(bob.id).send("not bob either");
    assert.deepEqual(await nextMessages(), { ann: "not bob", cat: "not bob either" });
  });

  it("keeps operators immutable: except() returns a new one, the original still includes the socket", async () => {
    const red = server.to("red");
    const withoutAnn = red.except(byName.get("ann") as Socket);
    assert.notEqual(withoutAnn, red);
    const both = red.to("blue");
    assert.notEqual(both, red);
    red.send("all red");
    withoutAnn.send("red but ann");
    assert.deepEqual(await nextMessages(), { ann: "all red", bob: "all red|red but ann" });
    assert.deepEqual((await red.members()).sort(), [byName.get("ann")?.id, byName.get("bob")?.id].sort());
    assert.deepEqual(await withoutAnn.members(), [byName.get("bob")?.id]);
  });

  it("sends nothing to an empty or unknown room", async () => {
    server.to("nobody-here").send("lost");
    assert.deepEqual(await nextMessages(), {});
  });

  it("lets a socket leave a room", async () => {
    const bob = clients.get("bob") as Client;
    bob.send("leave red");
    await until(() => bob.messages.includes("rooms: blue"), "bob's reply");
    bob.messages.length = 0;
    server.to("red").send("red again");
    assert.deepEqual(await nextMessages(), { ann: "red again" });
  });

  it("empties rooms when their sockets close", async () => {
    assert.equal(server.roomCount, 2);
    const done = closes + clients.size;
    await Promise.all([...clients.values()].map((c) => c.close()));
    await until(() => closes === done, "every onClose");
    assert.equal(server.roomCount, 0);
    assert.deepEqual(roomsAtClose.get("bob"), ["blue"], "a socket's rooms stay readable in onClose");
    assert.deepEqual(await server.to("red").to("blue").members(), []);
  });
});

describe("rooms of two servers serving the same handler class", () => {
  const one = createServer({ handlers: [Member], host: "127.0.0.1", port: 0 });
  const two = createServer({ handlers: [Member], host: "127.0.0.1", port: 0 });
  after(() => Promise.all([one.close(), two.close()]));

  it("are separate: a broadcast on one server never reaches the other's sockets", async () => {
    const a = await Client.open(`${await start(one)}/member/one-a`);
    const b = await Client.open(`${await start(two)}/member/two-b`);
    a.send("join shared");
    b.send("join shared");
    await Promise.all([a.received(1), b.received(1)]);
    assert.equal(byName.get("one-a")?.server, one);
    assert.equal(byName.get("two-b")?.server, two);
    one.to("shared").send("from one");
    two.to("shared").send("from two");
    assert.deepEqual(await a.received(2), ["rooms: shared", "from one"]);
    assert.deepEqual(await b.received(2), ["rooms: shared", "from two"]);
    assert.deepEqual(await one.to("shared").members(), [byName.get("one-a")?.id]);
    await Promise.all([a.close(), b.close()]);
  });
});
