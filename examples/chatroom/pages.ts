// The demo's HTML pages: plain server-rendered strings, every interpolated value escaped.
import type { ChatUser } from "./chat-handler.js";
import { DEMO_USERS, ROOM_TOPICS, ROOMS } from "./users.js";

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c] ?? c);
/** A room's page URL: names may hold spaces and any Unicode. */
const roomHref = (room: string) => esc(`/rooms/${encodeURIComponent(room)}`);

function layout(title: string, user: ChatUser | undefined, body: string, script = ""): string {
  const account =
    user === undefined
      ? ""
      : `<div class="account"><span class="me">${esc(user.name)}</span>
         <form method="post" action="/logout"><button class="link" type="submit">Log out</button></form></div>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${esc(title)} · tswebsockets chat</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header class="top">
    <a class="brand" href="/rooms"><span class="logo">ts</span>websockets chat</a>
    ${account}
  </header>
  ${body}
  ${script}
</body>
</html>`;
}

/** The login form; `failed` shows a hint after a wrong password, `bye` after logging out. */
export function loginPage(notice: "failed" | "bye" | "expired" | undefined): string {
  const messages = {
    failed: ["error", "Wrong user name or password."],
    bye: ["info", "You have logged out."],
    expired: ["info", "Your session has ended. Please log in again."],
  } as const;
  const banner = notice === undefined ? "" : `<p class="notice ${messages[notice][0]}">${messages[notice][1]}</p>`;
  const demo = DEMO_USERS.map((u) => `<li><code>${esc(u.username)}</code> / <code>${esc(u.password)}</code></li>`).join("");
  return layout(
    "Log in",
    undefined,
    `<main class="card narrow">
      <h1>Log in</h1>
      ${banner}
      <form method="post" action="/login" class="stack">
        <label>User name <input name="username" autocomplete="username" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit">Log in</button>
      </form>
      <div class="hint"><p>Demo users (password = user name):</p><ul class="demo-users">${demo}</ul></div>
    </main>`,
  );
}

/** The list of rooms with how many people (not tabs) are in each right now. */
export function roomsPage(user: ChatUser, online: Readonly<Record<string, number>>): string {
  const items = ROOMS.map(
    (room) => `<li><a href="${roomHref(room)}">
        <span class="room-name"># ${esc(room)}</span>
        <span class="topic">${esc(ROOM_TOPICS[room] ?? "")}</span>
        <span class="count">${online[room] ?? 0} online</span></a></li>`,
  ).join("");
  return layout(
    "Rooms",
    user,
    `<main class="card">
      <h1>Rooms</h1>
      <p class="muted">Hello ${esc(user.name)}. Pick a room to join.</p>
      <ul class="rooms">${items}</ul>
    </main>`,
  );
}

/** One room's chat page; its script (the bundle of client/chat-page.ts) connects to `/chatroom/<room>` on the same host and port. */
export function chatPage(user: ChatUser, room: string): string {
  const nav = ROOMS.map((r) => `<li><a href="${roomHref(r)}"${r === room ? ' class="current"' : ""}># ${esc(r)}</a></li>`).join("");
  return layout(
    `# ${room}`,
    user,
    `<main class="chat" data-room="${esc(room)}">
      <nav class="sidebar"><h2>Rooms</h2><ul>${nav}</ul></nav>
      <section class="conversation">
        <div class="room-header"><h1># ${esc(room)}</h1><span class="topic">${esc(ROOM_TOPICS[room] ?? "")}</span>
          <span id="status" class="status connecting">connecting…</span></div>
        <ol id="messages" class="messages" aria-live="polite"></ol>
        <form id="composer" class="composer" autocomplete="off">
          <input id="text" name="text" placeholder="Message # ${esc(room)}" disabled>
          <button type="submit" disabled>Send</button>
        </form>
        <p id="composer-hint" class="composer-hint" role="status"></p>
      </section>
      <aside class="members"><h2>Here now <span id="member-count"></span></h2><ul id="member-list"></ul></aside>
    </main>`,
    // The bundle of client/chat-page.ts (tswebsockets/client inside); a module script runs after parsing.
    `<script type="module" src="/static/chat-page.js"></script>`,
  );
}
