// The supervisors' wallboard: one WebSocket (WS /api/v1/live) gives a snapshot, then
// numbered deltas; on a drop it reconnects by itself (live_socket.js: backoff, silence,
// the token), asking for ?since=<last seq>&epoch=<stream> to get only what it missed
// (or a fresh snapshot). While the stream is lost the board is greyed out and its
// clocks (waits, times in state) stand still at the moment of the loss: a number that
// keeps ticking would claim a freshness it does not have. A token the service refuses
// (4401: revoked, or unknown after a demo restart made a new one) stops the
// reconnecting and asks for a new token. Words for the codes rows carry (queue names,
// pause reasons) come from the service, never from a table kept here.
"use strict";
const TEXT = {
  zh: { title: "12345 政务服务便民热线 · 实时监控", queues: "队列", queue: "队列", waiting: "排队",
        longest: "最长等待", available: "空闲", on_call: "通话", ringing: "振铃", paused: "暂停",
        abandoned: "今日放弃", sl: "15秒服务水平", answer_rate: "接通率", seats: "坐席",
        wrap_up: "话后处理", unavailable: "不可达", offline: "未登录", stale: "数据同步中",
        ok: "实时", lang: "English", error: "连接中断，正在重连", calls: "通",
        token: "请输入监控令牌", save: "连接", denied: "令牌无效或无权限", centre: "全中心",
        trend: "今日趋势", offered: "呼入", answered: "接通", peak: "排队峰值",
        to_queue: "入队用时P90", lost: "连接中断（自 {since} 起），正在重连…",
        revoked: "监控令牌已失效：已被吊销或服务不认识它（演示重启后会在终端打印新的令牌地址）。请粘贴新令牌。",
        forbidden: "此令牌无权查看实时监控（需要主管或管理员令牌）。请粘贴其他令牌。",
        no_token: "请输入监控令牌。" },
  en: { title: "12345 Government Service Hotline · Live", queues: "Queues", queue: "Queue",
        waiting: "Waiting", longest: "Longest wait", available: "Available", on_call: "On call",
        ringing: "Ringing", paused: "Paused", abandoned: "Abandoned today", sl: "SL 15 s",
        answer_rate: "Answer rate", seats: "Seats", wrap_up: "Wrap-up",
        unavailable: "Unreachable", offline: "Logged out", stale: "resyncing", ok: "live",
        lang: "中文", error: "connection lost, reconnecting", calls: "calls",
        token: "Enter a wallboard token", save: "Connect", denied: "token unknown or not allowed",
        centre: "Whole centre", trend: "Today by hour", offered: "Offered", answered: "Answered",
        peak: "Waiting peak", to_queue: "To queue p90",
        lost: "Connection lost since {since}, reconnecting…",
        revoked: "The wallboard token was revoked or is unknown (a demo restart prints a new "
          + "address with a new token in its terminal). Paste a new token.",
        forbidden: "This token may not watch the live board (it needs a supervisor or admin "
          + "token). Paste another token.",
        no_token: "Enter a wallboard token." },
};
let lang = localStorage.getItem("wallboard-lang") || "zh";
const t = (key) => TEXT[lang][key] || key;

// --- state from the stream ---------------------------------------------------------
const queues = new Map();   // key -> row (with .received: performance.now() at arrival)
const seats = new Map();
let lastSeq = null;
let epoch = null;
let labels = { pause_reasons: {} };  // the service's words for codes, from the snapshot
// "connecting" | "live" | "lost" | "revoked" | "forbidden" | "no_token"; lostAt: Date.now() at the loss,
// lostTick: performance.now() then (the clocks of the board stand still at these)
let link = "connecting";
let lostAt = null;
let lostTick = null;
const tickNow = () => (lostTick ?? performance.now());
const wallNow = () => (lostAt ?? Date.now());
const stream = new LiveSocket({
  path: "/api/v1/live",
  tokenKey: "wallboard-token",
  // resume after the last delta seen, if any
  query: () => (lastSeq !== null && epoch ? `?since=${lastSeq}&epoch=${epoch}` : ""),
  onFrame: onMessage,
  onLink: (state) => {
    // "live" is the snapshot's or the resume's to say (onMessage: restored)
    if (state === "lost") lose(state);
    else if (state === "connecting") setLink(state);
    else if (state !== "live") askToken(state);
  },
  onOpen: () => loadTrend(),
});

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
    if (msg.labels) labels = msg.labels;
    epoch = msg.epoch;
    restored();
  } else if (msg.type === "delta") {
    put(queues, msg.queues);
    put(seats, msg.seats);
    for (const key of msg.removed.queues) queues.delete(key);
    for (const key of msg.removed.seats) seats.delete(key);
  } else if (msg.type === "resumed") {
    epoch = msg.epoch;
    restored();
  }
  if (msg.seq !== undefined) lastSeq = Math.max(lastSeq ?? 0, msg.seq);
  document.body.dataset.seq = String(lastSeq);
  scheduleDraw();
}

function restored() {
  lostAt = null;
  lostTick = null;
  setLink("live");
}

function lose(why) {
  if (lostAt === null) {
    lostAt = Date.now();
    lostTick = performance.now();
  }
  setLink(why);
}

function setLink(state) {
  link = state;
  document.body.dataset.link = state;
  const banner = document.getElementById("link-banner");
  banner.hidden = state === "live" || state === "connecting";
  const asking = state === "revoked" || state === "forbidden" || state === "no_token";
  document.getElementById("token-form").hidden = !asking;
  const since = lostAt === null ? "" : new Date(lostAt).toLocaleTimeString(
    lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  document.getElementById("link-message").textContent =
    banner.hidden ? "" : t(state).replace("{since}", since);
  scheduleDraw();
}

function askToken(why) {
  lose(why);
  const form = document.getElementById("token-form");
  form.onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    const token = input.value.trim();
    if (!token) return;
    input.value = "";
    stream.useToken(token);
  };
}

// --- drawing -------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = t("lang");
  setLink(link);  // the banner's words in the new language
}

function reasonText(codes) {
  // a seat paused in several queues for different reasons carries them joined by ", "
  if (!codes) return "";
  const words = codes.split(", ").map((code) => {
    const label = labels.pause_reasons[code];
    return (label && label[lang]) || code;
  });
  return words.join(lang === "zh" ? "、" : ", ");
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
  const toQueue = today.time_to_queue_p90_s;
  const tr = document.createElement("tr");
  tr.dataset.queue = q.name;
  if (cls) tr.className = cls;
  tr.append(cell(label, "", "name"),
    cell(q.waiting, q.waiting > 0 ? "alert" : "", "waiting"),
    cell(mmss(longest), longest > 15 ? "alert" : "", "longest"),
    cell(q.seats.available, "", "available"), cell(q.seats.on_call, "", "on_call"),
    cell(q.seats.ringing, "", "ringing"), cell(q.seats.paused, "", "paused"),
    cell(percent(today.sl15), "", "sl15"), cell(percent(today.answer_rate), "", "answer_rate"),
    cell(today.abandoned ?? "–", "", "abandoned"),
    cell(toQueue === null || toQueue === undefined ? "–" : mmss(toQueue), "", "to_queue"));
  return tr;
}

function drawQueues() {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren();
  const now = tickNow();
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
    // a token that may not read the day's figures hides the chart; a refused one
    // (revoked) leaves it greyed out with the rest of the board
    if (!response.ok) { if (response.status === 403) trend = null; return; }
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
  // drawn at the size the layout gives it, so its text is not stretched
  const width = Math.max(240, chart.clientWidth || 960);
  const height = Math.max(80, chart.clientHeight || 220);
  const [left, bottom] = [36, 20];
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
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
  const scrolled = grid.scrollTop;  // redrawn every second: where the reader scrolled stays
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
    const state = document.createElement("div");
    state.className = "detail state";
    const reason = reasonText(s.state_reason || s.paused_reason);
    state.textContent = `${t(s.state)}${reason ? " · " + reason : ""}`;
    state.title = state.textContent;
    const detail = document.createElement("div");
    detail.className = "detail";
    // state_since: ISO 8601 with offset (the API's one time format)
    const since = s.state_since ? mmss((wallNow() - Date.parse(s.state_since)) / 1000) : "";
    const clock = document.createElement("span");
    clock.className = "since";
    clock.textContent = since;
    detail.append(clock, `${since ? " · " : ""}${s.calls_today} ${t("calls")}`);
    div.append(name, state, detail);
    grid.append(div);
  }
  grid.scrollTop = scrolled;
  document.getElementById("seat-summary").textContent = Object.entries(counts)
    .map(([k, v]) => `${t(k)} ${v}`).join(" · ");
}

function draw() {
  drawQueues();
  drawSeats();
  const status = document.getElementById("status");
  const stale = [...queues.values(), ...seats.values()].some((row) => row.stale);
  const live = link === "live" && stream.connected;
  const away = link === "lost" || link === "connecting" ? t("error") : t("denied");
  status.textContent = !live ? away : stale ? t("stale") : t("ok");
  status.className = !live || stale ? "status stale" : "status";
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
stream.connect();
setInterval(loadTrend, 60000);  // the hourly trend moves slowly; the table is live
setInterval(scheduleDraw, 1000);  // waits and times in state tick between deltas
window.addEventListener("resize", drawTrend);
