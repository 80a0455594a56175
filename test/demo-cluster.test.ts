// The two-node demo (`npm run demo:cluster`) end to end: the launcher starts its own redis-server
// and two chat nodes; a user logged in on one node chats with a user on the other.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ChatProbe } from "./helpers/chat-probe.js";
import { cookieOf } from "./helpers/sessions.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const slow = { timeout: 60_000 };

describe("the two-node chat demo", () => {
  let launcher: ChildProcess;
  let output = "";
  let urls: string[] = [];

  before(async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORTS: "0,0", HOST: "127.0.0.1" };
    delete env.REDIS_URL;
    launcher = spawn(process.execPath, ["--import", "tsx", "examples/cluster/run.ts"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    launcher.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    urls = await new Promise<string[]>((resolve, reject) => {
      launcher.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = [...output.matchAll(/chat node on (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1] as string);
        if (found.length === 2) resolve(found);
      });
      launcher.once("exit", (code) => reject(new Error(`the launcher exited with ${code}: ${output}`)));
    });
  });
  after(() => {
    if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill("SIGTERM");
  });

  const login = async (url: string, username: string): Promise<string> => {
    const res = await fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password: username }),
      redirect: "manual",
    });
    assert.equal(res.headers.get("location"), "/rooms", `logging in ${username}`);
    return cookieOf(res);
  };
  const chat = (url: string, cookie: string) => new ChatProbe(`${url.replace("http", "ws")}/chatroom/lobby`, cookie);

  it("runs on two ports, each node serving its own pages", slow, () => {
    assert.equal(urls.length, 2);
    assert.notEqual(urls[0], urls[1]);
  });

  it("lets a user on one node chat with a user on the other, with one member list", slow, async () => {
    const [urlA, urlB] = urls as [string, string];
    const alice = chat(urlA, await login(urlA, "alice"));
    const bob = chat(urlB, await login(urlB, "bob"));
    assert.equal((await alice.waitFor("welcome")).you.name, "Alice");
    assert.equal((await bob.waitFor("welcome")).you.name, "Bob");
    // Each node counts the other's sockets through Redis: both see both people.
    const both = (m: { people: { name: string }[] }) => m.people.map((p) => p.name).join() === "Alice,Bob";
    await alice.waitFor("members", both);
    await bob.waitFor("members", both);

    const { id } = await alice.client.request("send", { text: "hello from node A" });
    assert.deepEqual(
      { ...(await bob.waitFor("message")), at: 0 },
      { id, from: { id: "1", name: "Alice" }, text: "hello from node A", at: 0 },
    );
    await bob.client.request("send", { text: "hello from node B" });
    assert.equal((await alice.waitFor("message", (m) => m.from.name === "Bob")).text, "hello from node B");
    bob.client.close();
    assert.deepEqual((await alice.waitFor("left")).who, { id: "2", name: "Bob" });
    await alice.waitFor("members", (m) => m.people.map((p) => p.name).join() === "Alice");
    alice.client.close();
  });

  it("shares sessions: a login made on one node is valid on the other, and logging out there closes its sockets here", slow, async () => {
    const [urlA, urlB] = urls as [string, string];
    const cookie = await login(urlA, "carol");
    const onB = chat(urlB, cookie);
    assert.equal((await onB.waitFor("welcome")).you.name, "Carol");
    const onA = chat(urlA, cookie);
    await onA.waitFor("welcome");
    const res = await fetch(`${urlA}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
    assert.equal(res.headers.get("location"), "/login?notice=bye");
    assert.equal((await onB.closed()).code, 4401);
    assert.equal((await onA.closed()).code, 4401);
  });

  it("stops both nodes and its Redis on SIGTERM", slow, async () => {
    launcher.kill("SIGTERM");
    const [code] = await once(launcher, "exit");
    assert.equal(code, 0, output);
  });
});
