// onOutbound hooks see the push frames of resumable sessions (room history broadcasts, inbox
// messages, replays) as events, like the plain event frames they replace: a replacement keeps the
// stream and seq, DROP passes the seq over for that receiver (no gap), on the live path and in a replay.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import {
  BaseMixin,
  createServer,
  DROP,
  type EventSocket,
  events,
  handle,
  Namespace,
  type Outbound,
  type Server,
  type Socket,
} from "../src/index.js";
import { ResumePeer } from "./helpers/resume-peer.js";
import { start, until } from "./helpers.js";

const board = defineContract({
  client: {
    post: request(z.object({ text: z.string(), secret: z.string() }), z.null()),
    poke: request(z.object({ to: z.string() }), z.null()),
    join: request(z.object({ room: z.string() }), z.null()),
    postBoth: request(z.object({ text: z.string(), secret: z.string() }), z.null()),
  },
  server: { note: event(z.object({ text: z.string(), secret: z.string().optional() })) },
});

const roleOf = (socket: Socket) => new URL(socket.request.url, "http://x").searchParams.get("role") ?? "plain";

/** "muted" gets no notes; others get them without the secret, except "admin". */
class Redact extends BaseMixin {
  static onOutbound(socket: Socket, m: Outbound) {
    if (typeof m !== "object" || Buffer.isBuffer(m)) return undefined;
    const role = roleOf(socket);
    if (role === "muted") return DROP;
    if (role === "admin") return undefined;
    return { event: m.event, data: { text: (m.data as { text: string }).text } };
  }
}

@Namespace("/board")
class Board extends events(board, Redact) {
  static onConnect(socket: EventSocket<typeof board>) {
    socket.join("b");
  }
  static events = handle(board, {
    post(socket, { text, secret }) {
      socket.server.to("b").emit("note", { text, secret });
      return null;
    },
    join(socket, { room }) {
      socket.join(room);
      return null;
    },
    postBoth(socket, { text, secret }) {
      socket.server.to("b").to("c").emit("note", { text, secret });
      return null;
    },
    poke(socket, { to }) {
      (socket.server.getSocket(to) as EventSocket<typeof board> | undefined)?.emit("note", { text: "poke", secret: "s" });
      return null;
    },
  });
}

const notes = (peer: ResumePeer, stream: string) =>
  peer.pushes.filter((p) => p.stream === stream).map((p) => [p.seq, p.data] as [number, unknown]);

describe("onOutbound and the push frames of resumable sessions", () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer({ handlers: [Board], host: "127.0.0.1", port: 0, resume: { ttl: 2000, history: { size: 50 } } });
    url = `${await start(server)}/board`;
  });
  after(() => server.close());

  it("redact and drop per receiver, keeping stream and seq, live and in a replay", async () => {
    const admin = new ResumePeer(`${url}?role=admin`);
    const plain = new ResumePeer(`${url}?role=plain`);
    const muted = new ResumePeer(`${url}?role=muted`);
    for (const peer of [admin, plain, muted]) await peer.connect();
    admin.send([1, 1, "post", { text: "one", secret: "x" }]);
    await admin.next((f) => f[0] === 2 && f[1] === 1);
    await until(() => notes(plain, "room:b").length === 1, "plain's note");
    const [[seq1, whole]] = notes(admin, "room:b") as [[number, unknown]];
    assert.deepEqual(whole, { text: "one", secret: "x" });
    assert.deepEqual(notes(plain, "room:b"), [[seq1, { text: "one" }]], "redacted, same seq");
    // A direct message through the inbox is shown to the hooks too.
    admin.send([1, 2, "poke", { to: plain.sid }]);
    const poke = await plain.next((f) => f[0] === 4 && f[1] === `inbox:${plain.sid}`);
    assert.deepEqual(poke[4], { text: "poke" }, "the inbox push redacted");

    plain.drop();
    muted.drop();
    await until(
      () => server.getSocket(plain.sid as string) === undefined && server.getSocket(muted.sid as string) === undefined,
      "both away",
    );
    admin.send([1, 3, "post", { text: "two", secret: "y" }]);
    await admin.next((f) => f[0] === 2 && f[1] === 3);
    await plain.connect();
    await muted.connect();
    assert.deepEqual(
      notes(plain, "room:b"),
      [
        [seq1, { text: "one" }],
        [seq1 + 1, { text: "two" }],
      ],
      "the replay is redacted as well",
    );
    assert.equal(plain.gaps.length, 0);
    assert.deepEqual(notes(muted, "room:b"), [], "muted gets no note, live or replayed");
    assert.equal(muted.gaps.length, 0, "a dropped push is passed over, not a gap");
    // Live after the resume: muted's position is past the dropped ones, plain continues the count.
    admin.send([1, 4, "post", { text: "three", secret: "z" }]);
    await until(() => notes(plain, "room:b").length === 3, "plain's live note");
    assert.deepEqual(notes(plain, "room:b")[2], [seq1 + 2, { text: "three" }]);
    assert.deepEqual(notes(muted, "room:b"), []);
    for (const peer of [admin, plain, muted]) peer.close();
  });

  it("a replacement keeps the message id of an emit to several rooms, so a client in several still delivers it once", async () => {
    const plain = new ResumePeer(`${url}?role=plain`);
    await plain.connect();
    plain.send([1, 1, "join", { room: "c" }]);
    await plain.next((f) => f[0] === 2 && f[1] === 1);
    plain.send([1, 2, "postBoth", { text: "both", secret: "x" }]);
    await until(() => plain.frames.filter((f) => f[0] === 4).length === 2, "a copy from each room");
    const copies = plain.frames.filter((f) => f[0] === 4);
    assert.deepEqual(
      copies.map((f) => [f[1], f[4]]),
      [
        ["room:b", { text: "both" }],
        ["room:c", { text: "both" }],
      ],
      "each copy redacted",
    );
    const ids = copies.map((f) => (f[5] as { id?: unknown } | undefined)?.id);
    assert.ok(typeof ids[0] === "string" && ids[0] === ids[1], `one id on both copies: ${JSON.stringify(ids)}`);
    plain.close();
  });
});
