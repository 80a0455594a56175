// The chat room demo in a real browser: Debian's Chromium, driven by playwright-core over CDP
// (no browser download). Skipped, with a reason, where /usr/bin/chromium is missing. The page's
// script is bundled first (`npm run build:demo`), so the test always runs the current source.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type Chat, startChat } from "../examples/chatroom/app.js";
import { testLogger } from "./helpers/sessions.js";

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
// Written on every run to an ignored folder; docs/screenshot-chat.png is a copy of one run.
const SCREENSHOT = new URL("../test-output/screenshot-chat.png", import.meta.url);

describe("the chat room demo in headless Chromium", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  // One store outlives a restart of the app, as a Redis store would: pages reconnect into their session.
  const sessionStore = new session.MemoryStore();
  let chat: Chat;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    execFileSync("npm", ["run", "--silent", "build:demo"], { cwd: new URL("..", import.meta.url), stdio: "ignore" });
    chat = await startChat({ port: 0, host: "127.0.0.1", sessionStore, logger: testLogger() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await chat?.close();
  });

  async function loggedIn(username: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
    context.setDefaultTimeout(20_000);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${chat.url}/login`);
    await page.fill("input[name=username]", username);
    await page.fill("input[name=password]", username);
    await Promise.all([page.waitForURL(/\/rooms$/), page.click("button[type=submit]")]);
    return page;
  }

  async function enter(page: Page, room: string): Promise<void> {
    await page.goto(`${chat.url}/rooms/${encodeURIComponent(room)}`);
    await page.locator("#status", { hasText: "connected" }).waitFor();
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#text", text);
    await page.press("#text", "Enter");
  }

  /** [sender, text] of every message the page shows. */
  function messages(page: Page): Promise<string[][]> {
    return page
      .locator(".message")
      .evaluateAll((items) =>
        items.map((li) => [li.querySelector(".sender")?.textContent ?? "", li.querySelector(".text")?.textContent ?? ""]),
      );
  }

  const members = (page: Page) => page.locator("#member-list li").allTextContents();

  let alice: Page;
  let bob: Page;
  let carol: Page;

  it("shows each user in a room the other's messages with names, and nothing to another room", async () => {
    [alice, bob, carol] = await Promise.all([loggedIn("alice"), loggedIn("bob"), loggedIn("carol")]);
    await enter(carol, "random");
    await enter(alice, "lobby");
    await enter(bob, "lobby");
    await alice.locator(".event", { hasText: "Bob joined" }).waitFor();
    await alice.locator("#member-list li", { hasText: "Bob" }).waitFor();
    await bob.locator("#member-list li", { hasText: "Alice" }).waitFor();

    await say(alice, "Hello Bob, is the build green?");
    await bob.locator(".message", { hasText: "is the build green" }).waitFor();
    await say(bob, "All green. Types check, tests pass.");
    await alice.locator(".message", { hasText: "All green" }).waitFor();
    await say(alice, "Great, merging now.");
    await bob.locator(".message", { hasText: "merging now" }).waitFor();

    const expected = [
      ["Alice", "Hello Bob, is the build green?"],
      ["Bob", "All green. Types check, tests pass."],
      ["Alice", "Great, merging now."],
    ];
    assert.deepEqual(await messages(alice), expected);
    assert.deepEqual(await messages(bob), expected);
    assert.deepEqual((await members(alice)).sort(), ["Alice", "Bob"]);

    await say(carol, "anyone in random?");
    await carol.locator(".message", { hasText: "anyone in random" }).waitFor();
    assert.deepEqual(await messages(carol), [["Carol", "anyone in random?"]]);
    assert.deepEqual(await members(carol), ["Carol"]);
    assert.equal(await alice.locator(".message", { hasText: "anyone in random" }).count(), 0);

    mkdirSync(new URL(".", SCREENSHOT), { recursive: true });
    await alice.screenshot({ path: SCREENSHOT.pathname });
  });

  it("keeps the message box and the newest message in view through a long conversation", async () => {
    for (let i = 1; i <= 30; i++) await say(alice, `line ${i} of a long conversation`);
    await alice.locator(".message", { hasText: "line 30 of" }).waitFor();
    const view = await alice.evaluate(() => {
      const list = document.getElementById("messages")!.getBoundingClientRect();
      const newest = [...document.querySelectorAll(".message")].at(-1)!.getBoundingClientRect();
      const composer = document.getElementById("composer")!.getBoundingClientRect();
      return { height: window.innerHeight, scrollHeight: document.documentElement.scrollHeight, list, newest, composer };
    });
    assert.ok(
      view.composer.bottom <= view.height,
      `the message box ends at ${view.composer.bottom} px, below the ${view.height} px window`,
    );
    assert.ok(view.scrollHeight <= view.height, `the page grew to ${view.scrollHeight} px`);
    assert.ok(view.newest.bottom <= view.list.bottom + 1 && view.newest.top >= view.list.top, "the newest message is in view");
    // The full-page screenshot is exactly the window: nothing below it to scroll to.
    const png = await alice.screenshot({
      path: new URL("../test-output/screenshot-chat-long.png", import.meta.url).pathname,
      fullPage: true,
    });
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1100, 640], "the full-page screenshot's width and height");
  });

  it("says why a message cannot go (the contract's answer, INVALID_PAYLOAD) instead of dropping or cutting it", async () => {
    await say(alice, "   ");
    await alice.locator("#composer-hint", { hasText: "Not sent: The message is empty" }).waitFor();
    await say(alice, "x".repeat(2001));
    await alice.locator("#composer-hint", { hasText: "Not sent: 2001 characters: at most 2000 fit in one message." }).waitFor();
    assert.equal(await alice.inputValue("#text"), "x".repeat(2001), "the text stays for the user to shorten");
    await say(alice, "y".repeat(2000));
    await bob.locator(".message", { hasText: "yyyyyyyyyy" }).waitFor();
    assert.equal(await bob.locator(".message .text").last().textContent(), "y".repeat(2000), "2000 characters arrive whole");
    assert.equal(await alice.locator("#composer-hint").textContent(), "", "a message that went clears the hint");
    assert.equal(await bob.locator(".message", { hasText: "xxxxxxxxxx" }).count(), 0);
  });

  it("enters a room whose name has spaces and accents, and counts people, not tabs", async () => {
    const room = "café au lait";
    const bobAgain = await bob.context().newPage();
    await Promise.all([enter(alice, room), enter(bob, room), enter(bobAgain, room)]);
    await say(bob, "un café ?");
    await alice.locator(".message", { hasText: "un café ?" }).waitFor();
    assert.equal(await alice.locator(".room-header h1").textContent(), `# ${room}`);
    // The member list too counts people: Bob once, marked with his two tabs.
    await alice.locator("#member-list li[data-tabs='×2']", { hasText: "Bob" }).waitFor();
    assert.deepEqual((await members(alice)).sort(), ["Alice", "Bob"]);
    await carol.goto(`${chat.url}/rooms`);
    const count = await carol.locator(".rooms a", { hasText: room }).locator(".count").textContent();
    assert.equal(count, "2 online"); // Alice and Bob; Bob has two tabs
    await bobAgain.close();
    await Promise.all([enter(alice, "lobby"), enter(bob, "lobby"), enter(carol, "random")]);
  });

  it("reconnects the pages after the server restarts", async () => {
    const port = chat.port;
    await chat.close();
    await alice.locator("#status", { hasText: "reconnecting" }).waitFor();
    chat = await startChat({ port, host: "127.0.0.1", sessionStore, logger: testLogger() });
    await alice.locator("#status", { hasText: "connected" }).waitFor({ timeout: 30_000 });
    await bob.locator("#status", { hasText: "connected" }).waitFor({ timeout: 30_000 });
    await say(bob, "back again");
    await alice.locator(".message", { hasText: "back again" }).waitFor();
  });

  it("closes a user's open chat pages with 4401 when that user logs out elsewhere, and says so", async () => {
    const otherTab = await alice.context().newPage();
    await otherTab.goto(`${chat.url}/rooms`);
    await Promise.all([otherTab.waitForURL(/\/login/), otherTab.click("button:has-text('Log out')")]);
    await alice.locator("#status", { hasText: "logged out" }).waitFor();
    await alice.locator(".alert", { hasText: "logged out" }).waitFor();
    await bob.locator(".event", { hasText: "Alice left" }).last().waitFor();
    await bob.waitForFunction(() => document.querySelectorAll("#member-list li").length === 1);
    assert.deepEqual(await members(bob), ["Bob"]);
  });
});
