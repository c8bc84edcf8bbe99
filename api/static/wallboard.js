// The supervisors' wallboard: polls the live API and redraws. All assets are local.
"use strict";
const TEXT = {
  zh: { title: "12345 政务服务便民热线 · 实时监控", queues: "队列", queue: "队列", waiting: "排队",
        longest: "最长等待", available: "空闲", on_call: "通话", ringing: "振铃", paused: "暂停",
        completed: "已接", abandoned: "放弃", sl: "15秒服务水平", seats: "坐席",
        wrap_up: "话后处理", unavailable: "不可达", offline: "未登录", stale: "数据同步中",
        ok: "实时", lang: "English", error: "无法连接服务", calls: "通" },
  en: { title: "12345 Government Service Hotline · Live", queues: "Queues", queue: "Queue",
        waiting: "Waiting", longest: "Longest wait", available: "Available", on_call: "On call",
        ringing: "Ringing", paused: "Paused", completed: "Answered", abandoned: "Abandoned",
        sl: "SL 15 s", seats: "Seats", wrap_up: "Wrap-up", unavailable: "Unreachable",
        offline: "Logged out", stale: "resyncing", ok: "live", lang: "中文",
        error: "service unreachable", calls: "calls" },
};
let lang = localStorage.getItem("wallboard-lang") || "zh";
const t = (key) => TEXT[lang][key] || key;

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = t("lang");
}

function mmss(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function drawQueues(queues) {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren();
  for (const q of queues) {
    const tr = document.createElement("tr");
    tr.append(cell(q.name.replace(/^hotline-/, "")), cell(q.waiting, q.waiting > 0 ? "alert" : ""),
      cell(mmss(q.longest_wait_s), q.longest_wait_s > 15 ? "alert" : ""), cell(q.available),
      cell(q.on_call), cell(q.ringing), cell(q.paused), cell(q.completed), cell(q.abandoned),
      cell(`${q.service_level_perf.toFixed(1)}%`));
    body.append(tr);
  }
}

function drawSeats(seats) {
  const grid = document.getElementById("seats");
  grid.replaceChildren();
  const counts = {};
  for (const s of seats) {
    counts[s.state] = (counts[s.state] || 0) + 1;
    const div = document.createElement("div");
    div.className = `seat ${s.state}`;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = s.name;
    const detail = document.createElement("div");
    detail.className = "detail";
    const reason = s.state_reason || s.paused_reason;
    const since = s.state_since ? " " + mmss(Math.max(0, Date.now() / 1000 - s.state_since)) : "";
    detail.textContent = `${t(s.state)}${reason ? " · " + reason : ""}${since}`
      + ` · ${s.calls_taken} ${t("calls")}`;
    div.append(name, detail);
    grid.append(div);
  }
  document.getElementById("seat-summary").textContent = Object.entries(counts)
    .map(([k, v]) => `${t(k)} ${v}`).join(" · ");
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [queues, seats] = await Promise.all([
      fetch("/api/v1/queues").then((r) => r.json()), fetch("/api/v1/seats").then((r) => r.json())]);
    drawQueues(queues);
    drawSeats(seats);
    const stale = queues.some((q) => q.stale) || seats.some((s) => s.stale);
    status.textContent = stale ? t("stale") : t("ok");
    status.className = stale ? "status stale" : "status";
  } catch (err) {
    status.textContent = t("error");
    status.className = "status stale";
  }
  document.getElementById("clock").textContent = new Date().toLocaleTimeString(
    lang === "zh" ? "zh-CN" : "en-GB");
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("wallboard-lang", lang);
  applyLanguage();
  refresh();
});
applyLanguage();
refresh();
setInterval(refresh, 2000);
