// The pesync console: reads the operator API with the viewer token and draws it. Written by hand,
// no build step, no library. Everything from the API is put in the page with `textContent` (never
// as HTML): contact ids and reasons come from the outside world.
"use strict";

const TOKEN_KEY = "pesync.viewer";
const REFRESH_MS = 15000;
const SVG = "http://www.w3.org/2000/svg";
// One colour class per decision reason, in the rules' order, so a reason keeps its colour.
const REASONS = ["no_profile", "suppressed", "tier_not_targeted", "insufficient_rise", "cooldown",
  "channel_unsupported", "invalid_timezone", "no_callable_time", "deferred_outside_window", "eligible"];
const DEFERRED_LABELS = { due: "due now", within_1h: "within 1 h", within_6h: "in 1–6 h",
  within_24h: "in 6–24 h", later: "later" };

let adminToken = null; // memory only: asked for at the first dry run
let timers = [];
const $ = (id) => document.getElementById(id);

// ---- tokens and requests -------------------------------------------------------------------

/** `#token=…` in the URL (the browser test) is taken once and removed from the address bar. */
function tokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search);
}

function viewerToken() { return sessionStorage.getItem(TOKEN_KEY); }

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ("HTTP " + status));
    this.status = status;
    this.problem = problem;
  }
}

/** A call to the API, relative to the page (`v1/…`), answering the JSON body or an ApiError. */
async function api(path, { token = viewerToken(), method = "GET", body } = {}) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body, cache: "no-store" });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { detail: text }; }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

// ---- small DOM helpers ---------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

const fmt = new Intl.NumberFormat("en");
function formatNumber(n) { return n === null || n === undefined ? "–" : fmt.format(n); }

function formatAge(seconds) {
  if (!seconds) return "0 s";
  if (seconds < 120) return fmt.format(Math.round(seconds * 10) / 10) + " s";
  if (seconds < 7200) return fmt.format(Math.round(seconds / 60)) + " min";
  return fmt.format(Math.round(seconds / 360) / 10) + " h";
}

/** A number with its metric name: text for people, `data-value` exact for machines. */
function metric(name, value, text) {
  return el("span", { "data-metric": name, "data-value": String(value) },
    text === undefined ? formatNumber(value) : text);
}

/** Sets every element carrying `data-metric="name"`. */
function setMetric(name, value, text) {
  for (const e of document.querySelectorAll(`[data-metric="${name}"]`)) {
    e.textContent = text === undefined ? formatNumber(value) : text;
    e.dataset.value = String(value);
  }
}

function rows(tbody, list) {
  tbody.replaceChildren(...list);
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function markReady(part) {
  const ready = new Set((document.body.dataset.ready || "").split(" ").filter(Boolean));
  ready.add(part);
  document.body.dataset.ready = [...ready].sort().join(" ");
}

function status(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("bad", bad);
}

// ---- charts (hand-written SVG) -------------------------------------------------------------

/**
 * Stacked bars, one per label; `series` = [{name, cls, values}] stacked in order; an optional
 * `ceiling` = {value, label} drawn as a dashed line (the y scale includes it).
 */
function barChart(container, labels, series, ceiling) {
  const W = 720, H = 200, L = 48, B = 22, T = 18, R = 8;
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const peak = Math.max(1, ...totals);
  // A ceiling far above the traffic would flatten the bars: it is then named, not drawn.
  const drawCeiling = ceiling && ceiling.value <= 4 * peak;
  let max = Math.max(peak, drawCeiling ? ceiling.value : 0);
  const step = niceStep(max / 4);
  max = Math.ceil(max / step) * step;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "bars" });
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (let v = 0; v <= max + 1e-9; v += step) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const t = svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" });
    t.textContent = formatNumber(v);
    chart.append(t);
  }
  const slot = (W - L - R) / Math.max(1, labels.length);
  const bw = Math.max(1, slot * 0.72);
  labels.forEach((label, i) => {
    let base = 0;
    const x = L + i * slot + (slot - bw) / 2;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        const r = svg("rect", { x, y: y(base + v), width: bw, height: y(base) - y(base + v), class: s.cls });
        const tip = svg("title");
        tip.textContent = `${label}: ${s.name} ${formatNumber(v)}`;
        r.append(tip);
        chart.append(r);
      }
      base += v;
    }
    const every = Math.ceil(labels.length / 12);
    if (i % every === 0) {
      const t = svg("text", { x: x + bw / 2, y: H - 6, class: "axis", "text-anchor": "middle" });
      t.textContent = label;
      chart.append(t);
    }
  });
  if (ceiling) {
    if (drawCeiling) {
      chart.append(svg("line", { x1: L, x2: W - R, y1: y(ceiling.value), y2: y(ceiling.value), class: "ceiling" }));
    }
    const t = svg("text", { x: W - R - 4, y: drawCeiling ? y(ceiling.value) - 4 : T - 6,
      class: "axis ceiling-label", "text-anchor": "end" });
    t.textContent = drawCeiling ? ceiling.label : ceiling.label + " ↑ above the scale";
    chart.append(t);
  }
  container.replaceChildren(chart);
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return Math.max(1, m * p);
  return Math.max(1, 10 * p);
}

function hhmm(iso) { return iso.slice(11, 16); }

function reasonClass(reason) {
  const i = REASONS.indexOf(reason);
  return "c" + (i < 0 ? "x" : i);
}

// ---- the pipeline ---------------------------------------------------------------------------

async function loadStats() {
  const s = await api("v1/admin/stats");
  for (const lane of ["realtime", "backfill"]) {
    setMetric(`${lane}.depth`, s[lane].depth);
    setMetric(`${lane}.delivered`, s[lane].delivered);
    const age = s[lane].oldest_pending_age_seconds;
    setMetric(`${lane}.oldest_pending_age_seconds`, age, formatAge(age));
  }
  for (const k of ["reconciliation_depth", "quarantine_open", "dead_letters_open", "dispatched"]) {
    setMetric(k, s[k]);
    const tile = document.querySelector(`.warn-if [data-metric="${k}"]`);
    if (tile) tile.closest(".tile").classList.toggle("warn", s[k] > 0);
  }
  const g = $("genesys");
  g.hidden = !(s.genesys === null || (s.genesys && !s.genesys.set_up));
  g.textContent = s.genesys === null
    ? "No Genesys tenant is configured: events are stored, not delivered."
    : (s.genesys.note || "");
  markReady("stats");
}

async function loadRate() {
  const s = await api("v1/admin/stats/series?minutes=15");
  const labels = s.points.map((p) => hhmm(p.minute));
  const rt = s.points.map((p) => p.delivered.realtime);
  const bf = s.points.map((p) => p.delivered.backfill);
  const quarantined = s.points.map((p) => Object.values(p.quarantined).reduce((a, b) => a + b, 0));
  const ceiling = s.ceiling && { value: s.ceiling.events_per_minute,
    label: `ceiling ${formatNumber(s.ceiling.events_per_minute)}/min` };
  barChart($("rate-chart"), labels, [
    { name: "real-time", cls: "rt", values: rt },
    { name: "backfill", cls: "bf", values: bf },
    { name: "quarantined", cls: "qu", values: quarantined },
  ], ceiling);
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  setMetric("series.delivered_15m", sum(rt) + sum(bf));
  const busiest = Math.max(0, ...rt.map((v, i) => v + bf[i]));
  const share = s.ceiling ? Math.round(1000 * busiest / s.ceiling.events_per_minute) / 10 : 0;
  setMetric("series.busiest_minute_percent", share, s.ceiling ? share + " %" : "–");
  setMetric("series.quarantined_15m", sum(quarantined));
  setMetric("series.ceiling_events_per_minute", s.ceiling ? s.ceiling.events_per_minute : 0,
    s.ceiling ? formatNumber(s.ceiling.events_per_minute) : "none");
  setMetric("series.ceiling_requests_per_minute", s.ceiling ? s.ceiling.requests_per_minute : 0,
    s.ceiling ? formatNumber(s.ceiling.requests_per_minute) : "none");
  markReady("series");
}

async function loadBreakdown() {
  const b = await api("v1/admin/stats/breakdown");
  rows($("quarantine-reasons"), b.quarantine_open_by_reason.length
    ? b.quarantine_open_by_reason.map((r) => el("tr", {}, el("td", {}, r.reason),
      el("td", { class: "num" }, metric(`quarantine.reason.${r.reason}`, r.count))))
    : [el("tr", {}, el("td", { colspan: 2, class: "hint" }, "nothing quarantined"))]);
  rows($("campaigns"), b.campaigns.length
    ? b.campaigns.map((c) => el("tr", {}, el("td", {}, c.campaign_id),
      el("td", { class: "num" }, metric(`campaign.${c.campaign_id}.handed_over_24h`, c.handed_over_24h)),
      el("td", { class: "num" }, metric(`campaign.${c.campaign_id}.queued`, c.queued))))
    : [el("tr", {}, el("td", { colspan: 3, class: "hint" }, "no hand-over in 24 h, nobody queued"))]);
  setMetric("cooldowns_running", b.cooldowns_running);
  rows($("deferred"), b.deferred.map((d) => el("tr", {}, el("th", {}, DEFERRED_LABELS[d.opens] || d.opens),
    el("td", { class: "num" }, metric(`deferred.${d.opens}`, d.count)))));
  markReady("breakdown");
}

// ---- decisions ------------------------------------------------------------------------------

/** Per-reason totals of points, and the reasons seen (in the rules' order). */
function decisionTotals(points) {
  const totals = {};
  for (const p of points) for (const [r, n] of Object.entries(p.decisions)) totals[r] = (totals[r] || 0) + n;
  return totals;
}

function reasonSeries(reasons, buckets) {
  return reasons.map((r) => ({ name: r, cls: reasonClass(r), values: buckets.map((b) => b[r] || 0) }));
}

async function loadDecisions() {
  // Decisions only: a day of deliveries at the ceiling is tens of millions of rows to count.
  const day = await api("v1/admin/stats/series?minutes=1440&figures=decisions");
  const hour = day.points.slice(-60);
  const byHour = [];
  for (let i = 0; i < day.points.length; i += 60) {
    const chunk = day.points.slice(i, i + 60);
    byHour.push({ label: hhmm(chunk[0].minute), counts: decisionTotals(chunk) });
  }
  const hourTotals = decisionTotals(hour), dayTotals = decisionTotals(day.points);
  const seen = Object.keys(dayTotals).sort((a, b) => REASONS.indexOf(a) - REASONS.indexOf(b));
  barChart($("decisions-hour-chart"), hour.map((p) => hhmm(p.minute)),
    reasonSeries(seen, hour.map((p) => p.decisions)));
  barChart($("decisions-day-chart"), byHour.map((h) => h.label),
    reasonSeries(seen, byHour.map((h) => h.counts)));
  $("decisions-legend").replaceChildren(...seen.map((r) =>
    el("span", {}, el("i", { class: "swatch " + reasonClass(r) }), r)));
  rows($("decision-reasons"), seen.length
    ? seen.map((r) => el("tr", {}, el("td", {}, el("i", { class: "swatch " + reasonClass(r) }), r),
      el("td", { class: "num" }, metric(`decisions.hour.${r}`, hourTotals[r] || 0)),
      el("td", { class: "num" }, metric(`decisions.day.${r}`, dayTotals[r] || 0))))
    : [el("tr", {}, el("td", { colspan: 3, class: "hint" }, "no decision in the last day"))]);
  markReady("decisions");
}

// ---- contact search -------------------------------------------------------------------------

function table(head, body) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...body));
}

function outcomeList(outcomes) {
  return el("ul", { class: "outcomes" }, ...outcomes.map((o) =>
    el("li", { class: o.passed ? "pass" : "fail" }, o.rule, o.passed ? " ✓" : ": " + o.detail)));
}

function renderContact(c) {
  const latest = c.decisions[0];
  const box = $("contact-result");
  const summary = el("dl", { class: "summary" },
    el("dt", {}, "contact"), el("dd", { "data-metric": "contact.id" }, c.contact_id),
    el("dt", {}, "latest reason"), el("dd", { "data-metric": "contact.latest_reason", class: "reason" },
      latest ? latest.reason : "no decision yet"),
    el("dt", {}, "effective score"), el("dd", {}, metric("contact.effective_score",
      c.effective_score ?? "", c.effective_score === null ? "–" : c.effective_score.toFixed(3))),
    el("dt", {}, "tier"), el("dd", { "data-metric": "contact.tier" }, c.tier || "–"),
    el("dt", {}, "cooldown until"), el("dd", { "data-metric": "contact.cooldown_until" }, when(c.cooldown_until)),
    el("dt", {}, "suppressed"), el("dd", {}, c.suppression && c.suppression.active
      ? "yes" + (c.suppression.expires_at ? " until " + when(c.suppression.expires_at) : "") : "no"));
  const decisions = table(["evaluated", "campaign", "reason", "score", "rise", "tier", "rules"],
    c.decisions.map((d, i) => el("tr", {}, el("td", {}, when(d.evaluated_at)), el("td", {}, d.campaign_id),
      el("td", { class: "reason", "data-metric": `contact.decisions.${i}.reason` }, d.reason),
      el("td", { class: "num" }, metric(`contact.decisions.${i}.effective_score`, d.effective_score ?? "", String(d.effective_score ?? "–"))),
      el("td", { class: "num" }, metric(`contact.decisions.${i}.rise`, d.rise ?? "", String(d.rise ?? "–"))),
      el("td", {}, d.tier || "–"),
      el("td", {}, outcomeList(d.outcomes)))));
  const observations = table(["observed", "score", "dampened"],
    c.observations.slice().reverse().map((o, i) => el("tr", { class: o.dampened ? "dampened" : "" },
      el("td", {}, when(o.timestamp)),
      el("td", { class: "num" }, metric(`contact.observations.${i}.score`, o.score, String(o.score))),
      el("td", {}, o.dampened ? "dampened (ignored)" : "applied"))));
  const events = table(["event time", "type", "state"],
    c.events.map((e) => el("tr", {}, el("td", {}, when(e.event_timestamp)), el("td", {}, e.event_type),
      el("td", {}, e.state))));
  const windows = table(["campaign", "window", "calling hours", "effective"],
    c.windows.map((w) => el("tr", {}, el("td", {}, w.campaign_id),
      el("td", {}, `${w.contact_window.start_time}–${w.contact_window.end_time} ${w.contact_window.timezone}`),
      el("td", {}, w.calling_hours ? `${w.calling_hours.start_time}–${w.calling_hours.end_time}` : "–"),
      el("td", {}, !w.effective ? "invalid time zone"
        : w.effective.open ? "open" : "opens " + when(w.effective.next_opening)))));
  box.replaceChildren(summary,
    el("h3", {}, "Decisions (", metric("contact.decisions", c.decisions.length), "), newest first"), decisions,
    el("h3", {}, "Observations, newest first"), observations,
    el("h3", {}, "Windows now"), windows,
    el("h3", {}, "Events (", metric("contact.events", c.events.length), "), newest first"), events,
    el("p", { class: "hint" }, c.last_handover
      ? `Last hand-over: ${when(c.last_handover.at)} to ${c.last_handover.campaign_id} (${c.last_handover.channel})`
      : "Never handed over."));
  box.hidden = false;
}

async function searchContact(id) {
  const box = $("contact-result");
  try {
    renderContact(await api("v1/contacts/" + encodeURIComponent(id)));
  } catch (e) {
    box.replaceChildren(el("p", { class: "error", "data-metric": "contact.error" }, e.message));
    box.hidden = false;
  }
  const url = new URL(location.href);
  url.searchParams.set("contact", id);
  history.replaceState(null, "", url.pathname + url.search);
  markReady("contact");
}

// ---- change log and dry runs ----------------------------------------------------------------

/** Every change, newest first: the log pages oldest first, so it is read to its end (20 pages at most). */
async function allChanges() {
  let items = [], cursor = null;
  for (let page = 0; page < 20; page++) {
    const p = await api("v1/admin/changes?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items = items.concat(p.items);
    cursor = p.next_cursor;
    if (!cursor) break;
  }
  return items.reverse();
}

function percent(share) { return Math.round(share * 1000) / 10 + " %"; }

function watchCell(w) {
  if (!w) return el("td", { class: "hint" }, "–");
  const f = w.figures || {};
  return el("td", { class: w.suspect ? "reason fail" : "" },
    `${w.suspect ? "SUSPECT" : w.state} until ${when(w.until)}`,
    el("br"), el("small", {}, `${formatNumber(f.contacts || 0)} contacts · dropped ${percent(f.drop_share || 0)}` +
      ` · plateau ${percent(f.plateau_share || 0)} · mean shift ${(f.mean_shift || 0).toFixed(3)}`));
}

async function loadChanges() {
  const body = $("changes-body");
  try {
    const items = await allChanges();
    const version = (c) => c.to_version === null || c.to_version === undefined ? ""
      : ` v${c.from_version ?? "–"} → v${c.to_version}`;
    body.replaceChildren(items.length ? table(["when", "who", "what", "score stability watch"],
      items.slice(0, 100).map((c) => el("tr", { class: c.watch && c.watch.suspect ? "suspect" : "" },
        el("td", {}, when(c.changed_at)),
        el("td", {}, c.changed_by + (c.changed_by_token ? ` (${c.changed_by_token})` : "")),
        el("td", {}, `${c.kind} ${c.name} ${c.action}${version(c)}`),
        watchCell(c.watch))))
      : el("p", { class: "hint" }, "No change recorded yet."));
  } catch (e) {
    body.replaceChildren(el("p", { class: "hint", "data-metric": "changes.unavailable" },
      e.status === 404 ? "The change log is not available in this version of pesync." : e.message));
  }
  markReady("changes");
}

/** Asks for the admin token (once per page), answering it or null. */
function askAdminToken() {
  if (adminToken) return Promise.resolve(adminToken);
  const dialog = $("admin-dialog");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const t = $("admin-token").value;
      $("admin-token").value = "";
      if (dialog.returnValue === "ok" && t) adminToken = t;
      resolve(dialog.returnValue === "ok" && t ? t : null);
    }, { once: true });
    dialog.showModal();
  });
}

function dryRequest(kind, data) {
  const since = data.get("since") ? "?since=" + encodeURIComponent(data.get("since")) : "";
  switch (kind) {
    case "manifest":
      return { path: `v1/admin/manifests/${encodeURIComponent(data.get("version"))}/check${since}`, method: "POST" };
    case "source":
      return { path: `v1/admin/sources/${encodeURIComponent(data.get("name"))}?dry_run=true`, method: "PUT", body: data.get("body") };
    default:
      return { path: "v1/admin/evaluate/population", method: "POST", body: data.get("body") };
  }
}

async function runDry(form) {
  const answer = form.querySelector(".answer");
  const token = await askAdminToken();
  if (!token) return;
  const req = dryRequest(form.dataset.dry, new FormData(form));
  answer.hidden = false;
  answer.classList.remove("error");
  answer.textContent = "Running…";
  try {
    const out = await api(req.path, { token, method: req.method, body: req.body });
    answer.textContent = JSON.stringify(out, null, 2);
  } catch (e) {
    if (e.status === 401 || e.status === 403) adminToken = null;
    answer.classList.add("error");
    // The problem document as it came: it names the field at fault (or, on a pesync without this
    // dry run, the missing route).
    answer.textContent = JSON.stringify(e.problem || e.message, null, 2);
  }
}

// ---- start ---------------------------------------------------------------------------------

async function refresh() {
  const parts = [loadStats(), loadRate(), loadBreakdown()];
  const results = await Promise.allSettled(parts);
  const failed = results.find((r) => r.status === "rejected");
  if (failed && failed.reason.status === 401) return showLogin("The token was refused.");
  if (failed) status("Could not refresh: " + failed.reason.message, true);
  else status("Updated " + new Date().toLocaleTimeString("en-GB"));
}

function showLogin(message = "") {
  timers.forEach(clearInterval);
  timers = [];
  sessionStorage.removeItem(TOKEN_KEY);
  $("console").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  status("Waiting for the viewer token");
}

async function start() {
  $("login").hidden = true;
  $("console").hidden = false;
  $("forget").hidden = false;
  await refresh();
  if ($("console").hidden) return; // the token was refused
  const contact = new URLSearchParams(location.search).get("contact");
  const jobs = [loadDecisions(), loadChanges()];
  if (contact) {
    $("contact-id").value = contact;
    jobs.push(searchContact(contact));
  }
  await Promise.allSettled(jobs);
  markReady("all");
  timers.push(setInterval(refresh, REFRESH_MS),
    setInterval(() => loadDecisions().catch(() => {}), 4 * REFRESH_MS));
}

function wire() {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("login-token").value.trim());
    $("login-token").value = "";
    start();
  });
  $("forget").addEventListener("click", () => showLogin());
  $("contact-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("contact-id").value.trim();
    if (id) searchContact(id);
  });
  for (const form of document.querySelectorAll("form.dry")) {
    form.addEventListener("submit", (ev) => { ev.preventDefault(); runDry(form); });
  }
}

wire();
tokenFromFragment();
if (viewerToken()) start(); else showLogin();
