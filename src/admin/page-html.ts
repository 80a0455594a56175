/**
 * The admin page: one HTML document with its CSS and script inline (no framework, a few KB). The
 * script reads the live figures from `<base>/stream` (Server-Sent Events) and writes them with
 * `textContent` only, so names from clients (rooms, users) are never parsed as HTML.
 * @example
 * res.end(pageHtml("/admin/ws", false, 1000));
 */
export function pageHtml(base: string, actions: boolean, intervalMs: number): string {
  const config = JSON.stringify({ base, actions, intervalMs }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>tswebsockets admin</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
header{background:#1d232b;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:16px;margin:0}header small{opacity:.7}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;padding:14px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#5b6470;margin:0 0 8px}
.big{font-size:30px;font-weight:600}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;font-variant-numeric:tabular-nums;font-size:13px;overflow-wrap:anywhere}
td.n{text-align:right}code{font-size:12px}.muted{color:#8a929c}
input,button{font:inherit;padding:3px 6px}#live.off{color:#c0392b}
</style></head><body>
<header><h1>tswebsockets</h1><small>node <code id="node">…</code></small><small id="live">connecting…</small></header>
<main>
<section><h2>Connections</h2><div class="big" id="connections">–</div>
<div class="muted"><span id="rooms">–</span> rooms · in <span id="rate-in">–</span>/s · out <span id="rate-out">–</span>/s</div>
<table id="namespaces"></table></section>
<section><h2>Largest rooms</h2><table id="largest"></table></section>
<section><h2>Cluster</h2><table id="adapter"></table></section>
<section><h2>Look up</h2><form id="lookup"><input name="q" placeholder="socket id or user id" size="28">
<button name="by" value="socket">socket</button><button name="by" value="user">user</button></form><table id="found"></table></section>
<section><h2>Last refusals</h2><table id="refusals"></table></section>
<section><h2>Last forced closes</h2><table id="forced"></table></section>
<section id="actions" hidden><h2>Actions</h2>
<form id="close-user"><input name="user" placeholder="user id" required> <button>close sockets</button></form>
<form id="send"><input name="room" placeholder="room" required> <input name="message" placeholder="message"> <button>send</button></form>
<div class="muted" id="action-result"></div></section>
</main>
<script>
const cfg = ${config};
const $ = (id) => document.getElementById(id);
function rows(table, items, cells) {
  table.replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    for (const [text, numeric] of cells(item)) {
      const td = document.createElement("td");
      td.textContent = String(text);
      if (numeric) td.className = "n";
      tr.append(td);
    }
    return tr;
  }));
}
const time = (ms) => new Date(ms).toLocaleTimeString();
function show(s) {
  $("node").textContent = s.node;
  $("connections").textContent = s.connections;
  $("rooms").textContent = s.rooms;
  $("rate-in").textContent = s.rates.in;
  $("rate-out").textContent = s.rates.out;
  rows($("namespaces"), s.namespaces, (n) => [[n.namespace], [n.count, true]]);
  rows($("largest"), s.largestRooms, (r) => [[r.room], [r.size, true]]);
  rows($("adapter"), s.adapter ? Object.entries(s.adapter) : [["adapter", "in memory (one node)"]], ([k, v]) => [[k], [v, true]]);
  rows($("refusals"), s.refusals, (i) => [[time(i.at)], [i.status], [i.code], [i.namespace ?? ""], [i.detail]]);
  rows($("forced"), s.forcedCloses, (i) => [[time(i.at)], [i.status], [i.code], [i.namespace ?? ""], [i.detail]]);
}
const events = new EventSource(cfg.base + "/stream");
events.onmessage = (e) => { $("live").textContent = "live"; $("live").className = ""; show(JSON.parse(e.data)); };
events.onerror = () => { $("live").textContent = "disconnected"; $("live").className = "off"; };
$("lookup").onsubmit = async (e) => {
  e.preventDefault();
  const by = e.submitter?.value ?? "socket";
  const r = await fetch(cfg.base + "/lookup?" + new URLSearchParams({ [by]: e.target.q.value }));
  const { sockets } = await r.json();
  rows($("found"), sockets.length ? sockets : [null], (s) => s ? [[s.id], [s.namespace], [s.rooms.join(", ")], [s.user ?? ""], [s.remoteAddress]] : [["nothing found"]]);
};
async function act(path, body) {
  const r = await fetch(cfg.base + "/actions/" + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  $("action-result").textContent = r.ok ? "done" : await r.text();
}
if (cfg.actions) {
  $("actions").hidden = false;
  $("close-user").onsubmit = (e) => { e.preventDefault(); act("close-user", { user: e.target.user.value }); };
  $("send").onsubmit = (e) => { e.preventDefault(); act("send", { room: e.target.room.value, message: e.target.message.value }); };
}
</script></body></html>
`;
}
