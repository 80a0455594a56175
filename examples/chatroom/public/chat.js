// The chat page's script: one WebSocket to /chatroom/<room> on this page's own host (the session
// cookie comes along), a live member list, and reconnection with backoff after a restart.
const main = document.querySelector("main.chat");
const room = main.dataset.room;
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const input = document.getElementById("text");
const sendButton = form.querySelector("button");
const status = document.getElementById("status");
const memberList = document.getElementById("member-list");
const memberCount = document.getElementById("member-count");
const hint = document.getElementById("composer-hint");
const maxText = Number(input.dataset.max);

const names = new Map(); // socket id → user name, for everyone we have heard of
let members = []; // socket ids in the room right now
let me;
let socket;
let attempts = 0;

function setStatus(text, kind) {
  status.textContent = text;
  status.className = `status ${kind}`;
}

function enable(on) {
  input.disabled = !on;
  sendButton.disabled = !on;
  if (on) input.focus();
}

const time = (at) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function append(item) {
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  list.append(item);
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function showMessage(event) {
  const item = document.createElement("li");
  item.className = event.id === me ? "message mine" : "message";
  const head = document.createElement("div");
  head.className = "meta";
  const who = document.createElement("span");
  who.className = "sender";
  who.textContent = event.name;
  const when = document.createElement("time");
  when.textContent = time(event.at);
  head.append(who, when);
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = event.text;
  item.append(head, text);
  append(item);
}

function showNotice(text, kind = "event") {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  append(item);
}

function renderMembers() {
  const counts = new Map();
  for (const id of members) {
    const name = names.get(id);
    if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  memberList.replaceChildren(
    ...[...counts.keys()].sort().map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      if (counts.get(name) > 1) li.dataset.tabs = `×${counts.get(name)}`;
      if (name === names.get(me)) li.className = "me";
      return li;
    }),
  );
  memberCount.textContent = counts.size > 0 ? `(${counts.size})` : "";
}

const handlers = {
  welcome(event) {
    me = event.id;
    names.set(event.id, event.name);
    attempts = 0;
    setStatus("connected", "online");
    enable(true);
  },
  joined(event) {
    names.set(event.id, event.name);
    showNotice(`${event.name} joined`);
    // Tell the newcomer who we are: the server passes our name on, to whichever node holds it.
    socket.send(JSON.stringify({ type: "present", to: event.id }));
  },
  present(event) {
    names.set(event.id, event.name);
    renderMembers();
  },
  left(event) {
    showNotice(`${event.name} left`);
  },
  members(event) {
    members = event.ids;
    renderMembers();
  },
  message: showMessage,
  refused(event) {
    hint.textContent = event.reason;
  },
};

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/chatroom/${encodeURIComponent(room)}`);
  setStatus(attempts === 0 ? "connecting…" : "reconnecting…", "connecting");
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    handlers[event.type]?.(event);
  });
  socket.addEventListener("close", (event) => {
    enable(false);
    members = [];
    renderMembers();
    if (event.code === 4401) {
      // Logged out (here or in another tab), or the session is gone after a server restart.
      setStatus("logged out", "offline");
      showNotice(`Disconnected: ${event.reason || "logged out"}. `, "alert");
      const link = document.createElement("a");
      link.href = "/login?notice=expired";
      link.textContent = "Log in again";
      list.lastElementChild.append(link);
      return;
    }
    if (event.code === 4404 || event.code === 1008) {
      setStatus("closed", "offline");
      showNotice(`Disconnected: ${event.reason}`, "alert");
      return;
    }
    // A restart or a network hiccup: try again, waiting longer each time (at most 10 s, with jitter).
    const delay = Math.min(10_000, 500 * 2 ** attempts) * (0.75 + Math.random() / 2);
    attempts += 1;
    if (attempts === 1) showNotice("Connection lost; reconnecting…", "alert");
    setStatus(`reconnecting in ${Math.ceil(delay / 1000)} s`, "offline");
    setTimeout(connect, delay);
  });
}

// Say why a message cannot go, rather than cutting or dropping it.
function check(text) {
  if (text === "") return "Type a message first.";
  if (text.length > maxText) return `${text.length} characters: at most ${maxText} fit in one message.`;
  return "";
}
input.addEventListener("input", () => {
  const text = input.value.trim();
  hint.textContent = text.length > maxText ? check(text) : "";
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  hint.textContent = check(text);
  if (hint.textContent !== "" || socket.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ type: "say", text }));
  input.value = "";
});

connect();
