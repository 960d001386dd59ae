"use strict";
// The dashboard's script. Every URL here is relative: the page may live below a path prefix (Home
// Assistant's Ingress, or any reverse proxy that serves it at /some/prefix/).
const TOKEN_KEY = "homeflow.token";
const SVG = "http://www.w3.org/2000/svg";
const CHART_DAYS = 90;
// The answers to the end-of-run question: the command each sends, its button, and how history shows it.
const ANSWERS = [["good", "Felt good"], ["too_much", "Too much"], ["hurt", "It hurt"]];
const FEEDBACK = { good: "felt good", too_much: "too much", hurt: "it hurt" };
// `chosen`: the profile picked beside each routine's Start (its first profile until one is picked).
const model = { routines: new Map(), plans: new Map(), runs: [], skew: 0, openPlans: new Set(), chosen: new Map() };

class Unauthorized extends Error {}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function say(text, error = false) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = error ? "error" : "";
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showLogin(wrong) {
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = wrong ? "That token was not accepted." : "";
  document.getElementById("token").focus();
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  start();
});

// The server's clock decides when a step ends; `skew` maps it onto ours.
function serverNow() { return Date.now() + model.skew; }
function learnClock(nowText) { model.skew = Date.parse(nowText) - Date.now(); }

async function loadRoutines() {
  const body = await api("api/routines");
  learnClock(body.now);
  model.routines = new Map(body.routines.map((r) => [r.id, r]));
  await Promise.all(body.routines.map((r) => loadPlan(r)));
}

// The plan of the routine's next run, for the person chosen if it has profiles.
async function loadPlan(routine) {
  const who = chosen(routine);
  const query = who ? `?profile=${encodeURIComponent(who)}` : "";
  try { model.plans.set(routine.id, await api(`api/routines/${encodeURIComponent(routine.id)}/plan${query}`)); }
  catch (error) { if (error instanceof Unauthorized) throw error; model.plans.delete(routine.id); }
}

// Who the routine's next run is for: the profile picked on the page, else its first; null without any.
function chosen(routine) {
  const names = (routine.profiles || []).map((p) => p.name);
  const picked = model.chosen.get(routine.id);
  return names.includes(picked) ? picked : names[0] ?? null;
}

function person(name) { return name ? name[0].toUpperCase() + name.slice(1) : ""; }

// The person chooser beside Start, for a routine done by more than one person.
function chooser(routine) {
  const id = `who-${routine.id}`, who = chosen(routine);
  const select = el("select", { id, onchange: async () => {
    model.chosen.set(routine.id, select.value);
    await loadPlan(routine).catch(() => {});
    renderRoutines();
    document.getElementById(id)?.focus();
  } }, ...routine.profiles.map((p) => el("option", { value: p.name, ...(p.name === who ? { selected: "" } : {}) },
    person(p.name))));
  return [el("label", { for: id }, "Who"), select];
}

async function loadRuns() {
  model.runs = (await api("api/runs?limit=1000")).runs;
}

function stepSpans(plan) {
  // Each step lasts from its STEP cue to the next one (or the end of the plan).
  const starts = plan.cues.filter((c) => c.kind === "step").map((c) => ({ step: c.step, at: c.at }));
  return starts.map((s, i) => ({
    title: plan.steps[s.step], step: s.step, at: s.at,
    length: (i + 1 < starts.length ? starts[i + 1].at : plan.total_s) - s.at,
  }));
}

function timeline(plan, current = null) {
  const bar = el("div", { class: "timeline", role: "img", "aria-label": `plan of ${plan.name}` });
  for (const span of stepSpans(plan)) {
    const part = el("span", { title: `${span.title} (${clock(span.length)})` });
    part.style.width = `${(100 * span.length) / Math.max(plan.total_s, 1)}%`;
    if (current !== null) part.className = span.step === current ? "now" : span.step < current ? "done" : "";
    bar.append(part);
  }
  return bar;
}

// How far good runs in a row have come towards the next level.
function towards(stats) {
  const t = stats.towards;
  if (!t) return "at the highest level";
  return `${t.good} of ${t.needed} good sessions towards ${t.reps}`;
}

function renderRoutines() {
  const box = document.getElementById("routines");
  box.replaceChildren();
  for (const routine of model.routines.values()) {
    const plan = model.plans.get(routine.id);
    const idle = routine.state.state === "idle";
    const who = chosen(routine);
    const stats = (who ? routine.profiles.find((p) => p.name === who)?.stats : routine.stats) || {};
    // A run's state is shown once, in its live card above; here only whether the routine is free.
    const card = el("article", { class: "routine", "data-routine": routine.id },
      el("div", { class: "head" },
        el("div", {}, el("h3", {}, routine.name), el("div", { class: "muted" }, routine.description || "")),
        ...(idle ? [el("span", { class: "badge idle" }, "idle")] : [])),
      el("div", { class: "facts" },
        el("span", {}, "next run ", el("b", {}, `${stats.reps_level ?? "?"} reps`)),
        el("span", { class: "towards" }, towards(stats)),
        el("span", { class: "streak" }, "streak ", el("b", {}, plural(stats.streak_days ?? 0, "day"))),
        el("span", {}, "today ", el("b", {}, String(stats.completed_today ?? 0)))));
    if (stats.advice) card.append(el("p", { class: "advice", role: "note" }, stats.advice));
    if (routine.safety?.length) card.append(safetyNotes(routine, plan, routine.state.state));
    if (routine.state.lights) card.append(lamps(routine.state.lights));
    if (plan) {
      const steps = el("ol", { class: "steps" });
      for (const span of stepSpans(plan)) steps.append(el("li", {}, span.title, el("span", {}, clock(span.length))));
      const details = el("details", { class: "plan", ontoggle: () => {
        if (details.open) model.openPlans.add(routine.id); else model.openPlans.delete(routine.id);
      } }, el("summary", {}, `Plan: ${plan.steps.length} steps, ${clock(plan.total_s)}, ${plan.reps} reps`), steps);
      details.open = model.openPlans.has(routine.id);
      card.append(timeline(plan), details);
    }
    if (idle) {
      const start = () => command(routine.id, "start", who ? { profile: who } : null);
      card.append(el("div", { class: "row" }, ...(who ? chooser(routine) : []),
        el("button", { class: "primary", type: "button", onclick: start }, "Start")));
    }
    box.append(card);
  }
}

// The routine's safety introduction: open while the next run still owes it; it can be heard now.
function safetyNotes(routine, plan, state) {
  const owed = !plan || plan.safety_owed;
  return el("details", { class: "safety", ...(owed ? { open: "" } : {}) },
    el("summary", {}, owed ? "Safety: said before the next run starts" : "Safety"),
    el("ul", {}, ...routine.safety.map((sentence) => el("li", {}, sentence))),
    el("button", { type: "button", onclick: () => command(routine.id, "safety"),
      ...(state === "idle" ? {} : { disabled: "" }) }, "Hear it now"));
}

// A virtual light (no lamp configured) is drawn at its level, so the routine's dimming can be seen.
function lamps(lights) {
  return el("div", { class: "lamps" }, ...Object.entries(lights).map(([name, look]) => {
    const level = look.state === "ON" ? look.brightness : 0;
    const bulb = el("span", { class: "bulb" });
    const warmth = look.color_temp < 3500 ? "#ffbf5e" : look.color_temp > 5000 ? "#d6e6ff" : "#fff0cf";
    bulb.style.background = warmth;
    bulb.style.color = warmth;
    bulb.style.opacity = String(0.12 + (0.88 * level) / 100);
    return el("span", { class: "lamp", "data-light": name, "data-level": String(level) },
      bulb, `${name} light `, el("b", {}, level ? `${level}%` : "off"));
  }));
}

// One card per active routine, made once and then updated in place: the sentence changes every few
// seconds, and a rebuilt card would take the focus from its buttons and repeat itself to screen readers.
function renderLive() {
  const box = document.getElementById("live");
  const active = [...model.routines.values()].filter((r) => r.state.state !== "idle");
  const shown = new Set();
  for (const routine of active) {
    const kind = routine.state.state === "asking" ? "asking" : "run";
    let card = document.getElementById(`live-${routine.id}`);
    if (card && card.dataset.kind !== kind) { card.remove(); card = null; }
    if (!card) box.append(card = kind === "asking" ? questionCard(routine) : runCard(routine));
    if (kind === "run") updateRunCard(card, routine);
    shown.add(card);
  }
  for (const card of [...box.children]) if (!shown.has(card)) card.remove();
  tick();
  keepAwake(active.length > 0);
}

function runCard(routine) {
  const id = routine.id;
  const state = () => model.routines.get(id)?.state.state;
  return el("section", { class: "live card", id: `live-${id}`, "data-kind": "run", "aria-labelledby": `live-${id}-name` },
    el("div", { class: "row" }, el("h2", { class: "name", id: `live-${id}-name` }, routine.name),
      el("span", { class: "who" }), el("span", { class: "badge" })),
    el("p", { class: "position" }),
    el("div", { class: "plan-now" }),
    el("p", { class: "step" }),
    el("p", { class: "sentence", "aria-live": "polite" }),
    el("p", { class: "count" }, el("b", { class: "n" }), " of ", el("span", { class: "of" })),
    el("div", { class: "bar", role: "presentation" }, el("div", {})),
    el("div", { class: "facts" },
      el("span", {}, "left in this step ", el("b", { class: "left" }, "–")),
      el("span", {}, "next ", el("b", { class: "next" }, "–"))),
    el("div", { class: "row" },
      el("button", { type: "button", class: "pause",
        onclick: () => command(id, state() === "paused" ? "resume" : "pause") }, "Pause"),
      el("button", { type: "button", onclick: () => command(id, "skip") }, "Skip"),
      el("button", { class: "danger", type: "button", onclick: () => command(id, "cancel") }, "Cancel")));
}

function updateRunCard(card, routine) {
  const s = routine.state, plan = model.plans.get(routine.id);
  const q = (selector) => card.querySelector(selector);
  card.dataset.state = s.state;
  q(".who").textContent = person(s.profile);
  q(".badge").className = `badge ${s.state}`;
  q(".badge").textContent = s.state;
  const step = s.step_index;
  q(".position").textContent = step === null || step === undefined ? "" : `Step ${step + 1} of ${s.steps}`;
  if (plan && card.dataset.step !== String(step)) {
    card.dataset.step = String(step);
    q(".plan-now").replaceChildren(timeline(plan, step ?? -1));
  }
  q(".step").textContent = s.step || (s.state === "starting" ? "Preparing…" : "Getting ready");
  const spoken = s.spoken || {};
  q(".sentence").textContent = spoken.text || "";
  q(".sentence").hidden = !spoken.text;
  q(".count").hidden = !spoken.count;
  q(".count .n").textContent = spoken.count ? String(spoken.count) : "";
  q(".count .of").textContent = spoken.count ? String(spoken.of) : "";
  q(".next").textContent = s.state === "starting" ? "–" : s.next_step || "the end";
  q(".pause").textContent = s.state === "paused" ? "Resume" : "Pause";
  q(".pause").disabled = s.state === "starting";
}

// The end-of-run question is open: big buttons answer it.
function questionCard(routine) {
  return el("section", { class: "live card", id: `live-${routine.id}`, "data-kind": "asking", "data-state": "asking",
    "aria-labelledby": `live-${routine.id}-name` },
    el("div", { class: "row" }, el("h2", { class: "name", id: `live-${routine.id}-name` }, routine.name),
      el("span", { class: "who" }, person(routine.state.profile)), el("span", { class: "badge asking" }, "asking")),
    el("p", { class: "question", id: `question-${routine.id}` }, "How did it feel?"),
    answerButtons(routine.id, "answers", { "aria-labelledby": `question-${routine.id}` }));
}

function answerButtons(routineId, className, label) {
  return el("div", { class: `row ${className}`, role: "group", ...label },
    ...ANSWERS.map(([word, text]) => el("button", {
      type: "button", class: word === "hurt" ? "danger" : "", "data-answer": word,
      onclick: () => answer(routineId, word) }, text)));
}

// The time left in the step counts down here, from the step's end the server sent: no polling, and a
// paused run's clock stands still at the moment it was paused.
function tick() {
  for (const routine of model.routines.values()) {
    const s = routine.state;
    const card = document.getElementById(`live-${routine.id}`);
    if (!card || card.dataset.kind !== "run" || !s.step_ends_at) continue;
    const now = s.paused_at ? Date.parse(s.paused_at) : serverNow();
    const end = Date.parse(s.step_ends_at), begun = Date.parse(s.step_started_at);
    const left = Math.max(0, (end - now) / 1000);
    card.querySelector(".left").textContent = clock(left);
    const share = end > begun ? Math.min(1, Math.max(0, (now - begun) / (end - begun))) : 0;
    card.querySelector(".bar div").style.width = `${100 * share}%`;
  }
}
setInterval(tick, 250);

// The screen stays on while a run is live (a phone propped up beside the person), where the browser
// can: the Screen Wake Lock API, asked again when the page comes back into view (a lock ends when the
// page is hidden). Without the API, or when it is refused, the page works as before.
const wake = { wanted: false, lock: null, asking: false };
async function keepAwake(wanted) {
  wake.wanted = wanted;
  if (!("wakeLock" in navigator)) return;
  if (wanted && !wake.lock && !wake.asking && document.visibilityState === "visible") {
    wake.asking = true;
    try {
      const lock = await navigator.wakeLock.request("screen");
      lock.addEventListener("release", () => { if (wake.lock === lock) wake.lock = null; });
      wake.lock = lock;
    } catch (error) {
      // refused (a battery saver, a hidden page): the screen may dim, nothing else changes
    } finally {
      wake.asking = false;
    }
    if (!wake.wanted) keepAwake(false);  // the run ended while the lock was being asked for
  } else if (!wanted && wake.lock) {
    const lock = wake.lock;
    wake.lock = null;
    await lock.release().catch(() => {});
  }
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && wake.wanted) keepAwake(true);
});

function renderHistory() {
  const body = document.querySelector("#history tbody");
  const names = new Map([...model.routines.values()].map((r) => [r.id, r.name]));
  // A routine's last completed run may still be answered, once, while the routine is idle.
  const last = new Map();
  for (const run of model.runs) if (run.status === "completed" && !last.has(run.routine)) last.set(run.routine, run);
  body.replaceChildren(...model.runs.slice(0, 25).map((run) => {
    const started = new Date(run.started_at);
    const took = run.ended_at ? clock((Date.parse(run.ended_at) - started) / 1000) : "–";
    const idle = model.routines.get(run.routine)?.state.state === "idle";
    let feedback = run.feedback ? FEEDBACK[run.feedback] || run.feedback : run.status === "completed" ? "none" : "–";
    if (!run.feedback && last.get(run.routine) === run && idle) {
      feedback = answerButtons(run.routine, "answers small", { "aria-label": "How did it feel?" });
    }
    return el("tr", { "data-run": String(run.id), "data-status": run.status, "data-feedback": run.feedback || "" },
      el("td", { class: "when" }, started.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })),
      el("td", {}, names.get(run.routine) || run.routine, run.profile ? ` · ${person(run.profile)}` : ""),
      el("td", { class: `status-${run.status}` }, run.status),
      el("td", { class: "num", "data-label": "reps" }, String(run.reps)),
      el("td", { class: "num", "data-label": "took" }, took),
      el("td", { class: "feedback", "data-label": "feedback" }, feedback),
      el("td", { class: "hide-small" }, run.trigger));
  }));
  document.getElementById("no-runs").hidden = model.runs.length > 0;
}

function dayKey(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

// A run's mark in the chart: its answer, or that it did not finish.
function markOf(run) {
  if (run.status !== "completed") return ["cancelled", run.status];
  return run.feedback ? [run.feedback, FEEDBACK[run.feedback] || run.feedback] : ["none", "no answer"];
}

function renderChart() {
  // Drawn at the width it is shown at (so its labels stay readable on a phone); not while hidden,
  // when it has no width: the resize observer draws it once it is shown.
  const box = document.getElementById("chart");
  const W = Math.round(box.clientWidth);
  if (!W) return;
  box.dataset.width = String(W);
  const H = 180, left = 28, right = 30, top = 10, bottom = 24;
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const days = [];
  for (let i = CHART_DAYS - 1; i >= 0; i--) {
    const d = new Date(today); d.setDate(d.getDate() - i); days.push(dayKey(d));
  }
  const perDay = new Map(days.map((d) => [d, []]));
  for (const run of [...model.runs].reverse()) perDay.get(dayKey(new Date(run.started_at)))?.push(run);
  const reps = new Map();
  for (const [day, runs] of perDay) {
    const done = runs.filter((r) => r.status === "completed");
    if (done.length) reps.set(day, Math.max(...done.map((r) => r.reps)));
  }
  const maxCount = Math.max(2, ...[...perDay.values()].map((runs) => runs.length));
  const maxReps = Math.max(1, ...reps.values());
  const plotW = W - left - right, plotH = H - top - bottom, slot = plotW / CHART_DAYS;
  const total = model.runs.filter((r) => perDay.has(dayKey(new Date(r.started_at)))).length;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": `${plural(total, "run")} over the last ${CHART_DAYS} days, each marked by its answer` });
  chart.append(svg("line", { x1: left, y1: top + plotH, x2: W - right, y2: top + plotH, class: "axis" }));
  chart.append(svg("text", { x: left - 6, y: top + 9, "text-anchor": "end" }, String(maxCount)));
  chart.append(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"));
  chart.append(svg("text", { x: W - right + 6, y: top + 9 }, String(maxReps)));
  const points = [];
  const height = plotH / maxCount;
  days.forEach((day, i) => {
    const x = left + i * slot;
    perDay.get(day).forEach((run, j) => {
      const [kind, words] = markOf(run);
      const mark = svg("rect", { x: x + 0.75, y: top + plotH - (j + 1) * height + 1, width: Math.max(1.5, slot - 1.5),
        height: Math.max(1, height - 2), class: `run run-${kind}`, "data-run": String(run.id) });
      mark.append(svg("title", {}, `${day}: ${run.status}, ${run.reps} reps, ${words}`));
      chart.append(mark);
    });
    if (reps.has(day)) points.push([x + slot / 2, top + plotH - (plotH * reps.get(day)) / maxReps]);
    if (i % (W < 500 ? 30 : 15) === 0 || i === CHART_DAYS - 1) {
      chart.append(svg("text", { x: x + slot / 2, y: H - 6, "text-anchor": "middle" }, day.slice(5)));
    }
  });
  if (points.length) {
    chart.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "reps" }));
    for (const [cx, cy] of points) chart.append(svg("circle", { cx, cy, r: 3, class: "rep" }));
  }
  box.replaceChildren(chart);
}
new ResizeObserver(() => {
  const box = document.getElementById("chart");
  if (Math.round(box.clientWidth) !== Number(box.dataset.width || 0)) renderChart();
}).observe(document.getElementById("chart"));

function renderDegraded() {
  // Every routine's state carries the same `degraded` reason while homeflow cannot do all it should.
  const reason = [...model.routines.values()].map((r) => r.state.degraded).find(Boolean);
  const box = document.getElementById("degraded");
  box.hidden = !reason;
  box.textContent = reason ? `homeflow is degraded: ${reason}` : "";
}

function render() { renderDegraded(); renderLive(); renderRoutines(); renderHistory(); renderChart(); }

async function command(routineId, word, options = null) {
  try {
    const sent = options ? { body: JSON.stringify(options), headers: { "Content-Type": "application/json" } } : {};
    const body = await api(`api/routines/${encodeURIComponent(routineId)}/${word}`, { method: "POST", ...sent });
    say(`${model.routines.get(routineId)?.name || routineId}: ${body.result}`);
    return true;
  } catch (error) {
    if (error instanceof Unauthorized) showLogin(true);
    else say(String(error.message || error), true);
    return false;
  }
}

// An answer changes the next run's level, the history and maybe the advice shown: read them again.
async function answer(routineId, word) {
  if (await command(routineId, word)) await refresh().catch(() => {});
}

async function refresh() {
  await Promise.all([loadRoutines(), loadRuns()]);
  render();
}

function onState(event) {
  const routine = model.routines.get(event.routine);
  if (!routine) return;
  learnClock(event.now);
  const before = routine.state;
  routine.state = event.state;
  renderLive();
  renderDegraded();
  // The routine cards and the history change with the run's state (and a virtual light's level), not
  // with every sentence: rebuilt less often, they keep the focus and an open plan.
  const lights = (state) => JSON.stringify(state.lights || {});
  if (before.state !== event.state.state || lights(before) !== lights(event.state)) {
    renderRoutines();
    renderHistory();
  }
  // A run that just ended changed the history, the stats and maybe the next run's level.
  if (before.state !== "idle" && event.state.state === "idle") refresh().catch(() => {});
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Server-sent events read through fetch, since EventSource cannot send the Authorization header.
async function listen() {
  const link = document.getElementById("link");
  for (;;) {
    try {
      const token = sessionStorage.getItem(TOKEN_KEY);
      const response = await fetch("api/events", {
        headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: "no-store" });
      if (response.status === 401) { showLogin(true); return; }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      link.textContent = "live"; link.className = "up";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onState(JSON.parse(data));
        }
      }
    } catch (error) {
      // fall through: show the lost link and try again
    }
    link.textContent = "reconnecting…"; link.className = "";
    await sleep(2000);
    await refresh().catch(() => {});
  }
}

// Whether this homeflow asks this browser for a token: asked of the one call that needs none, so
// nothing is refused (and no 401 shows in the console) before the person has signed in.
async function tokenNeeded() {
  const response = await fetch("api/health", { cache: "no-store" });
  return Boolean((await response.json()).token);
}

let listening = false;
async function start() {
  try {
    if (!sessionStorage.getItem(TOKEN_KEY) && await tokenNeeded()) { showLogin(false); return; }
    await Promise.all([loadRoutines(), loadRuns()]);
  } catch (error) {
    if (error instanceof Unauthorized) { showLogin(true); return; }
    document.getElementById("link").textContent = `error: ${error.message}`;
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  render();  // once shown, so the chart is drawn at the width it has
  if (!listening) { listening = true; listen().finally(() => { listening = false; }); }
}

start();
