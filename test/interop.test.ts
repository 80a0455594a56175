// A client from another stack: Python's `websockets` (Debian's python3-websockets, run with
// /usr/bin/python3) talks to a namespace. Missing Python or the package fails loudly: never skipped.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { BaseHandler, createServer, type Message, Namespace, type Socket } from "../src/index.js";
import { start } from "./helpers.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

const CLIENT = `
import asyncio, json, sys
import websockets

async def main(url):
    out = {}
    async with websockets.connect(url) as ws:
        out["welcome"] = await ws.recv()
        await ws.send("héllo from python")
        out["text"] = await ws.recv()
        await ws.send(bytes([0, 1, 2, 255]))
        reply = await ws.recv()
        out["bytes_type"] = type(reply).__name__
        out["bytes"] = reply.hex()
        await ws.send("bye")
        try:
            await ws.recv()
            out["closed"] = None
        except websockets.ConnectionClosed as closed:
            out["closed"] = [closed.rcvd.code, closed.rcvd.reason]
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
`;

@Namespace("/interop/:lang")
class Interop extends BaseHandler {
  static onConnect(socket: Socket) {
    socket.send(`welcome, ${socket.params.lang} client`);
  }
  static onMessage(socket: Socket, message: Message) {
    if (message === "bye") socket.close(4000, "see you");
    else socket.send(typeof message === "string" ? `echo: ${message}` : message);
  }
}

describe("a Python websockets client", () => {
  const server = createServer({ handlers: [Interop], host: "127.0.0.1", port: 0 });
  let url: string;
  before(async () => (url = await start(server)));
  after(() => server.close());

  it("has /usr/bin/python3 with the websockets package (apt-get install python3-websockets)", async () => {
    const probe = await run(PYTHON, ["-c", "import websockets; print(websockets.__version__)"], { timeout: 30_000 }).catch(
      (error: Error) => {
        assert.fail(`${PYTHON} cannot import websockets: install the Debian package python3-websockets (${error.message})`);
      },
    );
    assert.match(probe.stdout, /^\d+\.\d+/);
  });

  it("gets a welcome, text and bytes echoed, and the server's close code and reason", async () => {
    const { stdout } = await run(PYTHON, ["-c", CLIENT, `${url}/interop/python`], { timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout), {
      welcome: "welcome, python client",
      text: "echo: héllo from python",
      bytes_type: "bytes",
      bytes: "000102ff",
      closed: [4000, "see you"],
    });
  });
});
