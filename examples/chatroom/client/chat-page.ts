// The chat page on tswebsockets/client: no protocol or reconnect code of its own, and no input
// checks either (the contract checks on the server; the page shows its answer). Bundled for the
// browser by `npm run build:demo` (esbuild) into public/chat-page.js, which `npm start` runs first.
import { connect, RequestError } from "../../../src/client/index.js";
import type { chat } from "../contract.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = document.querySelector("main.chat") as HTMLElement;
const room = main.dataset.room ?? "";
const list = $<HTMLOListElement>("messages");
const input = $<HTMLInputElement>("text");
const button = document.querySelector("#composer button") as HTMLButtonElement;
const form = $<HTMLFormElement>("composer");
const hint = $("composer-hint");
const status = $("status");
const memberList = $("member-list");
const memberCount = $("member-count");

let me = ""; // this user's id: their messages from any tab are "mine"

const client = connect<typeof chat>(`/chatroom/${encodeURIComponent(room)}`);

/** Appends to the conversation, following it down only if the reader was already at the bottom. */
function append(item: HTMLElement): void {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function notice(text: string, kind = "event"): HTMLElement {
  const item = Object.assign(document.createElement("li"), { className: kind, textContent: text });
  append(item);
  return item;
}

function setStatus(text: string, kind: "online" | "connecting" | "offline"): void {
  status.textContent = text;
  status.className = `status ${kind}`;
}

function showMembers(people: readonly { id: string; name: string; tabs: number }[]): void {
  memberList.replaceChildren(
    ...people.map((p) => {
      const item = Object.assign(document.createElement("li"), { textContent: p.name, className: p.id === me ? "me" : "" });
      if (p.tabs > 1) item.dataset.tabs = `×${p.tabs}`;
      return item;
    }),
  );
  memberCount.textContent = people.length > 0 ? `(${people.length})` : "";
}

// Connected means joined: the status turns green on the server's welcome, not on the bare open.
client.on("state", (state, close) => {
  if (state === "open") return;
  showMembers([]);
  if (state === "connecting") setStatus("connecting…", "connecting");
  else if (state === "reconnecting") setStatus("reconnecting…", "connecting");
  else if (close?.code === 4401) {
    // Logged out (here or in another tab), or the session is gone after a restart.
    setStatus("logged out", "offline");
    const alert = notice(`Disconnected: ${close.reason || "logged out"}.`, "alert");
    alert.append(Object.assign(document.createElement("a"), { href: "/login?notice=expired", textContent: "Log in again" }));
  } else {
    setStatus("closed", "offline");
    notice(`Disconnected: ${close?.reason || "closed"}`, "alert");
  }
  input.disabled = button.disabled = state === "closed";
});
client.on("welcome", ({ you }) => {
  me = you.id;
  setStatus("connected", "online");
  input.disabled = button.disabled = false;
});
client.on("joined", ({ who }) => notice(`${who.name} joined`));
client.on("left", ({ who }) => notice(`${who.name} left`));
client.on("members", ({ people }) => showMembers(people));
client.on("message", (m) => {
  const item = Object.assign(document.createElement("li"), { className: m.from.id === me ? "message mine" : "message" });
  const meta = Object.assign(document.createElement("div"), { className: "meta" });
  meta.append(
    Object.assign(document.createElement("span"), { className: "sender", textContent: m.from.name }),
    Object.assign(document.createElement("time"), {
      textContent: new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    }),
  );
  item.append(meta, Object.assign(document.createElement("p"), { className: "text", textContent: m.text }));
  append(item);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value;
  hint.textContent = "";
  input.value = "";
  try {
    // While reconnecting this waits in the client's offline buffer; it settles either way.
    await client.request("send", { text });
  } catch (error) {
    input.value ||= text; // give the text back rather than lose it
    hint.textContent = `Not sent: ${reason(error)}`;
  }
});

/** What the user should know about a refused or failed send. */
function reason(error: unknown): string {
  if (!(error instanceof RequestError)) return String(error);
  if (error.code === "INVALID_PAYLOAD") {
    const issues = (error.data as { issues?: { message: string }[] } | undefined)?.issues ?? [];
    return issues.map((i) => i.message).join(" ") || error.message;
  }
  if (error.code === "TIMEOUT") return "no answer from the server in time; try again.";
  if (error.code === "DISCONNECTED") return "the connection closed first; try again.";
  return error.message;
}
