// The status page: one EventSource, no polling. Everything that comes from
// a board is set with textContent, never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // board ID -> {tr, cells, seen}
  let offset = 0; // server clock minus ours, in ms
  let started = null;
  let lastSeen = new Map();

  function text(el, s) { if (el.textContent !== s) el.textContent = s; }

  function duration(ms) {
    let s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + s + "s";
    return s + "s";
  }

  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }

  function row(id) {
    let r = rows.get(id);
    if (r) return r;
    const tr = document.createElement("tr");
    const names = ["id", "remote", "tls", "since", "in", "out", "seen", "line"];
    const cells = {};
    for (const n of names) {
      const td = document.createElement("td");
      td.className = n;
      if (n === "in" || n === "out") td.classList.add("num");
      tr.appendChild(td);
      cells[n] = td;
    }
    tr.dataset.board = id;
    text(cells.id, id);
    $("boards").tBodies[0].appendChild(tr);
    r = { tr, cells, line: null };
    rows.set(id, r);
    return r;
  }

  function render(s) {
    offset = Date.parse(s.time) - Date.now();
    started = Date.parse(s.gateway.started);
    text($("gw-id"), s.gateway.id || "gatewayd");
    text($("gw-version"), s.gateway.version);
    document.title = (s.gateway.id || "gatewayd") + " · gatewayd";
    const health = $("gw-health");
    text(health, s.gateway.health);
    health.className = s.gateway.healthy ? "ok" : "bad";
    text($("gw-clients"), String(s.gateway.clients));
    const b = s.broker;
    const state = $("broker-state");
    if (b) {
      text(state, (b.connected ? "connected to " : "unreachable: ") + b.broker);
      state.className = b.connected ? "ok" : "bad";
      text($("queue-lines"), String(b.queue_messages));
      text($("queue-bytes"), bytes(b.queue_bytes));
      text($("dead-letters"), b.dead_letters === null ? "not counted" : String(b.dead_letters));
    } else {
      text(state, "no bridge (mqtt.broker is empty)");
      state.className = "";
    }
    const present = new Set();
    for (const bd of s.boards) {
      present.add(bd.id);
      const r = row(bd.id);
      r.tr.classList.remove("gone");
      text(r.cells.remote, bd.remote);
      text(r.cells.tls, bd.tls ? "yes" : "no");
      text(r.cells.since, new Date(bd.connected_since).toLocaleString());
      text(r.cells.in, String(bd.messages_in));
      text(r.cells.out, String(bd.messages_out));
      lastSeen.set(bd.id, Date.parse(bd.last_seen));
      if (r.line !== bd.last_line) {
        r.line = bd.last_line;
        text(r.cells.line, bd.last_line);
      }
    }
    for (const [id, r] of rows) {
      if (!present.has(id) && !r.tr.classList.contains("gone")) {
        r.tr.classList.add("gone");
        text(r.cells.seen, "gone");
        lastSeen.delete(id);
      }
    }
    text($("board-count"), s.boards.length + " connected");
    $("no-boards").hidden = rows.size > 0;
    tick();
  }

  // Between events the page counts time itself.
  function tick() {
    const now = Date.now() + offset;
    if (started !== null) text($("gw-uptime"), duration(now - started));
    for (const [id, t] of lastSeen) {
      const r = rows.get(id);
      if (r) text(r.cells.seen, duration(now - t) + " ago");
    }
  }
  setInterval(tick, 1000);

  const live = $("live");
  const es = new EventSource("events");
  es.addEventListener("snapshot", (e) => {
    render(JSON.parse(e.data));
    text(live, "live");
    live.className = "";
  });
  es.onerror = () => {
    text(live, "reconnecting…");
    live.className = "stale";
  };
})();
