// The agent's desk: its own seat (log in, pause with a reason, unpause, log out) and,
// the moment a call rings the seat, the screen pop (WS /api/v1/desk): who calls (as the
// privacy rules let this agent see the number), the number dialed and its unit, the IVR
// keys, the wait, the priority and why, the caller's last 30 days, the unit's card.
// During and after the call: the intake, transfer and conference, "mark confidential".
// The socket (live_socket.js) reconnects by itself; on coming back the page asks for the
// seat's call again (GET /api/v1/desk/pop), so a call taken while the link was down is
// shown. Each of the call's actions calls its own endpoint; one this service does not
// offer (404 from a route it lacks) says "not available" instead of failing the page.
// Words for codes (pause reasons, queues, intake kinds, priority reasons) come from the
// service.
"use strict";
const TEXT = {
  zh: { title: "12345 政务服务便民热线 · 坐席工作台", my_seat: "我的坐席", login: "签入",
        logout: "签出", pause: "暂停", unpause: "恢复", call: "来电", caller: "来电号码",
        dialed: "拨打号码", unit: "单位", queue: "队列", ivr_keys: "按键", wait: "等待",
        priority: "优先级", history: "近30天来电", date: "日期", kind: "类别", ticket: "工单号",
        disposition: "结果", card: "单位资料", intake: "登记", summary: "摘要",
        resolved: "当场办结", save_intake: "保存登记", transfer: "转接", blind: "直接转接",
        consult: "咨询转接", conference: "三方通话", complete: "完成转接", cancel: "取消转接",
        leave: "退出三方", privacy: "保密", mark_confidential: "标记保密",
        confidential_reason: "来电人要求保密", lang: "English", token: "请输入坐席令牌",
        save: "连接", ok: "实时", error: "连接中断，正在重连", denied: "令牌无效或无权限",
        lost: "连接中断（自 {since} 起），正在重连…",
        revoked: "坐席令牌已失效：已被吊销或服务不认识它。请粘贴新令牌。",
        forbidden: "此令牌不能使用坐席工作台（需要绑定坐席的坐席令牌）。请粘贴其他令牌。",
        no_token: "请输入坐席令牌。", not_available: "此功能暂不可用",
        ringing: "振铃", talking: "通话中", wrap_up: "话后处理", ended: "已结束",
        missed: "未接听", available: "空闲", on_call: "通话", paused: "暂停",
        unavailable: "不可达", offline: "未登录", seat: "坐席", none: "无",
        no_history: "近30天无来电", history_unavailable: "来电记录暂不可用",
        no_card: "暂无单位资料", responsibilities: "职责", hours: "办公时间",
        transfer_numbers: "转接号码", kb_links: "知识库", saved: "已保存（第 {v} 版）",
        marked: "已标记保密", transfer_state: "转接状态：{s}", seconds: "秒",
        mode_merge: "并入", mode_dock: "对接", mode_retain: "保留" },
  en: { title: "12345 Government Service Hotline · Agent desk", my_seat: "My seat",
        login: "Log in", logout: "Log out", pause: "Pause", unpause: "Resume", call: "Call",
        caller: "Caller", dialed: "Dialed", unit: "Unit", queue: "Queue", ivr_keys: "IVR keys",
        wait: "Waited", priority: "Priority", history: "Last 30 days", date: "Date",
        kind: "Kind", ticket: "Ticket", disposition: "Outcome", card: "Unit card",
        intake: "Intake", summary: "Summary", resolved: "Resolved on the call",
        save_intake: "Save intake", transfer: "Transfer", blind: "Blind transfer",
        consult: "Consult", conference: "Conference", complete: "Complete transfer",
        cancel: "Cancel transfer", leave: "Leave conference", privacy: "Confidentiality",
        mark_confidential: "Mark confidential",
        confidential_reason: "The caller asked for confidentiality", lang: "中文",
        token: "Enter an agent token", save: "Connect", ok: "live",
        error: "connection lost, reconnecting", denied: "token unknown or not allowed",
        lost: "Connection lost since {since}, reconnecting…",
        revoked: "The agent token was revoked or is unknown. Paste a new token.",
        forbidden: "This token may not use the agent desk (it needs an agent token bound "
          + "to a seat). Paste another token.",
        no_token: "Enter an agent token.", not_available: "not available yet",
        ringing: "Ringing", talking: "On the call", wrap_up: "Wrap-up", ended: "Ended",
        missed: "Missed", available: "Available", on_call: "On call", paused: "Paused",
        unavailable: "Unreachable", offline: "Logged out", seat: "Seat", none: "none",
        no_history: "No calls in the last 30 days",
        history_unavailable: "Call history not available", no_card: "No unit card yet",
        responsibilities: "Responsibilities", hours: "Hours",
        transfer_numbers: "Transfer numbers", kb_links: "Knowledge base",
        saved: "Saved (version {v})", marked: "Marked confidential",
        transfer_state: "Transfer: {s}", seconds: "s",
        mode_merge: "merged", mode_dock: "docked", mode_retain: "retained" },
};
let lang = localStorage.getItem("agent-lang") || "zh";
const t = (key) => TEXT[lang][key] || key;
const $ = (id) => document.getElementById(id);

// --- state ---------------------------------------------------------------------------
let seatId = null;
let seatRow = null;
let pauseReasons = [];     // [{code, zh, en}]: the reasons this service accepts
let labels = { pause_reasons: {} };
let pop = null;            // the ScreenPop shown
let phase = null;          // ringing | talking | wrap_up | ended | missed
let kinds = null;          // [{kind, zh, en, confidential_by_default}], null: not offered
let transfer = null;       // the call's latest Transfer
let link = "connecting";
let lostAt = null;
let wasLost = false;
// what the page says of a feature this service does not offer (kept across calls, and
// said again in the other language), and why the unit's card is missing
const notes = { "intake-message": null, "transfer-message": null };
let cardNote = null;
const said = (note) => (note === null ? "" : note === "not_available" ? t(note) : note);

const live = new LiveSocket({
  path: "/api/v1/desk",
  tokenKey: "agent-token",
  onFrame,
  onLink,
  onOpen: () => {},
});

// --- the service's REST API ------------------------------------------------------------
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${live.token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return { status: response.status, ok: response.ok, data };
  } catch (error) {
    return { status: 0, ok: false, data: null };
  }
}

// a route this service lacks answers 404 "Not Found" (405 for another method): the
// feature is not offered here, which is not the same as a refusal about this call
function missing(result) {
  if (result.status === 405) return true;
  return result.status === 404 && (!result.data || result.data.detail === "Not Found");
}

function problem(result) {
  if (missing(result)) return t("not_available");
  if (result.status === 0) return t("error");
  const detail = result.data && (result.data.detail || result.data.title);
  return `${result.status}${detail ? ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)) : ""}`;
}

// --- the stream --------------------------------------------------------------------------
function onFrame(msg) {
  if (msg.type === "desk") {
    seatId = msg.seat;
    pauseReasons = msg.pause_reasons || [];
    if (msg.labels) labels = msg.labels;
    drawReasons();
  } else if (msg.type === "seat") {
    seatRow = msg;
    drawSeat();
  } else if (msg.type === "pop") {
    showPop(msg.pop, msg.phase);
  } else if (msg.type === "call") {
    if (!pop || pop.call !== msg.call) return;
    if (msg.event === "missed") { clearPop(); return; }
    phase = msg.phase;
    if (msg.caller !== undefined) pop.caller = msg.caller;
    drawPop();
  }
}

function onLink(state) {
  if (state === "live" && wasLost) {
    wasLost = false;
    resume();
  }
  if (state === "lost" || state === "revoked" || state === "forbidden") {
    wasLost = true;
    if (lostAt === null) lostAt = Date.now();
  }
  if (state === "live") lostAt = null;
  link = state;
  document.body.dataset.link = state;
  const banner = $("link-banner");
  banner.hidden = state === "live" || state === "connecting";
  const asking = state === "revoked" || state === "forbidden" || state === "no_token";
  $("token-form").hidden = !asking;
  const since = lostAt === null ? "" : new Date(lostAt).toLocaleTimeString(
    lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  $("link-message").textContent = banner.hidden ? "" : t(state).replace("{since}", since);
  drawStatus();
}

async function resume() {  // the seat's call, as it is now, after the link came back
  const result = await api("GET", "/api/v1/desk/pop");
  if (result.ok) showPop(result.data, result.data.phase);
  else if (result.status === 404 && !missing(result) && phase === "ringing") clearPop();
}

// --- the seat ----------------------------------------------------------------------------
function drawReasons() {
  const select = $("pause-reason");
  const chosen = select.value;
  select.replaceChildren(...pauseReasons.map((r) => {
    const option = document.createElement("option");
    option.value = r.code;
    option.textContent = r[lang] || r.code;
    return option;
  }));
  if (chosen) select.value = chosen;
}

function reasonText(codes) {
  if (!codes) return "";
  return codes.split(", ").map((code) => {
    const label = labels.pause_reasons[code];
    return (label && label[lang]) || code;
  }).join(lang === "zh" ? "、" : ", ");
}

function drawSeat() {
  $("seat-id").textContent = seatId ? `${t("seat")} ${seatId}` : "";
  if (!seatRow) return;
  const state = seatRow.state || "offline";
  const box = $("seat");
  box.className = `seat-state ${state}`;
  box.dataset.state = state;
  const reason = reasonText(seatRow.state_reason || seatRow.paused_reason);
  $("seat-state").textContent = `${t(state)}${reason ? " · " + reason : ""}`;
  $("seat-since").textContent = seatRow.state_since
    ? new Date(seatRow.state_since).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB")
    : "";
  const loggedIn = state !== "offline" && state !== "unavailable";
  $("login").disabled = loggedIn;
  $("logout").disabled = !loggedIn;
  $("pause").disabled = !loggedIn || state === "paused";
  $("unpause").disabled = state !== "paused";
}

async function seatAction(action, body) {
  if (!seatId) return;
  $("seat-message").textContent = "";
  const result = await api("POST", `/api/v1/seats/${encodeURIComponent(seatId)}/${action}`, body);
  if (result.ok) { seatRow = { type: "seat", ...result.data }; drawSeat(); }
  else $("seat-message").textContent = problem(result);
}

// --- the pop -------------------------------------------------------------------------------
function showPop(data, newPhase) {
  const fresh = !pop || pop.call !== data.call;
  pop = data;
  phase = newPhase || data.phase || phase;
  if (fresh) {
    transfer = null;
    $("intake").reset();
    $("intake-unit").value = (data.unit && data.unit.code) || "";
    $("intake-message").textContent = said(notes["intake-message"]);
    $("transfer-message").textContent = said(notes["transfer-message"]);
    $("confidential-message").textContent = "";
    cardNote = null;
    loadCard();
  }
  drawPop();
}

function clearPop() {
  pop = null;
  phase = null;
  transfer = null;
  drawPop();
}

function mmss(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function drawPop() {
  const shown = pop !== null;
  $("pop").hidden = !shown;
  $("work").hidden = !shown || phase === "ringing";
  document.body.dataset.phase = phase || "";
  if (!shown) return;
  $("pop").dataset.call = pop.call;
  $("pop-phase").textContent = t(phase);
  $("pop-caller").textContent = pop.caller || t("none");
  $("pop-dialed").textContent = pop.dialed || "";
  const unit = pop.unit;
  $("pop-unit").textContent = unit
    ? [unit.name || unit.code, unit.district, unit.mode ? t(`mode_${unit.mode}`) : ""]
      .filter(Boolean).join(" · ")
    : t("none");
  $("pop-unit").dataset.code = unit ? unit.code : "";
  $("pop-queue").textContent = (pop.queue_display && pop.queue_display[lang]) || pop.queue || "";
  $("pop-keys").textContent = pop.ivr_keys || t("none");
  $("pop-wait").textContent = pop.wait_s === null || pop.wait_s === undefined ? "–" : mmss(pop.wait_s);
  const words = (pop.priority_reason_words || []).map((w) => w[lang]);
  $("pop-priority").textContent = `${pop.priority}${words.length ? " · " + words.join(lang === "zh" ? "、" : ", ") : ""}`;
  drawHistory();
  drawCard(pop.card);
  drawTransfer();
}

function kindText(kind) {
  if (!kind) return "–";
  const known = kinds && kinds.find((k) => k.kind === kind);
  return (known && known[lang]) || kind;
}

function drawHistory() {
  const body = document.querySelector("#history tbody");
  body.replaceChildren();
  const rows = pop.history;
  const note = (text) => {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5;
    td.textContent = text;
    tr.append(td);
    body.append(tr);
  };
  if (rows === null || rows === undefined) { note(t("history_unavailable")); return; }
  if (!rows.length) { note(t("no_history")); return; }
  for (const h of rows) {
    const tr = document.createElement("tr");
    tr.dataset.call = h.call;
    for (const text of [new Date(h.started_at).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB"),
      kindText(h.kind), h.unit || "–", h.ticket || "–", h.disposition]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  }
}

let cardFor = null;
async function loadCard() {
  // the card normally comes with the pop; without one, it is asked for by the unit
  const code = pop && pop.unit && pop.unit.code;
  if (!pop || pop.card || !code || cardFor === pop.call) return;
  cardFor = pop.call;
  const call = pop.call;
  const result = await api("GET", `/api/v1/units/${encodeURIComponent(code)}/card`);
  if (!pop || pop.call !== call) return;
  if (result.ok) { pop.card = result.data; drawCard(pop.card); }
  else { cardNote = missing(result) ? "not_available" : problem(result); drawCard(null); }
}

function drawCard(card) {
  const box = $("card");
  if (!card) {
    box.textContent = cardNote === null ? t("no_card") : said(cardNote);
    return;
  }
  box.replaceChildren();
  const line = (label, text) => {
    if (!text) return;
    const p = document.createElement("p");
    const b = document.createElement("b");
    b.textContent = `${label}: `;
    p.append(b, text);
    box.append(p);
  };
  line(t("unit"), [card.unit, card.district].filter(Boolean).join(" · "));
  line(t("responsibilities"), card.responsibilities);
  line(t("hours"), card.hours);
  line(t("transfer_numbers"), (card.transfer_numbers || []).map((n) => `${n.label} ${n.number}`).join("; "));
  if ((card.kb_links || []).length) {
    const p = document.createElement("p");
    const b = document.createElement("b");
    b.textContent = `${t("kb_links")}: `;
    p.append(b);
    for (const l of card.kb_links) {
      const a = document.createElement("a");
      a.href = l.url;
      a.textContent = l.title;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      p.append(a, " ");
    }
    box.append(p);
  }
}

// --- intake -----------------------------------------------------------------------------
async function loadKinds() {
  const result = await api("GET", "/api/v1/intake-kinds");
  const select = $("intake-kind");
  if (!result.ok) {
    kinds = null;
    $("intake-save").disabled = true;
    notes["intake-message"] = missing(result) ? "not_available" : problem(result);
    $("intake-message").textContent = said(notes["intake-message"]);
    return;
  }
  notes["intake-message"] = null;
  kinds = result.data;
  $("intake-save").disabled = false;
  drawKinds();
  select.value = kinds.length ? kinds[0].kind : "";
}

function drawKinds() {
  if (!kinds) return;
  const select = $("intake-kind");
  const chosen = select.value;
  select.replaceChildren(...kinds.map((k) => {
    const option = document.createElement("option");
    option.value = k.kind;
    option.textContent = k[lang] || k.kind;
    return option;
  }));
  if (chosen) select.value = chosen;
}

async function saveIntake(event) {
  event.preventDefault();
  if (!pop) return;
  const ticket = $("intake-ticket").value.trim();
  const body = {
    kind: $("intake-kind").value,
    unit: $("intake-unit").value.trim(),
    summary: $("intake-summary").value,
    ticket: ticket || null,
    resolved_on_call: $("intake-resolved").checked,
  };
  const result = await api("POST", `/api/v1/calls/${encodeURIComponent(pop.call)}/intake`, body);
  $("intake-message").textContent = result.ok
    ? t("saved").replace("{v}", result.data.version) : problem(result);
  $("intake-message").dataset.saved = result.ok ? "1" : "";
}

// The unit picker: every unit of the legacy directory (`GET /units`, the units an
// intake may name), loaded once, the browser's datalist filtering them as one types.
// A directory of a city's units is a few hundred rows: a few pages at most.
const UNIT_PAGES_MAX = 10;
let unitsLoaded = false;
async function loadUnits() {
  if (unitsLoaded) return;
  const options = [];
  let cursor = null;
  for (let pageNo = 0; pageNo < UNIT_PAGES_MAX; pageNo++) {
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const result = await api("GET", `/api/v1/units?limit=1000${query}`);
    if (!result.ok) return;  // not offered: the code is typed as it is (and checked on save)
    for (const unit of result.data.items) {
      const option = document.createElement("option");
      option.value = unit.code;
      option.textContent = [unit.name, unit.district].filter(Boolean).join(" · ");
      options.push(option);
    }
    cursor = result.data.next_cursor;
    if (!cursor) break;
  }
  $("unit-options").replaceChildren(...options);
  unitsLoaded = true;
}

// --- transfer and conference -----------------------------------------------------------
async function loadTargets() {
  const result = await api("GET", "/api/v1/transfer-targets");
  const select = $("transfer-target");
  if (!result.ok) {
    for (const id of ["transfer-blind", "transfer-consult", "transfer-conference"]) $(id).disabled = true;
    notes["transfer-message"] = missing(result) ? "not_available" : problem(result);
    $("transfer-message").textContent = said(notes["transfer-message"]);
    return;
  }
  notes["transfer-message"] = null;
  for (const id of ["transfer-blind", "transfer-consult", "transfer-conference"]) $(id).disabled = false;
  select.replaceChildren(...result.data.map((target) => {
    const option = document.createElement("option");
    option.value = target.number;
    option.textContent = `${target.name} ${target.number}`;
    return option;
  }));
}

async function transferAction(path, body) {
  if (!pop) return;
  const result = await api("POST", `/api/v1/calls/${encodeURIComponent(pop.call)}/${path}`, body);
  if (result.ok) transfer = result.data;
  $("transfer-message").textContent = result.ok
    ? t("transfer_state").replace("{s}", transfer.state) : problem(result);
  drawTransfer();
}

function drawTransfer() {
  const state = transfer && transfer.state;
  const consulting = transfer && transfer.mode === "consult" && (state === "dialing" || state === "talking");
  $("transfer-complete").hidden = !consulting;
  $("transfer-cancel").hidden = !consulting;
  $("conference-leave").hidden = !(transfer && transfer.mode === "conference" && state === "conference");
}

async function followTransfer() {  // a transfer's legs move on the PBX: its state is polled
  if (!pop || !transfer || ["completed", "returned", "failed", "left"].includes(transfer.state)) return;
  const result = await api("GET", `/api/v1/calls/${encodeURIComponent(pop.call)}/transfers`);
  if (!result.ok || !result.data.length) return;
  transfer = result.data.find((x) => x.id === transfer.id) || transfer;
  $("transfer-message").textContent = t("transfer_state").replace("{s}", transfer.state);
  drawTransfer();
}

// --- confidentiality --------------------------------------------------------------------
async function markConfidential() {
  if (!pop) return;
  const reason = $("confidential-reason").value.trim() || t("confidential_reason");
  const result = await api("POST", `/api/v1/calls/${encodeURIComponent(pop.call)}/confidential`, { reason });
  $("confidential-message").textContent = result.ok ? t("marked") : problem(result);
  if (result.ok) resume();  // the pop again: the number masked from now on
}

// --- language and the header ------------------------------------------------------------
function drawStatus() {
  const status = $("status");
  const away = link === "lost" || link === "connecting" ? t("error") : t("denied");
  status.textContent = link === "live" ? t("ok") : away;
  status.className = link === "live" ? "status" : "status stale";
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("lang");
  $("confidential-reason").placeholder = t("confidential_reason");
  onLink(link);
  for (const [id, note] of Object.entries(notes)) if (note !== null) $(id).textContent = said(note);
  drawReasons();
  drawKinds();
  drawSeat();
  if (pop) drawPop();
}

$("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("agent-lang", lang);
  applyLanguage();
});
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  $("token-input").value = "";
  live.useToken(token);
  loadOptions();
});
$("login").addEventListener("click", () => seatAction("login"));
$("logout").addEventListener("click", () => seatAction("logout"));
$("pause").addEventListener("click", () => seatAction("pause", { reason: $("pause-reason").value }));
$("unpause").addEventListener("click", () => seatAction("unpause"));
$("intake").addEventListener("submit", saveIntake);
$("intake-unit").addEventListener("focus", loadUnits);
for (const mode of ["blind", "consult", "conference"]) {
  $(`transfer-${mode}`).addEventListener("click",
    () => transferAction("transfer", { to: $("transfer-target").value, mode }));
}
$("transfer-complete").addEventListener("click", () => transferAction("transfer/complete"));
$("transfer-cancel").addEventListener("click", () => transferAction("transfer/cancel"));
$("conference-leave").addEventListener("click", () => transferAction("conference/leave"));
$("confidential").addEventListener("click", markConfidential);

function loadOptions() {
  if (!live.token()) return;
  loadKinds();
  loadUnits();
  loadTargets();
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
}

applyLanguage();
live.connect();
loadOptions();
tick();
setInterval(tick, 1000);
setInterval(followTransfer, 2000);
