// miexit's page: plain JavaScript, no build step. Everything it shows comes
// from the local server's /api; text is set with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { source: "", from: "", dest: "", to: "", phone: "", running: false, events: null, result: null };

function show(el, on) { el.hidden = !on; }

function say(id, text, info) {
  const el = $(id);
  el.textContent = text || "";
  el.classList.toggle("info", !!info);
  show(el, !!text);
}

async function api(method, path, body) {
  const opt = { method, headers: {} };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opt);
  let data = null;
  const text = await resp.text();
  try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; }
  if (!resp.ok) {
    const err = new Error((data && data.error) || ("HTTP " + resp.status));
    err.status = resp.status;
    throw err;
  }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, cls) {
  const tr = el("tr", null, cls);
  for (const c of cells) {
    if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); continue; }
    tr.appendChild(el("td", c, typeof c === "number" ? "n" : ""));
  }
  return tr;
}

function bytes(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + " " + u[i];
}

function eta(s) {
  if (s < 0) return "";
  if (s < 60) return Math.ceil(s) + " s";
  if (s < 3600) return Math.ceil(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

// ---- 1. source
function sourceChanged() {
  const v = document.querySelector("input[name=source]:checked");
  state.source = v ? v.value : "";
  for (const k of ["adb", "archive", "micloud"]) show($("panel-" + k), state.source === k);
  updateFrom();
}

function updateFrom() {
  switch (state.source) {
    case "archive": { const p = $("archive-path").value.trim(); state.from = p ? "archive:" + p : ""; break; }
    case "adb": state.from = state.phone ? "adb:" + state.phone : ""; break;
    case "micloud": state.from = "micloud"; break;
    default: state.from = "";
  }
  $("inventory-btn").disabled = !state.from;
  updatePlan();
}

async function listDevices() {
  say("source-msg", "Looking for phones…", true);
  const tb = $("devices").tBodies[0];
  tb.replaceChildren();
  try {
    const d = await api("GET", "/api/devices");
    if (!d.devices.length) {
      say("source-msg", "No phone found. Turn on USB debugging, plug the phone in, accept the prompt on it, then look again.");
      show($("devices"), false);
      return;
    }
    say("source-msg", "");
    for (const dev of d.devices) {
      const r = el("input"); r.type = "radio"; r.name = "phone"; r.value = dev.serial;
      r.disabled = dev.state !== "device";
      r.addEventListener("change", () => { state.phone = dev.serial; updateFrom(); });
      tb.appendChild(row([r, dev.model || "", dev.os || "not MIUI/HyperOS", dev.android || "", dev.serial, dev.problem || dev.state]));
    }
    show($("devices"), true);
  } catch (e) { say("source-msg", e.message); }
}

async function inventory() {
  updateFrom();
  say("source-msg", "Counting what " + state.from + " holds…", true);
  show($("inventory"), false);
  try {
    const d = await api("POST", "/api/inventory", { from: state.from, password: $("archive-password").value });
    const tb = $("inventory").tBodies[0];
    tb.replaceChildren();
    const c = d.counts;
    const kinds = [["contacts", c.contacts], ["messages", c.messages], ["calls", c.calls], ["notes", c.notes], ["photos and videos", c.media]];
    if (c.thumbnails) kinds.push(["reduced copies only", c.thumbnails]);
    if (c.not_understood) kinds.push(["files miexit cannot read", c.not_understood]);
    for (const [k, n] of kinds) tb.appendChild(row([k, n || 0]));
    for (const [k, n] of Object.entries(d.extra || {})) tb.appendChild(row([k.replaceAll("_", " "), n]));
    const notes = $("inventory-notes");
    notes.replaceChildren();
    for (const n of d.notices || []) notes.appendChild(el("li", n));
    show($("inventory"), true);
    say("source-msg", "");
  } catch (e) { say("source-msg", e.message); }
}

async function saveMiCloud() {
  try {
    await api("POST", "/api/auth/micloud", { user_id: $("mi-user").value, pass_token: $("mi-pass").value, region: $("mi-region").value });
    $("mi-user").value = ""; $("mi-pass").value = "";
    say("source-msg", "Saved. Press \"See what it holds\" to check the sign-in.", true);
    refreshState();
  } catch (e) { say("source-msg", e.message); }
}

// ---- 2. destination
function destChanged() {
  const v = document.querySelector("input[name=dest]:checked");
  state.dest = v ? v.value : "";
  for (const k of ["dir", "google", "dropbox", "onedrive"]) show($("panel-" + k), state.dest === k);
  updateTo();
}

function updateTo() {
  if (state.dest === "dir") {
    const p = $("dir-path").value.trim();
    state.to = p ? "dir:" + p : "";
  } else state.to = state.dest;
  updatePlan();
}

async function signIn(service) {
  const id = service === "dropbox" ? $("dropbox-key").value : service === "onedrive" ? $("onedrive-id").value : "";
  say("signin-msg", "Starting the sign-in…", true);
  try {
    const d = await api("POST", "/api/auth/" + service, { client_id: id });
    showSignin(service, d);
  } catch (e) { say("signin-msg", e.message); }
}

let signinTimer = null;
function showSignin(service, v) {
  if (v.state === "done") {
    say("signin-msg", "Signed in to " + service + ".", true);
    show($("signin-link"), false);
    show($("dropbox-code-box"), false);
    refreshState();
    return;
  }
  if (v.state === "failed") { say("signin-msg", v.message); show($("signin-link"), false); return; }
  if (v.url) {
    $("signin-a").href = v.url;
    show($("signin-link"), true);
    window.open(v.url, "_blank", "noopener");
  }
  show($("dropbox-code-box"), !!v.needs_code);
  say("signin-msg", "Waiting for you to allow miexit in the page that opened…", true);
  clearTimeout(signinTimer);
  signinTimer = setTimeout(async () => {
    try {
      const s = await api("GET", "/api/state");
      const now = s.signins[service];
      if (now) showSignin(service, now);
    } catch (e) { say("signin-msg", e.message); }
  }, 2000);
}

async function sendDropboxCode() {
  try {
    const d = await api("POST", "/api/auth/dropbox/code", { code: $("dropbox-code").value });
    $("dropbox-code").value = "";
    showSignin("dropbox", d);
  } catch (e) { say("signin-msg", e.message); }
}

// ---- 3. job
function updatePlan() {
  $("plan").textContent = state.from && state.to ? "From " + state.from + " to " + state.to + "." : "Choose where your data is and where it should go.";
  $("start-btn").disabled = !(state.from && state.to) || state.running;
}

async function start() {
  updateFrom(); updateTo();
  say("job-msg", "");
  try {
    await api("POST", "/api/jobs", { from: state.from, to: state.to, password: $("archive-password").value });
    follow();
  } catch (e) { say("job-msg", e.message); }
}

async function resume() {
  say("job-msg", "");
  try {
    await api("POST", "/api/jobs/resume", { password: $("archive-password").value });
    show($("resume"), false);
    follow();
  } catch (e) { say("job-msg", e.message); }
}

async function cancel() {
  $("cancel-btn").disabled = true;
  try { await api("POST", "/api/jobs/cancel", {}); } catch (e) { say("job-msg", e.message); }
  $("cancel-btn").disabled = false;
}

function setRunning(on) {
  state.running = on;
  show($("cancel-btn"), on);
  updatePlan();
}

const phaseName = { export: "reading the source", import: "copying", verify: "checking" };

function drawProgress(rows) {
  const tb = $("progress").tBodies[0];
  tb.replaceChildren();
  for (const p of rows || []) {
    const bar = el("progress");
    if (p.total) { bar.max = p.total; bar.value = Math.min(p.items, p.total); }
    else if (!state.running) { bar.max = 1; bar.value = 1; }
    const items = p.total ? p.items + " / " + p.total : String(p.items);
    tb.appendChild(row([phaseName[p.phase] || p.phase, p.kind || "other", items, bar, bytes(p.bytes), p.failed, eta(p.eta)], p.failed ? "bad" : ""));
  }
  show($("progress"), (rows || []).length > 0);
}

function follow() {
  if (state.events) state.events.close();
  setRunning(true);
  say("job-msg", "Copying… you can close this tab; the copy goes on.", true);
  const es = new EventSource("/api/events");
  state.events = es;
  es.addEventListener("progress", (ev) => {
    const d = JSON.parse(ev.data);
    drawProgress(d.progress);
  });
  const end = (ev) => {
    es.close();
    state.events = null;
    setRunning(false);
    const rec = JSON.parse(ev.data);
    showRecord(rec);
  };
  es.addEventListener("end", end);
  es.addEventListener("idle", end);
  es.onerror = () => {
    // The server closes the stream after "end"; a real loss retries.
    if (es.readyState === EventSource.CLOSED) { setRunning(false); }
  };
}

function showRecord(rec) {
  if (!rec) { say("job-msg", ""); return; }
  drawProgress(rec.progress);
  switch (rec.status) {
    case "done": say("job-msg", ""); break;
    case "cancelled": case "interrupted": case "failed":
      say("job-msg", (rec.status === "failed" ? "The copy failed: " : "") + rec.error);
      $("resume-text").textContent = "The last copy (" + rec.from + " to " + rec.to + ") did not finish. Resume it: only what is missing is copied.";
      show($("resume"), true);
      break;
  }
  if (rec.result) showResult(rec.result);
  loadChecklist();
}

// ---- 4. result
function showResult(r) {
  state.result = r;
  const next = $("next-step");
  next.textContent = r.next_step;
  next.classList.toggle("ok", r.safe);
  $("verify-caption").textContent = "Verify at " + r.verify.destination + ": each item checked";
  const tb = $("verify-table").tBodies[0];
  tb.replaceChildren();
  for (const v of r.verify.rows || []) {
    tb.appendChild(row([v.kind, v.source, v.destination, v.missing, v.different, v.extra], v.missing || v.different ? "bad" : ""));
  }
  const probs = $("problems");
  probs.replaceChildren();
  for (const p of r.verify.problems || []) probs.appendChild(el("li", p.problem + " " + p.kind + ": " + (p.path || p.key) + (p.detail ? " (" + p.detail + ")" : "")));
  if (r.problems > (r.verify.problems || []).length) probs.appendChild(el("li", "… and " + (r.problems - r.verify.problems.length) + " more (miexit verify --json lists them all)"));
  for (const f of r.failures || []) probs.appendChild(el("li", "failed " + f.Kind + ": " + f.Item + " (" + f.Err + ")"));
  const pics = $("pictures");
  pics.replaceChildren();
  for (const p of r.pictures || []) {
    const fig = el("figure");
    if (p.src) { const img = el("img"); img.src = p.src; img.alt = p.title; fig.appendChild(img); }
    const cap = el("figcaption");
    cap.appendChild(el("b", p.title));
    cap.appendChild(el("br"));
    cap.appendChild(document.createTextNode(p.note));
    fig.appendChild(cap);
    pics.appendChild(fig);
  }
  show($("pictures-box"), (r.pictures || []).length > 0);
  const warns = $("warnings");
  warns.replaceChildren();
  for (const w of r.warnings || []) warns.appendChild(el("li", w));
  $("report-path").textContent = r.report ? "The full report, readable without miexit: " + r.report : "";
  show($("result-empty"), false);
  show($("result-body"), true);
}

// ---- 5. checklist
const statusClass = { "done": "done", "to do": "todo", "blocked": "blocked", "cannot tell": "cannot" };

async function loadChecklist(withPhone) {
  let q = "";
  if (withPhone) q = "?phone=" + encodeURIComponent(state.phone ? "adb:" + state.phone : "adb");
  say("checklist-msg", withPhone ? "Asking the phone…" : "", true);
  try {
    const c = await api("GET", "/api/checklist" + q);
    say("checklist-msg", "");
    const v = $("checklist-verdict");
    v.textContent = c.verdict;
    v.classList.toggle("ok", c.safe);
    // The checklist reads only verify's history; the last copy may have
    // found more to do (photos that are only reduced copies).
    const r = state.result;
    const also = $("checklist-also");
    also.textContent = c.safe && r && !r.safe ? "But first read step 4: " + r.next_step : "";
    show(also, !!also.textContent);
    const ol = $("checklist-steps");
    ol.replaceChildren();
    for (const s of c.steps) {
      const li = el("li");
      li.appendChild(el("span", s.status, "status " + (statusClass[s.status] || "")));
      li.appendChild(el("b", s.title));
      li.appendChild(el("span", s.why, "why"));
      if (s.how && s.status !== "done") li.appendChild(el("span", "How: " + s.how, "how"));
      ol.appendChild(li);
    }
    const ph = c.phone;
    $("checklist-phone").textContent = ph ? "Phone " + ph.serial + ": " + (ph.model || "") + ", " + (ph.os || "not MIUI/HyperOS") + ", Android " + (ph.android || "?") +
      (ph.account_checked ? (ph.xiaomi_accounts.length ? "; Xiaomi account signed in: " + ph.xiaomi_accounts.join(", ") : "; no Xiaomi account signed in") : "") : (c.phone_problem ? "Phone not checked: " + c.phone_problem : "");
    const nc = $("checklist-notchecked");
    nc.replaceChildren();
    for (const n of c.notices || []) nc.appendChild(el("li", "Note: " + n));
    for (const n of c.not_checked || []) nc.appendChild(el("li", "Not checked: " + n));
  } catch (e) { say("checklist-msg", e.message); }
}

// ---- load
async function refreshState() {
  const s = await api("GET", "/api/state");
  for (const k of ["google", "dropbox", "onedrive"]) $(k + "-status").textContent = s.signed_in[k] ? "✓ signed in" : "";
  $("micloud-status").textContent = s.signed_in.micloud ? "✓ a sign-in is saved" : "";
  $("config-dir").textContent = s.config_dir;
  return s;
}

async function init() {
  $("where").textContent = location.host;
  document.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", sourceChanged));
  document.querySelectorAll("input[name=dest]").forEach((r) => r.addEventListener("change", destChanged));
  $("archive-path").addEventListener("input", updateFrom);
  $("dir-path").addEventListener("input", updateTo);
  $("devices-btn").addEventListener("click", listDevices);
  $("src-adb").addEventListener("change", listDevices);
  $("inventory-btn").addEventListener("click", inventory);
  $("mi-save").addEventListener("click", saveMiCloud);
  document.querySelectorAll("button.signin").forEach((b) => b.addEventListener("click", () => signIn(b.dataset.service)));
  $("dropbox-code-btn").addEventListener("click", sendDropboxCode);
  $("start-btn").addEventListener("click", start);
  $("cancel-btn").addEventListener("click", cancel);
  $("resume-btn").addEventListener("click", resume);
  $("checklist-btn").addEventListener("click", () => loadChecklist(false));
  $("checklist-phone-btn").addEventListener("click", () => loadChecklist(true));
  updatePlan();
  try {
    const s = await refreshState();
    if (!$("dir-path").value) $("dir-path").value = s.suggest_dest || "";
    if (s.running) { drawProgress(s.progress); follow(); }
    else if (s.last) showRecord(s.last);
    else loadChecklist(false);
  } catch (e) { say("job-msg", e.message); }
}

document.addEventListener("DOMContentLoaded", init);
