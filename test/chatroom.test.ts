// The demo's command-line entry (`npm start`), run as a child process: it serves logins and chat
// sockets on the port it prints, and closes gracefully on SIGTERM.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { closed, cookieOf, nextMessage, open } from "./helpers/sessions.js";

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

  it("refuses a wrong password and closes a socket without a login with 4401", async () => {
    const res = await login("alice", "wrong");
    assert.equal(res.headers.get("location"), "/login?notice=failed");
    const anonymous = await open(`${url.replace("http", "ws")}/chatroom/lobby`);
    assert.deepEqual(await closed(anonymous), { code: 4401, reason: "login required" });
  });

  it("serves /echo/ to any WebSocket client, without a login", async () => {
    const ws = await open(`${url.replace("http", "ws")}/echo/`);
    assert.match(await nextMessage(ws), /connected to tswebsockets/);
    ws.send("hello");
    assert.equal(await nextMessage(ws), "hello");
    ws.close();
  });

  it("welcomes a logged-in user by name, then closes with 1001 and exits 0 on SIGTERM", async () => {
    const res = await login("alice", "alice");
    assert.equal(res.headers.get("location"), "/rooms");
    const ws = await open(`${url.replace("http", "ws")}/chatroom/lobby`, { cookie: cookieOf(res) });
    const welcome = JSON.parse(await nextMessage(ws));
    assert.equal(welcome.type, "welcome");
    assert.equal(welcome.name, "Alice");
    assert.deepEqual(JSON.parse(await nextMessage(ws)), { type: "members", ids: [welcome.id] });
    const end = closed(ws);
    child.kill("SIGTERM");
    assert.equal((await end).code, 1001);
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output);
  });
});
