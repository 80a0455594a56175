// The demo's command-line entry (`npm start`), run as a child process: it serves logins and chat
// sockets (the contract of examples/chatroom/contract.ts, spoken by tswebsockets/client here) on the
// port it prints, and closes gracefully on SIGTERM.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ChatProbe } from "./helpers/chat-probe.js";
import { cookieOf, nextMessage, open } from "./helpers/sessions.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("the chat room demo's server.ts", () => {
  let child: ChildProcess;
  let url = "";
  let output = "";

  before(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "examples/chatroom/server.ts"], {
      cwd: root,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /http:\/\/127\.0\.0\.1:\d+/.exec(output);
        if (found) resolve(found[0]);
      });
      child.once("exit", (code) => reject(new Error(`server.ts exited with ${code}: ${output}`)));
    });
  });
  after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  async function login(username: string, password: string): Promise<Response> {
    return fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password }),
      redirect: "manual",
    });
  }

  it("refuses a wrong password, and closes a client without a login with 4401, which it does not retry", async () => {
    const res = await login("alice", "wrong");
    assert.equal(res.headers.get("location"), "/login?notice=failed");
    const anonymous = new ChatProbe(`${url.replace("http", "ws")}/chatroom/lobby`, undefined, { reconnect: true });
    assert.deepEqual(await anonymous.closed(), { code: 4401, reason: "login required" });
    assert.equal(anonymous.client.state, "closed");
  });

  it("serves /echo/ to any WebSocket client, without a login", async () => {
    const ws = await open(`${url.replace("http", "ws")}/echo/`);
    assert.match(await nextMessage(ws), /connected to tswebsockets/);
    ws.send("hello");
    assert.equal(await nextMessage(ws), "hello");
    ws.close();
  });

  it("welcomes a logged-in user by name, answers send with INVALID_PAYLOAD or the message, and closes with 1001 on SIGTERM", async () => {
    const res = await login("alice", "alice");
    assert.equal(res.headers.get("location"), "/rooms");
    const alice = new ChatProbe(`${url.replace("http", "ws")}/chatroom/${encodeURIComponent("café au lait")}`, cookieOf(res));
    assert.deepEqual(await alice.waitFor("welcome"), { you: { id: "1", name: "Alice" }, room: "café au lait" });
    assert.deepEqual(await alice.waitFor("members"), { people: [{ id: "1", name: "Alice", tabs: 1 }] });

    await assert.rejects(alice.client.request("send", { text: " \n " }), {
      code: "INVALID_PAYLOAD",
      data: { issues: [{ message: "The message is empty: type something first.", path: ["text"] }] },
    });
    await assert.rejects(alice.client.request("send", { text: "x".repeat(2001) }), { code: "INVALID_PAYLOAD" });
    const { id } = await alice.client.request("send", { text: "  un café ?  " });
    const message = await alice.waitFor("message");
    assert.deepEqual({ ...message, at: 0 }, { id, from: { id: "1", name: "Alice" }, text: "un café ?", at: 0 });

    const end = alice.closed();
    child.kill("SIGTERM");
    assert.equal((await end).code, 1001);
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output);
  });
});
