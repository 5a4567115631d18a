// The dashboard polls the daemon's JSON routes and draws them; no
// libraries, no build step. The API is at /localapi/v0/ both on the socket
// and on the TCP listener (where the token cookie authorises it).
"use strict";

const API = "/localapi/v0/";
const HOURS = 8;
const POLL_MS = 3000;
const COLORS = {
  owner: "#d9534f", "owner-back": "#f0ad4e", idle: "#5bc0de", donating: "#3a7",
  paused: "#777", "outside-hours": "#bbb",
};

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(id, v) { document.getElementById(id).textContent = String(v); }

async function get(path) {
  const r = await fetch(API + path, { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function fillRows(id, rows, cols) {
  const tb = document.getElementById(id);
  tb.replaceChildren();
  if (rows.length === 0) {
    const tr = el("tr");
    tr.append(el("td", { colspan: cols, class: "empty" }, "none"));
    tb.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = el("tr");
    for (const c of cells) tr.append(c instanceof Node ? wrapTd(c) : el("td", {}, c));
    tb.append(tr);
  }
}

function wrapTd(node) { const td = el("td"); td.append(node); return td; }

function hours(sec) { return (sec / 3600).toFixed(2); }

function ago(t) {
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

// peerName is a peer's machine name when the swarm's offers say it, else
// the end of its ID.
function peerName(id, st, peers) {
  if (id === st.id) return st.name || "this machine";
  const p = peers.find(p => p.peer === id);
  return (p && p.name) || "…" + id.slice(-8);
}

function drawStatus(st, peers) {
  setText("name", st.name || st.id);
  const state = st.presence.detail || st.presence.state;
  const s = document.getElementById("state");
  s.textContent = state;
  s.dataset.state = state;
  s.style.background = COLORS[state] || "#888";
  setText("reason", st.presence.reason || "");
  const guests = st.guests || [];
  setText("guests-count", guests.length);
  fillRows("guests", guests.map(g => [g.job, g.task, peerName(g.home_peer, st, peers), (g.argv || []).join(" "), ago(g.started), g.action || "running"]), 6);
}

function drawJobs(jobs) {
  setText("jobs-count", jobs.length);
  fillRows("jobs", jobs.map(j => {
    const all = j.tasks.length;
    const done = j.tasks.filter(t => t.state === "done").length;
    const p = el("span", { class: "progress", "data-job": j.id, "data-done": done, "data-all": all });
    const bar = el("span", { class: "bar" });
    const fill = el("i");
    fill.style.width = (all ? 100 * done / all : 0) + "%";
    bar.append(fill);
    p.append(bar, document.createTextNode(done + "/" + all));
    return [j.id, j.request.name || (j.request.argv || []).join(" "), j.state, p];
  }), 4);
}

function drawPeers(peers) {
  setText("peers-count", peers.length);
  fillRows("peers", peers.map(p => [p.name || p.peer, p.state, String(p.free_cpus ?? ""), p.reason || ""]), 4);
}

function drawStats(s) {
  setText("cpu-donated", hours(s.cpu_donated_seconds));
  setText("cpu-received", hours(s.cpu_received_seconds));
  // The exact figures, for a tooltip and for tests comparing with the API.
  for (const [id, sec] of [["cpu-donated", s.cpu_donated_seconds], ["cpu-received", s.cpu_received_seconds]]) {
    const e = document.getElementById(id);
    e.dataset.seconds = String(sec);
    e.title = sec.toFixed(1) + " CPU seconds";
  }
  setText("tasks-run", s.tasks_run);
  setText("tasks-preempted", s.tasks_preempted);
  drawChart(s.history || [], new Date(s.time).getTime());
}

// drawChart paints one rectangle per presence state over the last HOURS:
// each change lasts until the next one (the last one until now).
function drawChart(history, now) {
  const svg = document.getElementById("chart");
  const NS = "http://www.w3.org/2000/svg";
  const W = 800, H = 70, start = now - HOURS * 3600 * 1000;
  svg.replaceChildren();
  const seen = new Set();
  history.forEach((h, i) => {
    const from = Math.max(new Date(h.time).getTime(), start);
    const to = i + 1 < history.length ? new Date(history[i + 1].time).getTime() : now;
    if (to <= start) return;
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", (from - start) / (now - start) * W);
    r.setAttribute("width", Math.max(1, (to - from) / (now - start) * W));
    r.setAttribute("y", 10);
    r.setAttribute("height", H - 20);
    r.setAttribute("fill", COLORS[h.state] || "#888");
    r.setAttribute("data-state", h.state);
    const title = document.createElementNS(NS, "title");
    title.textContent = h.state + " from " + new Date(h.time).toLocaleTimeString();
    r.append(title);
    svg.append(r);
    seen.add(h.state);
  });
  for (let k = 0; k <= HOURS; k++) {
    const x = k / HOURS * W;
    const l = document.createElementNS(NS, "line");
    l.setAttribute("x1", x); l.setAttribute("x2", x);
    l.setAttribute("y1", H - 10); l.setAttribute("y2", H);
    l.setAttribute("stroke", "#999");
    svg.append(l);
  }
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  for (const st of seen) {
    const sp = el("span");
    const sw = el("i");
    sw.style.background = COLORS[st] || "#888";
    sp.append(sw, document.createTextNode(st));
    legend.append(sp);
  }
}

async function refresh() {
  const err = document.getElementById("error");
  try {
    const [st, jobs, peers, stats] = await Promise.all([get("status"), get("jobs"), get("peers"), get("stats")]);
    drawStatus(st, peers);
    drawJobs(jobs);
    drawPeers(peers);
    drawStats(stats);
    err.hidden = true;
    setText("updated", new Date().toLocaleTimeString());
    document.body.dataset.loaded = "1";
  } catch (e) {
    err.hidden = false;
    err.textContent = "daemon unreachable: " + e.message;
  }
}

setText("hours", HOURS);
refresh();
setInterval(refresh, POLL_MS);
