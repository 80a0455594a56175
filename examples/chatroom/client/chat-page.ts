// The chat page on tswebsockets/client: no protocol or reconnect code of its own. Bundled for the
// browser by `npm run build:demo` (esbuild) into public/chat-page.js. Waits for the server side of
// the demo to move to the event layer (`events(chat)`), which speaks this contract.
import { connect, RequestError } from "../../../src/client/index.js";
import type { chat } from "../contract.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = document.querySelector("main.chat") as HTMLElement;
const room = main.dataset.room ?? "";
const list = $<HTMLOListElement>("messages");
const input = $<HTMLInputElement>("text");
const form = $<HTMLFormElement>("composer");
const hint = $("composer-hint");
const status = $("status");
const memberList = $("member-list");
const maxText = Number(input.dataset.max);

const names = new Map<string, string>(); // socket id → name
let members: string[] = [];
let me = "";

const client = connect<typeof chat>(`/chatroom/${encodeURIComponent(room)}`);

function append(item: HTMLElement): void {
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(item);
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function notice(text: string, kind = "event"): void {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  append(item);
}

function renderMembers(): void {
  const people = [...new Set(members.map((id) => names.get(id)).filter((n) => n !== undefined))].sort();
  memberList.replaceChildren(
    ...people.map((name) =>
      Object.assign(document.createElement("li"), { textContent: name, className: name === names.get(me) ? "me" : "" }),
    ),
  );
  $("member-count").textContent = people.length > 0 ? `(${people.length})` : "";
}

client.on("state", (state, close) => {
  const label = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "closed" }[state];
  status.textContent = close?.code === 4401 ? "logged out" : label;
  status.className = `status ${state === "open" ? "online" : state === "closed" ? "offline" : "connecting"}`;
  input.disabled = state === "closed";
  if (state === "reconnecting") members = [];
  if (state === "closed") notice(`Disconnected: ${close?.reason || "closed"}`, "alert");
  renderMembers();
});
client.on("welcome", (w) => {
  me = w.id;
  names.set(w.id, w.name);
});
client.on("joined", (j) => {
  names.set(j.id, j.name);
  notice(`${j.name} joined`);
  client.emit("present", { to: j.id }, { volatile: true });
});
client.on("present", (p) => {
  names.set(p.id, p.name);
  renderMembers();
});
client.on("left", (l) => notice(`${l.name} left`));
client.on("members", ({ ids }) => {
  members = ids;
  renderMembers();
});
client.on("message", (m) => {
  const item = document.createElement("li");
  item.className = m.id === me ? "message mine" : "message";
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(
    Object.assign(document.createElement("span"), { className: "sender", textContent: m.name }),
    Object.assign(document.createElement("time"), {
      textContent: new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    }),
  );
  item.append(meta, Object.assign(document.createElement("p"), { className: "text", textContent: m.text }));
  append(item);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value.trim();
  hint.textContent =
    text === ""
      ? "Type a message first."
      : text.length > maxText
        ? `${text.length} characters: at most ${maxText} fit in one message.`
        : "";
  if (hint.textContent !== "") return;
  input.value = "";
  try {
    await client.request("send", { text }); // offline: waits in the client's buffer, or times out
  } catch (error) {
    input.value ||= text; // give the text back rather than lose it
    hint.textContent = error instanceof RequestError ? `Not sent (${error.code}): ${error.message}` : String(error);
  }
});
