// A client from another stack speaks tsws.v1 as docs/protocol.md describes it: Debian's Python
// `websockets` (run with /usr/bin/python3) negotiates the subprotocol, sends events and requests,
// answers the server's own request while the server's handler awaits it, and gets the error
// frames of the spec. Missing Python or the package fails loudly: never skipped.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { z } from "zod";
import { defineContract, event, request } from "../src/contract/index.js";
import { createServer, EventError, type EventSocket, events, handle, type Message, Namespace, type Socket } from "../src/index.js";
import { start } from "./helpers.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

// Written from docs/protocol.md sections 1-7 only: JSON arrays, ids counted from 1, kinds 0-3.
const CLIENT = `
import asyncio, json, sys
import websockets

async def main(url):
    out = {}
    async with websockets.connect(url, subprotocols=["tsws.v1"]) as ws:
        out["subprotocol"] = ws.subprotocol
        out["welcome"] = json.loads(await ws.recv())
        await ws.send(json.dumps([1, 1, "add", {"a": 2, "b": 3}]))
        out["reply"] = json.loads(await ws.recv())
        await ws.send(json.dumps([1, 2, "add", {"a": "two"}]))
        out["invalid"] = json.loads(await ws.recv())
        await ws.send(json.dumps([1, 3, "divide", {"a": 1, "b": 0}]))
        out["declared"] = json.loads(await ws.recv())
        await ws.send(json.dumps([1, 4, "nope"]))
        out["unknown"] = json.loads(await ws.recv())
        await ws.send("this is not json")
        out["bad_frame"] = json.loads(await ws.recv())
        await ws.send(json.dumps([0, "note", {"text": "hi"}]))
        out["event"] = json.loads(await ws.recv())
        # the server asks us while its handler for request 5 waits for our answer
        await ws.send(json.dumps([1, 5, "askMe", {}]))
        asked = json.loads(await ws.recv())
        out["asked"] = [asked[0], asked[2], len(asked)]
        await ws.send(json.dumps([2, asked[1], "python"]))
        out["after_answer"] = json.loads(await ws.recv())
        await ws.send(bytes([7, 8, 9]))
        raw = await ws.recv()
        out["binary"] = raw.hex()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
`;

const calc = defineContract({
  client: {
    add: request(z.object({ a: z.number(), b: z.number() }), z.number()),
    divide: request(z.object({ a: z.number(), b: z.number() }), z.number(), { errors: { DIVISION_BY_ZERO: null } }),
    note: event(z.object({ text: z.string() })),
    askMe: request(z.object({}), z.string()),
  },
  server: {
    hello: event(z.object({ to: z.string() })),
    noted: event(z.object({ text: z.string() })),
    whoAreYou: request(z.undefined(), z.string()),
  },
});

@Namespace("/calc")
class Calc extends events(calc) {
  static onConnect(socket: EventSocket<typeof calc>) {
    socket.emit("hello", { to: "python" });
  }
  static onMessage(socket: Socket, message: Message) {
    socket.send(message);
  }
  static events = handle(calc, {
    add: (_socket, { a, b }) => a + b,
    divide(_socket, { a, b }) {
      if (b === 0) throw new EventError("DIVISION_BY_ZERO");
      return a / b;
    },
    note: (socket, { text }) => socket.emit("noted", { text }),
    askMe: async (socket) => `you are ${await socket.request("whoAreYou", undefined)}`,
  });
}

describe("a Python websockets client speaking tsws.v1", () => {
  const server = createServer({ handlers: [Calc], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("negotiates tsws.v1 and gets replies, error frames and the server's own request as docs/protocol.md says", async () => {
    const { stdout } = await run(PYTHON, ["-c", CLIENT, `${url}/calc`], { timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), {
      subprotocol: "tsws.v1",
      welcome: [0, "hello", { to: "python" }],
      reply: [2, 1, 5],
      invalid: [
        3,
        2,
        "INVALID_PAYLOAD",
        {
          issues: [
            { message: "Invalid input: expected number, received string", path: ["a"] },
            { message: "Invalid input: expected number, received undefined", path: ["b"] },
          ],
        },
      ],
      declared: [3, 3, "DIVISION_BY_ZERO"],
      unknown: [3, 4, "UNKNOWN_EVENT", null, "no client request of that name"],
      bad_frame: [3, null, "INVALID_FRAME", null, "the frame is not valid JSON"],
      event: [0, "noted", { text: "hi" }],
      asked: [1, "whoAreYou", 3], // no data: the element is left out
      after_answer: [2, 5, "you are python"],
      binary: "070809",
    });
  });
});
