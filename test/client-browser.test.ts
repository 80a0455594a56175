// tswebsockets/client in headless Chromium (Debian's, driven by playwright-core): the bundled client
// (esbuild ESM, as an application would ship it) served by a real tswebsockets server running in
// its own process, so the tests can restart it and SIGSTOP it. Skipped where Chromium is missing.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { type PeerProcess, spawnPeer } from "./helpers/peer-process.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const pageDir = fileURLToPath(new URL("../test-output/client-page/", import.meta.url));
const IDLE_MS = 1000;
const GRACE_MS = 1000;

// The page connects to /t and logs every state (with its close code) and every echo into window.log.
const INDEX = `<!doctype html><meta charset="utf-8"><title>client</title><script type="module">
import { connect } from "./client.js";
window.log = [];
const client = connect("/t", { liveness: { idleMs: ${IDLE_MS}, graceMs: ${GRACE_MS} }, reconnect: { baseMs: 200, maxMs: 1000 } });
client.on("state", (state, close) => window.log.push([performance.now(), state, close?.code]));
client.on("echo", (data) => window.log.push([performance.now(), "echo", data]));
window.client = client;
</script>`;

type Log = [number, string, unknown][];
const states = async (page: Page) => ((await page.evaluate("window.log")) as Log).filter(([, s]) => s !== "echo").map(([, s]) => s);

describe("tswebsockets/client in headless Chromium", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let browser: Browser;
  let peer: PeerProcess;

  before(async () => {
    mkdirSync(pageDir, { recursive: true });
    await build({
      entryPoints: [fileURLToPath(new URL("../src/client/index.ts", import.meta.url))],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      outfile: `${pageDir}client.js`,
      logLevel: "warning",
    });
    writeFileSync(`${pageDir}index.html`, INDEX);
    peer = await spawnPeer({ STATIC: pageDir, PING_IDLE_MS: "300" });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await peer?.stop();
  });

  async function open(): Promise<Page> {
    const context = await browser.newContext();
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    await page.clock.install(); // fake timers that follow real time until told to jump
    await page.goto(`http://127.0.0.1:${peer.port}/index.html`);
    await page.waitForFunction("window.client?.state === 'open'");
    return page;
  }

  it("reconnects after the server restarts, and works again", async () => {
    const page = await open();
    await peer.restart(300);
    await page.waitForFunction("window.log.some(([, s]) => s === 'reconnecting')");
    await page.waitForFunction("window.client.state === 'open'");
    await page.evaluate("window.client.emit('echo', 'after the restart')");
    await page.waitForFunction("window.log.some(([, s, d]) => s === 'echo' && d === 'after the restart')");
    assert.deepEqual((await states(page)).slice(0, 2), ["open", "reconnecting"]);
    assert.equal((await states(page)).at(-1), "open");
    await page.context().close();
  });

  it("does not reconnect after the page was hidden and frozen for 10 minutes of emulated time", async () => {
    const page = await open();
    const cdp = await page.context().newCDPSession(page);
    // Hidden as a background tab is, then frozen as Chrome freezes such tabs: no task runs, while the
    // server's idle pings queue up in the browser.
    await page.evaluate(`Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange", { bubbles: true }))`);
    await cdp.send("Page.setWebLifecycleState", { state: "frozen" });
    await sleep(2000);
    await cdp.send("Page.setWebLifecycleState", { state: "active" });
    // The clock jumps 10 minutes: every timer that was due meanwhile fires now, late, as after a real freeze.
    await page.clock.fastForward("10:00");
    await page.evaluate(`Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
      document.dispatchEvent(new Event("visibilitychange", { bubbles: true }))`);
    await sleep(3 * (IDLE_MS + GRACE_MS)); // time enough to give up, had the client judged the link dead
    assert.deepEqual(await states(page), ["open"], "no reconnect");
    await page.evaluate("window.client.emit('echo', 'still here')");
    await page.waitForFunction("window.log.some(([, s, d]) => s === 'echo' && d === 'still here')");
    await page.context().close();
  });

  it(`notices a server that stopped answering (SIGSTOP) within idleMs + graceMs (${IDLE_MS + GRACE_MS} ms)`, async () => {
    const page = await open();
    await sleep(500);
    const stoppedAt = await page.evaluate("performance.now()");
    peer.child.kill("SIGSTOP");
    try {
      await page.waitForFunction("window.log.some(([, s]) => s === 'reconnecting')", undefined, { timeout: 10_000 });
    } finally {
      peer.child.kill("SIGCONT");
    }
    const log = (await page.evaluate("window.log")) as Log;
    const [at, , code] = log.find(([, s]) => s === "reconnecting")!;
    const noticedMs = at - (stoppedAt as number);
    console.log(`Chromium noticed a stopped server after ${noticedMs.toFixed(0)} ms (idleMs + graceMs = ${IDLE_MS + GRACE_MS} ms)`);
    assert.equal(code, 1006);
    // The last frame came at most one ping interval (300 ms, checked every 150 ms) before the stop.
    assert.ok(noticedMs <= IDLE_MS + GRACE_MS + 500, `noticed after ${noticedMs} ms`);
    assert.ok(noticedMs >= IDLE_MS + GRACE_MS - 500, `noticed too early, after ${noticedMs} ms`);
    await page.waitForFunction("window.client.state === 'open'");
    await page.context().close();
  });
});
