// The supervisors' wallboard: one WebSocket (WS /api/v1/live) gives a snapshot, then
// numbered deltas; on a drop it reconnects with ?since=<last seq>&epoch=<stream> and gets
// only what it missed (or a fresh snapshot). Waits and times in state tick locally
// between deltas. The token comes from the URL fragment (#token=cc_..., never sent to
// the server in a URL) or a one-time prompt, and is kept in localStorage.
"use strict";
const TEXT = {
  zh: { title: "12345 政务服务便民热线 · 实时监控", queues: "队列", queue: "队列", waiting: "排队",
        longest: "最长等待", available: "空闲", on_call: "通话", ringing: "振铃", paused: "暂停",
        abandoned: "今日放弃", sl: "15秒服务水平", answer_rate: "接通率", seats: "坐席",
        wrap_up: "话后处理", unavailable: "不可达", offline: "未登录", stale: "数据同步中",
        ok: "实时", lang: "English", error: "连接中断，正在重连", calls: "通",
        token: "请输入监控令牌", save: "连接", denied: "令牌无效或无权限", centre: "全中心",
        trend: "今日趋势", offered: "呼入", answered: "接通", peak: "排队峰值" },
  en: { title: "12345 Government Service Hotline · Live", queues: "Queues", queue: "Queue",
        waiting: "Waiting", longest: "Longest wait", available: "Available", on_call: "On call",
        ringing: "Ringing", paused: "Paused", abandoned: "Abandoned today", sl: "SL 15 s",
        answer_rate: "Answer rate", seats: "Seats", wrap_up: "Wrap-up",
        unavailable: "Unreachable", offline: "Logged out", stale: "resyncing", ok: "live",
        lang: "中文", error: "connection lost, reconnecting", calls: "calls",
        token: "Enter a wallboard token", save: "Connect", denied: "token unknown or not allowed",
        centre: "Whole centre", trend: "Today by hour", offered: "Offered", answered: "Answered",
        peak: "Waiting peak" },
};
let lang = localStorage.getItem("wallboard-lang") || "zh";
const t = (key) => TEXT[lang][key] || key;

// --- state from the stream ---------------------------------------------------------
const queues = new Map();   // key -> row (with .received: performance.now() at arrival)
const seats = new Map();
let lastSeq = null;
let epoch = null;
let connected = false;
let retry = 0;

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem("wallboard-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem("wallboard-token");
}

function put(map, rows) {
  const now = performance.now();
  for (const row of rows) { row.received = now; map.set(row.key, row); }
}

function onMessage(msg) {
  if (msg.type === "snapshot") {
    queues.clear();
    seats.clear();
    put(queues, msg.queues);
    put(seats, msg.seats);
    epoch = msg.epoch;
  } else if (msg.type === "delta") {
    put(queues, msg.queues);
    put(seats, msg.seats);
    for (const key of msg.removed.queues) queues.delete(key);
    for (const key of msg.removed.seats) seats.delete(key);
  } else if (msg.type === "resumed") {
    epoch = msg.epoch;
  }
  if (msg.seq !== undefined) lastSeq = Math.max(lastSeq ?? 0, msg.seq);
  document.body.dataset.seq = String(lastSeq);
  scheduleDraw();
}

function connect() {
  const token = takeToken();
  if (!token) { askToken(); return; }
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const resume = lastSeq !== null && epoch ? `?since=${lastSeq}&epoch=${epoch}` : "";
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/live${resume}`);
  ws.onopen = () => { ws.send(JSON.stringify({ token })); loadTrend(); };
  ws.onmessage = (event) => { connected = true; retry = 0; onMessage(JSON.parse(event.data)); };
  ws.onclose = (event) => {
    connected = false;
    if (event.code === 4401 || event.code === 4403) {
      localStorage.removeItem("wallboard-token");
      askToken(t("denied"));
      return;
    }
    scheduleDraw();
    retry = Math.min(retry + 1, 5);
    setTimeout(connect, 500 * 2 ** retry);
  };
}

function askToken(problem) {
  const form = document.getElementById("token-form");
  form.hidden = false;
  document.getElementById("token-problem").textContent = problem || "";
  form.onsubmit = (event) => {
    event.preventDefault();
    localStorage.setItem("wallboard-token", document.getElementById("token-input").value.trim());
    form.hidden = true;
    connect();
  };
}

// --- drawing -------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = t("lang");
}

function mmss(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// every rate arrives as a fraction 0..1; percent is for the screen only
const percent = (value) =>
  (value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`);

function cell(text, cls, field) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (field) td.dataset.field = field;
  return td;
}

function queueRow(q, now, label, cls) {
  const longest = q.waiting > 0 ? q.longest_wait_s + (now - q.received) / 1000 : 0;
  const today = q.today || {};
  const tr = document.createElement("tr");
  tr.dataset.queue = q.name;
  if (cls) tr.className = cls;
  tr.append(cell(label, "", "name"),
    cell(q.waiting, q.waiting > 0 ? "alert" : "", "waiting"),
    cell(mmss(longest), longest > 15 ? "alert" : "", "longest"),
    cell(q.seats.available, "", "available"), cell(q.seats.on_call, "", "on_call"),
    cell(q.seats.ringing, "", "ringing"), cell(q.seats.paused, "", "paused"),
    cell(percent(today.sl15), "", "sl15"), cell(percent(today.answer_rate), "", "answer_rate"),
    cell(today.abandoned ?? "–", "", "abandoned"));
  return tr;
}

function drawQueues() {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren();
  const now = performance.now();
  const rows = [...queues.values()].filter((q) => q.key !== "centre");
  for (const q of rows.sort((a, b) => a.key.localeCompare(b.key))) {
    body.append(queueRow(q, now, (q.display && q.display[lang]) || q.name));
  }
  const centre = queues.get("centre");  // each seat once, every queue's callers, the day
  if (centre) body.append(queueRow(centre, now, t("centre"), "total"));
}

// --- today by hour (GET /api/v1/stats/today, a supervisor's token) ---------------------
let trend = null;

async function loadTrend() {
  const token = localStorage.getItem("wallboard-token");
  if (!token) return;
  try {
    const response = await fetch("/api/v1/stats/today", {
      headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) { trend = null; return; }
    trend = await response.json();
  } catch (error) {
    return;  // the stream's status line already says when the service is away
  }
  drawTrend();
}

function svg(name, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawTrend() {
  const section = document.getElementById("trend-section");
  const chart = document.getElementById("trend");
  section.hidden = !trend;
  if (!trend) return;
  chart.replaceChildren();
  const [width, height, left, bottom] = [960, 220, 36, 20];
  const hours = trend.hours;
  const most = Math.max(1, ...hours.map((h) => h.offered), ...hours.map((h) => h.waiting_peak));
  const slot = (width - left) / 24;
  const y = (value, top) => height - bottom - (value / top) * (height - bottom - 10);
  const start = Date.parse(`${trend.date}T00:00:00${trend.as_of.slice(19)}`);
  const slPoints = [];
  const peakPoints = [];
  for (const h of hours) {
    const index = Math.round((Date.parse(h.period_start) - start) / 3600000);
    const x = left + index * slot;
    chart.append(svg("rect", { class: "offered", x: x + 2, y: y(h.offered, most),
      width: slot / 2 - 2, height: height - bottom - y(h.offered, most) }));
    chart.append(svg("rect", { class: "answered", x: x + slot / 2, y: y(h.answered, most),
      width: slot / 2 - 2, height: height - bottom - y(h.answered, most) }));
    if (h.sl15 !== null) slPoints.push(`${x + slot / 2},${y(h.sl15, 1)}`);
    peakPoints.push(`${x + slot / 2},${y(h.waiting_peak, most)}`);
  }
  chart.append(svg("polyline", { class: "sl", points: slPoints.join(" ") }));
  chart.append(svg("polyline", { class: "peak", points: peakPoints.join(" ") }));
  for (let hour = 0; hour < 24; hour += 3) {
    chart.append(svg("text", { x: left + hour * slot, y: height - 5 }, `${hour}:00`));
  }
  chart.append(svg("text", { x: 2, y: 14 }, String(most)));
  chart.append(svg("text", { x: 2, y: height - bottom }, "0"));
  const legend = document.getElementById("trend-legend");
  legend.replaceChildren();
  for (const [cls, key] of [["offered", "offered"], ["answered", "answered"], ["sl", "sl"],
    ["peak", "peak"]]) {
    const swatch = document.createElement("span");
    swatch.className = "key";
    swatch.style.background = { offered: "#415a77", answered: "var(--available)",
      sl: "var(--ringing)", peak: "#ff6b6b" }[cls];
    legend.append(swatch, document.createTextNode(t(key)));
  }
}

function drawSeats() {
  const grid = document.getElementById("seats");
  grid.replaceChildren();
  const counts = {};
  const rows = [...seats.values()].sort((a, b) =>
    (a.extension || "~").localeCompare(b.extension || "~") || a.interface.localeCompare(b.interface));
  for (const s of rows) {
    counts[s.state] = (counts[s.state] || 0) + 1;
    const div = document.createElement("div");
    div.className = `seat ${s.state}`;
    div.dataset.seat = s.name;
    div.dataset.state = s.state;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = s.name;
    const detail = document.createElement("div");
    detail.className = "detail";
    const reason = s.state_reason || s.paused_reason;
    // state_since: ISO 8601 with offset (the API's one time format)
    const since = s.state_since ? " " + mmss((Date.now() - Date.parse(s.state_since)) / 1000) : "";
    detail.textContent = `${t(s.state)}${reason ? " · " + reason : ""}${since}`
      + ` · ${s.calls_today} ${t("calls")}`;
    div.append(name, detail);
    grid.append(div);
  }
  document.getElementById("seat-summary").textContent = Object.entries(counts)
    .map(([k, v]) => `${t(k)} ${v}`).join(" · ");
}

function draw() {
  drawQueues();
  drawSeats();
  const status = document.getElementById("status");
  const stale = [...queues.values(), ...seats.values()].some((row) => row.stale);
  status.textContent = !connected ? t("error") : stale ? t("stale") : t("ok");
  status.className = !connected || stale ? "status stale" : "status";
  document.getElementById("clock").textContent = new Date().toLocaleTimeString(
    lang === "zh" ? "zh-CN" : "en-GB");
}

let drawPending = false;
function scheduleDraw() {  // at most one redraw per frame however many deltas arrive
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("wallboard-lang", lang);
  applyLanguage();
  draw();
  drawTrend();
});
applyLanguage();
connect();
setInterval(loadTrend, 60000);  // the hourly trend moves slowly; the table is live
setInterval(scheduleDraw, 1000);  // waits and times in state tick between deltas
