"use strict";
// The dashboard's script. Every URL here is relative: the page may live below a path prefix (Home
// Assistant's Ingress, or any reverse proxy that serves it at /some/prefix/).
const TOKEN_KEY = "homeflow.token";
// Remembered on this device: who does each routine (`{routine: profile}`), the routine last used, and
// which runs the chart and history show.
const WHO_KEY = "homeflow.who";
const IN_USE_KEY = "homeflow.routine";
const SHOWN_KEY = "homeflow.shown";
const SVG = "http://www.w3.org/2000/svg";
const CHART_DAYS = 90;
// A stray tap on Cancel does nothing: a second tap within this many seconds stops the run.
const CONFIRM_S = 5;
// ... but not one this soon after the first: a double tap (or a bounce) is one stray tap, not two.
const DOUBLE_TAP_MS = 600;
const ANSWERS = ["good", "too_much", "hurt"];
// The state's `question` while a cancelled run asks whether it hurt: only "it hurt" answers it.
const DID_IT_HURT = "did_it_hurt";
// "No, it did not hurt" is thanked for this long, unless Done closes it first.
const NOT_HURT_ACK_S = 6;
// The API's answer to a start that a routine's limits (or a lamp in use) refused: the reason follows.
const NOT_STARTED = "not started: ";
// `chosen`: the profile picked beside each routine's Start; `refused`: why a start just did not
// happen; `acks`: the acknowledgement of an answer, until the person closes it; `focus`: where the
// focus goes once the page has drawn what it waits for.
const model = {
  routines: new Map(), plans: new Map(), runs: [], skew: 0, openPlans: new Set(), words: {},
  chosen: new Map(Object.entries(stored(WHO_KEY, {}))), refused: new Map(), acks: new Map(), focus: null,
  shown: stored(SHOWN_KEY, { routine: "", person: "" }),
};

class Unauthorized extends Error {}

function stored(name, fallback) {
  try { return JSON.parse(localStorage.getItem(name)) ?? fallback; } catch (error) { return fallback; }
}

function store(name, value) {
  try { localStorage.setItem(name, JSON.stringify(value)); } catch (error) { /* private mode: not kept */ }
}

// -- words -------------------------------------------------------------------------------------------
// The page's words come from the server, one table per language (homeflow/language/page.py). A routine is
// shown in its own language; the page around it in the language of the routine in use (pageLang).
function words(lang) { return model.words[lang] || model.words.en || {}; }

function t(lang, name, vars = {}) {
  const template = words(lang)[name] ?? name;
  return template.replace(/\{(\w+)\}/g, (all, key) => (key in vars ? String(vars[key]) : all));
}

// A template whose placeholders are elements: "{n} of {of}" with `n` and `of` as nodes.
function fill(lang, name, parts) {
  const template = words(lang)[name] ?? name;
  return template.split(/(\{\w+\})/).filter(Boolean).map((piece) => {
    const key = piece.match(/^\{(\w+)\}$/)?.[1];
    return key && key in parts ? parts[key] : piece;
  });
}

const counted = (lang, n, one, many) => t(lang, n === 1 ? one : many, { n });

// The routine in use: the one running (or just answered), else the one last started or chosen for on this
// device, else the first. The page speaks its language.
function inUse() {
  const routines = [...model.routines.values()];
  return routines.find((r) => r.state.state !== "idle") || routines.find((r) => model.acks.has(r.id))
    || model.routines.get(stored(IN_USE_KEY, "")) || routines[0] || null;
}

function pageLang() { return inUse()?.lang || "en"; }

function use(routineId) { store(IN_USE_KEY, routineId); }

// The page's fixed words (marked `data-word` in index.html) and its language.
function renderChrome() {
  const lang = pageLang();
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-word]")) {
    const text = t(lang, node.dataset.word, { days: CHART_DAYS });
    if (node.dataset.wordAttr) node.setAttribute(node.dataset.wordAttr, text);
    else node.textContent = text;
  }
  const link = document.getElementById("link");
  if (link.dataset.state) link.textContent = t(lang, link.dataset.state);
}

function linkState(state) {
  const link = document.getElementById("link");
  link.dataset.state = state;
  link.className = state === "live" ? "up" : "";
  link.textContent = t(pageLang(), state);
}

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

// Before signing in the page knows no routine, and so no language: the sign-in form is in English.
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
  model.words = body.words;
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

// Who the routine's next run is for: the profile picked on this device, else its first; null without any.
function chosen(routine) {
  const names = (routine.profiles || []).map((p) => p.name);
  const picked = model.chosen.get(routine.id);
  return names.includes(picked) ? picked : names[0] ?? null;
}

function person(name) { return name ? name[0].toUpperCase() + name.slice(1) : ""; }

// The person chooser beside Start, for a routine done by more than one person; kept on this device.
function chooser(routine) {
  const id = `who-${routine.id}`, who = chosen(routine), lang = routine.lang;
  const select = el("select", { id, class: "who-select", "aria-label": t(lang, "who_label", { routine: routine.name }), onchange: async () => {
    model.chosen.set(routine.id, select.value);
    store(WHO_KEY, Object.fromEntries(model.chosen));
    use(routine.id);
    await loadPlan(routine).catch(() => {});
    render();  // the page may now speak this routine's language
    document.getElementById(id)?.focus();
  } }, ...routine.profiles.map((p) => el("option", { value: p.name, ...(p.name === who ? { selected: "" } : {}) },
    person(p.name))));
  return [el("label", { for: id }, t(lang, "who")), select];
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

function timeline(plan, lang, current = null) {
  const bar = el("div", { class: "timeline", role: "img", "aria-label": t(lang, "plan_of", { routine: plan.name }) });
  for (const span of stepSpans(plan)) {
    const part = el("span", { title: `${span.title} (${clock(span.length)})` });
    part.style.width = `${(100 * span.length) / Math.max(plan.total_s, 1)}%`;
    if (current !== null) part.className = span.step === current ? "now" : span.step < current ? "done" : "";
    bar.append(part);
  }
  return bar;
}

// How far good runs in a row have come towards the next level.
function towards(stats, lang) {
  const next = stats.towards;
  if (!next) return t(lang, "highest");
  return t(lang, "towards", { good: next.good, needed: next.needed, reps: next.reps });
}

// Until when the rest after "it hurt" lasts (a Date), or null: the figures say, the clock decides.
function restingUntil(stats) {
  const until = stats.rest_until ? new Date(stats.rest_until) : null;
  return until && until.getTime() > serverNow() ? until : null;
}

// When a rest ends the cards are drawn again: Start is fully active, with the gentle run's caution.
let restTimer = null;
function restEnds(until) {
  clearTimeout(restTimer);
  if (!until) return;
  // setTimeout's longest wait is about 24.8 days; a rest is at most a week.
  restTimer = setTimeout(renderRoutines, Math.min(until.getTime() - serverNow() + 250, 2 ** 31 - 1));
}

// A time on this device's clock, with the day when it is not today.
function localTime(date, lang) {
  const today = date.toDateString() === new Date().toDateString();
  return date.toLocaleString(lang, { ...(today ? {} : { weekday: "long" }), hour: "2-digit", minute: "2-digit" });
}

function statsOf(routine, who) {
  return (who ? routine.profiles.find((p) => p.name === who)?.stats : routine.stats) || {};
}

function renderRoutines() {
  const box = document.getElementById("routines");
  // Rebuilt cards keep the focus where it was (on the same routine's Start, say), not on the page body.
  const had = document.activeElement, where = had?.closest?.("article[data-routine]");
  const kept = where && box.contains(where) && had.classList[had.classList.length - 1];
  box.replaceChildren();
  let rests = null;  // the first rest to end
  for (const routine of model.routines.values()) {
    const plan = model.plans.get(routine.id);
    const idle = routine.state.state === "idle";
    const who = chosen(routine), lang = routine.lang;
    const stats = statsOf(routine, who);
    // A run's state is shown once, in its live view; here only whether the routine is free.
    const card = el("article", { class: "routine", "data-routine": routine.id, lang },
      el("div", { class: "head" },
        el("div", {}, el("h3", {}, routine.name), el("div", { class: "muted" }, routine.description || "")),
        ...(idle ? [el("span", { class: "badge idle" }, t(lang, "state_idle"))] : [])),
      ...(who ? [el("p", { class: "whose" }, t(lang, "figures_of", { person: person(who) }))] : []),
      el("div", { class: "facts" },
        el("span", {}, `${t(lang, "next_run")} `, el("b", {}, t(lang, "reps", { n: stats.reps_level ?? "?" }))),
        el("span", { class: "towards" }, towards(stats, lang)),
        el("span", { class: "streak" }, `${t(lang, "streak")} `,
          el("b", {}, counted(lang, stats.streak_days ?? 0, "day", "days"))),
        el("span", {}, `${t(lang, "today")} `, el("b", {}, String(stats.completed_today ?? 0)))));
    // Start comes before the safety text and the plan: a phone shows it without scrolling. While the
    // rest after "it hurt" lasts it says until when, and a tap shows the server's refusal beside it.
    const resting = restingUntil(stats), time = resting ? localTime(resting, lang) : "";
    if (resting && (!rests || resting < rests)) rests = resting;
    if (idle) {
      const label = resting ? t(lang, "resting_label", { routine: routine.name, time }) : t(lang, "start_label", { routine: routine.name });
      card.append(el("div", { class: "row" }, ...(who ? chooser(routine) : []),
        el("button", { class: resting ? "start resting" : "primary start", type: "button", "aria-label": label,
          onclick: () => startRun(routine.id) }, resting ? t(lang, "resting_until", { time }) : t(lang, "start"))));
      const reason = model.refused.get(routine.id);
      if (reason) card.append(el("p", { class: "refused", role: "alert" }, t(lang, "not_started", { reason })));
    }
    if (resting) card.append(el("p", { class: "rest" }, t(lang, "rest_note", { time })));
    else if (plan?.gentle) card.append(el("p", { class: "gentle" }, t(lang, "gentle_next", { reps: plan.reps })));
    if (stats.advice) card.append(el("p", { class: "advice", role: "note" }, stats.advice));
    if (routine.safety?.length) card.append(safetyNotes(routine, plan, routine.state.state));
    if (routine.state.lights) card.append(lamps(routine.state.lights, lang));
    if (plan) {
      const steps = el("ol", { class: "steps" });
      for (const span of stepSpans(plan)) steps.append(el("li", {}, span.title, el("span", {}, clock(span.length))));
      const details = el("details", { class: "plan", ontoggle: () => {
        if (details.open) model.openPlans.add(routine.id); else model.openPlans.delete(routine.id);
      } }, el("summary", { class: "plan-summary" }, t(lang, "plan_summary", { steps: plan.steps.length, time: clock(plan.total_s), reps: plan.reps })),
      steps);
      details.open = model.openPlans.has(routine.id);
      card.append(timeline(plan, lang), details);
    }
    box.append(card);
  }
  restEnds(rests);
  const refusal = box.querySelector(".refused");
  if (refusal) refusal.scrollIntoView({ block: "nearest" });  // where the person tapped Start
  if (kept && !model.focus) model.focus = { routine: where.dataset.routine, what: `.${kept}` };
  applyFocus();
}

// Start the routine for the person chosen; a refusal says why beside the Start that was tapped.
async function startRun(routineId) {
  const routine = model.routines.get(routineId), who = chosen(routine);
  use(routineId);
  model.refused.delete(routineId);
  model.acks.delete(routineId);
  model.focus = { routine: routineId, what: ".pause" };
  const body = await command(routineId, "start", who ? { profile: who } : null);
  if (body && body.result.startsWith(NOT_STARTED)) {
    model.focus = { routine: routineId, what: ".start" };
    model.refused.set(routineId, body.result.slice(NOT_STARTED.length));
    say("");
  } else if (body) {
    say(`${routine.name}: ${t(routine.lang, "started")}`);
  }
  renderChrome();
  renderRoutines();
  renderLive();
}

// Where the focus was asked to go (the live view's Pause after Start, Start after the run), once it is drawn.
function applyFocus() {
  const wanted = model.focus;
  if (!wanted) return;
  const home = wanted.what === ".start" ? `article[data-routine="${wanted.routine}"]` : `#live-${wanted.routine}`;
  const target = document.querySelector(`${home} ${wanted.what}`);
  if (target && !target.closest("[inert]")) {
    model.focus = null;
    target.focus();
  }
}

// The routine's safety introduction: open while the next run still owes it; it can be heard now.
function safetyNotes(routine, plan, state) {
  const owed = !plan || plan.safety_owed, lang = routine.lang;
  return el("details", { class: "safety", ...(owed ? { open: "" } : {}) },
    el("summary", { class: "safety-summary" }, t(lang, owed ? "safety_owed" : "safety")),
    el("ul", {}, ...routine.safety.map((sentence) => el("li", {}, sentence))),
    el("button", { type: "button", class: "hear", "aria-label": t(lang, "hear_label", { routine: routine.name }),
      onclick: () => command(routine.id, "safety"), ...(state === "idle" ? {} : { disabled: "" }) }, t(lang, "hear_now")));
}

// A virtual light (no lamp configured) is drawn at its level, so the routine's dimming can be seen.
function lamps(lights, lang) {
  return el("div", { class: "lamps" }, ...Object.entries(lights).map(([name, look]) => {
    const level = look.state === "ON" ? look.brightness : 0;
    const bulb = el("span", { class: "bulb" });
    const warmth = look.color_temp < 3500 ? "#ffbf5e" : look.color_temp > 5000 ? "#d6e6ff" : "#fff0cf";
    bulb.style.background = warmth;
    bulb.style.color = warmth;
    bulb.style.opacity = String(0.12 + (0.88 * level) / 100);
    return el("span", { class: "lamp", "data-light": name, "data-level": String(level) },
      bulb, `${t(lang, "light", { name })} `, el("b", {}, level ? `${level}%` : t(lang, "off")));
  }));
}

// -- the session: the run in progress, full screen ---------------------------------------------------------
// While a run is on, its live view covers the page, where a person with a phone in one hand is looking;
// the rest of the page is inert beneath it until the run (and the acknowledgement of its answer) is over.
// One card per routine, made once and then updated in place: the sentence changes every few seconds, and
// a rebuilt card would take the focus from its buttons and repeat itself to screen readers.
function renderLive() {
  const box = document.getElementById("live");
  const shown = new Set();
  for (const routine of model.routines.values()) {
    const state = routine.state.state;
    const asked = routine.state.question === DID_IT_HURT ? "hurt" : "asking";
    const kind = state === "asking" ? asked : state !== "idle" ? "run" : model.acks.has(routine.id) ? "ack" : null;
    let card = document.getElementById(`live-${routine.id}`);
    if (card && card.dataset.kind !== kind) { leave(card, routine.id); card.remove(); card = null; }
    if (!kind) continue;
    if (!card) box.append(card = { asking: questionCard, hurt: hurtCard, run: runCard, ack: ackCard }[kind](routine));
    if (kind === "run") updateRunCard(card, routine);
    if (kind === "ack") updateAck(card, routine);
    shown.add(card);
  }
  for (const card of [...box.children]) if (!shown.has(card)) { leave(card, card.dataset.routine); card.remove(); }
  const on = box.children.length > 0;
  document.body.classList.toggle("in-session", on);
  // The degraded banner stays readable above the session: the run may not be journaled.
  const banner = document.getElementById("degraded");
  for (const part of document.getElementById("app").children) if (part !== box && part !== banner) part.inert = on;
  document.querySelector("header").inert = on;
  placeSession();
  tick();
  keepAwake([...model.routines.values()].some((r) => r.state.state !== "idle"));
  applyFocus();
}

// A card that goes away with the focus in it hands the focus on: to the question's first answer when
// the run asks it, else to the routine's Start.
function leave(card, routineId) {
  if (!card.contains(document.activeElement) || model.focus) return;
  const asking = model.routines.get(routineId)?.state.state === "asking";
  model.focus = { routine: routineId, what: asking ? "[data-answer]" : ".start" };
}

function header(routine, badge) {
  const id = routine.id;
  return el("div", { class: "row" }, el("h2", { class: "name", id: `live-${id}-name` }, routine.name),
    el("span", { class: "who" }, person(routine.state.profile)), badge);
}

function runCard(routine) {
  const id = routine.id, lang = routine.lang;
  const state = () => model.routines.get(id)?.state.state;
  const cancel = el("button", { class: "danger cancel", type: "button", onclick: () => stop(id, cancel) }, t(lang, "cancel"));
  return el("section", { class: "live card", id: `live-${id}`, lang, "data-kind": "run", "data-routine": id,
    "aria-labelledby": `live-${id}-name` },
    header(routine, el("span", { class: "badge" })),
    el("p", { class: "position" }),
    el("div", { class: "plan-now" }),
    el("p", { class: "step" }),
    el("div", { class: "paused-note", role: "status" },
      el("p", { class: "paused-big" }), el("p", { class: "paused-how" })),
    el("p", { class: "sentence", "aria-live": "polite" }),
    el("p", { class: "count" }, ...fill(lang, "count_of", { n: el("b", { class: "n" }), of: el("span", { class: "of" }) })),
    el("div", { class: "bar", role: "presentation" }, el("div", {})),
    el("div", { class: "facts" },
      el("span", {}, `${t(lang, "left")} `, el("b", { class: "left" }, "–")),
      el("span", {}, `${t(lang, "next")} `, el("b", { class: "next" }, "–"))),
    el("div", { class: "controls" },
      el("button", { type: "button", class: "primary pause",
        onclick: () => command(id, state() === "paused" ? "resume" : "pause") }, t(lang, "pause")),
      el("button", { type: "button", class: "skip", onclick: () => command(id, "skip") }, t(lang, "skip")),
      cancel),
    el("p", { class: "cancel-hint", role: "status" }),
    el("p", { class: "problem", role: "alert" }));
}

// Cancel asks once more, in place, for a few seconds: a stray tap (a ball in the other hand) stops nothing.
function stop(routineId, button) {
  const card = button.closest(".live"), lang = model.routines.get(routineId)?.lang;
  const hint = card.querySelector(".cancel-hint");
  if (button.dataset.armed) {
    if (performance.now() - Number(button.dataset.armedAt) < DOUBLE_TAP_MS) return;
    clearTimeout(Number(button.dataset.armed));
    model.focus = { routine: routineId, what: ".start" };
    command(routineId, "cancel");
    return;
  }
  const disarm = () => {
    delete button.dataset.armed;
    button.textContent = t(lang, "cancel");
    hint.textContent = "";
  };
  button.dataset.armed = String(setTimeout(disarm, CONFIRM_S * 1000));
  button.dataset.armedAt = String(performance.now());
  hint.textContent = t(lang, "cancel_hint", { seconds: CONFIRM_S });
  // The button asks "Really stop?" once a tap on it would stop the run.
  setTimeout(() => { if (button.dataset.armed) button.textContent = t(lang, "really_stop"); }, DOUBLE_TAP_MS);
}

// During a count the large line is the instruction that introduced it, not a short cue of the count's
// own ("Begin."): of the sentences said one after another just before its first number, the last one
// of more than two words.
function instruction(plan, s) {
  const spoken = s.spoken || {};
  if (!spoken.count || !plan) return spoken.text || "";
  const cues = plan.cues, groups = [];
  cues.forEach((cue, i) => {
    if (cue.kind !== "count" || cue.step !== s.step_index || cues[i - 1]?.kind === "count") return;
    const said = [];
    for (let j = i - 1; j >= 0 && cues[j].kind === "say" && cues[j].step === cue.step; j--) said.unshift(cues[j].text);
    if (said.length) groups.push(said);
  });
  const group = groups.find((g) => g[g.length - 1] === spoken.text) || groups[0];
  const said = group ? group.filter((text) => text.split(/\s+/).length > 2) : [];
  return said.length ? said[said.length - 1] : group ? group[0] : spoken.text || "";
}

function updateRunCard(card, routine) {
  const s = routine.state, plan = model.plans.get(routine.id), lang = routine.lang;
  const q = (selector) => card.querySelector(selector);
  card.dataset.state = s.state;
  q(".who").textContent = person(s.profile);
  q(".badge").className = `badge ${s.state}`;
  q(".badge").textContent = t(lang, `state_${s.state}`);
  const step = s.step_index;
  q(".position").textContent = step === null || step === undefined ? "" : t(lang, "step_of", { n: step + 1, of: s.steps });
  if (plan && card.dataset.step !== String(step)) {
    card.dataset.step = String(step);
    q(".plan-now").replaceChildren(timeline(plan, lang, step ?? -1));
  }
  const spoken = s.spoken || {};
  // Before the first step: the safety introduction, or the run getting ready (its speech, an opening).
  const before = routine.safety?.includes(spoken.text) ? "safety" : spoken.text ? "getting_ready" : "preparing";
  q(".step").textContent = s.step || t(lang, before);
  const sentence = instruction(plan, s);
  if (q(".sentence").textContent !== sentence) q(".sentence").textContent = sentence;
  q(".sentence").hidden = !sentence;
  q(".sentence").classList.toggle("long", sentence.length > 140);
  q(".count").hidden = !spoken.count;
  q(".count .n").textContent = spoken.count ? String(spoken.count) : "";
  q(".count .of").textContent = spoken.count ? String(spoken.of) : "";
  q(".next").textContent = s.state === "starting" ? "–" : s.next_step || t(lang, "the_end");
  const paused = s.state === "paused";
  q(".pause").textContent = t(lang, paused ? "resume" : "pause");
  q(".paused-note").hidden = !paused;
  q(".paused-big").textContent = paused ? t(lang, "paused_big") : "";
  q(".paused-how").textContent = paused ? t(lang, "paused_how") : "";
}

// The end-of-run question is open: big buttons answer it, and a screen reader hears it asked.
function questionCard(routine) {
  const id = routine.id, lang = routine.lang;
  return el("section", { class: "live card", id: `live-${id}`, lang, "data-kind": "asking", "data-state": "asking",
    "data-routine": id, "aria-labelledby": `live-${id}-name` },
    header(routine, el("span", { class: "badge asking" }, t(lang, "state_asking"))),
    el("p", { class: "question", id: `question-${id}`, role: "alert" }, routine.question || t(lang, "question")),
    answerButtons(routine, "answers", { "aria-labelledby": `question-${id}` }),
    el("p", { class: "problem", role: "alert" }));
}

// A run was cancelled: did it hurt? A large "It hurt" answers it on that run; "No" closes the question
// (a cancel while it is open answers nothing, and is no late answer to an earlier run once it has closed).
function hurtCard(routine) {
  const id = routine.id, lang = routine.lang;
  return el("section", { class: "live card", id: `live-${id}`, lang, "data-kind": "hurt", "data-state": "asking",
    "data-routine": id, "aria-labelledby": `live-${id}-name` },
    header(routine, el("span", { class: "badge asking" }, t(lang, "state_asking"))),
    el("p", { class: "question", id: `question-${id}`, role: "alert" }, t(lang, "did_it_hurt")),
    el("div", { class: "row answers hurt-answers", role: "group", "aria-labelledby": `question-${id}` },
      el("button", { type: "button", class: "hurt", "data-answer": "hurt", onclick: () => answer(id, "hurt") },
        t(lang, "answer_hurt")),
      el("button", { type: "button", class: "not-hurt", onclick: () => notHurt(id) }, t(lang, "not_hurt"))),
    el("p", { class: "problem", role: "alert" }));
}

// "No": the question closes, and the person is thanked for a few seconds (the focus on Done, then Start).
async function notHurt(routineId) {
  const ack = { answer: "not_hurt", profile: model.routines.get(routineId).state.profile || null, seen: 0 };
  model.acks.set(routineId, ack);
  model.focus = { routine: routineId, what: ".done" };
  if (!(await command(routineId, "cancel"))) {
    model.acks.delete(routineId);
    model.focus = null;
    return;
  }
  setTimeout(() => {
    if (model.acks.get(routineId) !== ack) return;  // closed already, or another answer since
    model.acks.delete(routineId);
    renderLive();
  }, NOT_HURT_ACK_S * 1000);
}

// The answers to a question; `runId`: the run of the History they answer; `words`: which answers.
function answerButtons(routine, className, label, runId = null, words = ANSWERS) {
  return el("div", { class: `row ${className}`, role: "group", ...label },
    ...words.map((word) => el("button", {
      type: "button", class: word === "hurt" ? "danger" : "", "data-answer": word,
      onclick: () => answer(routine.id, word, runId) }, t(routine.lang, `answer_${word}`))));
}

// After an answer: what homeflow replied (thanks, what changes next time, and after "it hurt" the advice
// and the stop rules), until the person closes it.
function ackCard(routine) {
  const id = routine.id, lang = routine.lang, { answer } = model.acks.get(id);
  return el("section", { class: "live card", id: `live-${id}`, lang, "data-kind": "ack", "data-routine": id,
    "aria-labelledby": `live-${id}-name` },
    header(routine, el("span", { class: "badge" }, t(lang, answer === "not_hurt" ? "not_hurt_badge" : `feedback_${answer}`))),
    el("p", { class: "ack", role: "status" }),
    el("button", { type: "button", class: "primary done", onclick: () => {
      model.acks.delete(id);
      model.focus = { routine: id, what: ".start" };
      render();
    } }, t(lang, "done")));
}

function updateAck(card, routine) {
  const lang = routine.lang, { answer, profile, seen } = model.acks.get(routine.id);
  const stats = statsOf(routine, profile && routine.profiles.some((p) => p.name === profile) ? profile : null);
  const reply = routine.state.reply;
  let text;
  if (answer === "not_hurt") {
    text = t(lang, "not_hurt_ack");
  } else if (reply && reply.n !== seen) {
    text = reply.text;  // what homeflow said to this answer
  } else {  // until the reply arrives (or where none is said)
    const parts = [t(lang, answer === "hurt" ? "sorry" : "thanks")];
    if (stats.reps_level) parts.push(t(lang, "next_time", { reps: stats.reps_level }));
    if (answer === "hurt" && stats.advice) parts.push(stats.advice);
    text = parts.join(" ");
  }
  if (card.querySelector(".ack").textContent !== text) card.querySelector(".ack").textContent = text;
  card.querySelector(".who").textContent = person(profile);
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

// -- history and chart: whose runs, of which routine ---------------------------------------------------
// The runs shown: of the routine and the person picked above the chart (every one by default).
function shownRuns() {
  const { routine, person: who } = model.shown;
  return model.runs.filter((run) => (!routine || run.routine === routine) && (!who || run.profile === who));
}

function people() {
  return [...new Set([...model.routines.values()].flatMap((r) => (r.profiles || []).map((p) => p.name)))];
}

function renderShown() {
  const lang = pageLang(), box = document.getElementById("shown");
  const pick = (id, name, label, options) => {
    const select = el("select", { id, class: "who-select", "aria-label": label, onchange: () => {
      model.shown = { ...model.shown, [name]: select.value };
      store(SHOWN_KEY, model.shown);
      renderHistory();
      renderChart();
      document.getElementById(id)?.focus();
    } }, ...options.map(([value, text]) => el("option", { value, ...(value === model.shown[name] ? { selected: "" } : {}) }, text)));
    return select;
  };
  const routines = [...model.routines.values()];
  const parts = [el("span", { class: "muted" }, t(lang, "show"))];
  if (routines.length > 1 || model.shown.routine) {
    parts.push(pick("shown-routine", "routine", t(lang, "shown_routine"),
      [["", t(lang, "all_routines")], ...routines.map((r) => [r.id, r.name])]));
  }
  const names = people();
  if (names.length || model.shown.person) {
    parts.push(pick("shown-person", "person", t(lang, "shown_person"), [["", t(lang, "everyone")], ...names.map((n) => [n, person(n)])]));
  }
  box.replaceChildren(...(parts.length > 1 ? parts : []));
}

function renderHistory() {
  const body = document.querySelector("#history tbody"), lang = pageLang();
  const runs = shownRuns();
  // A routine's last completed run may still be answered, once, while the routine is idle; a run
  // cancelled since then, of a routine that asks, may still be told "it hurt" (a person in pain
  // cancels). Each names its run.
  const last = new Map();
  for (const run of model.runs) if (run.status === "completed" && !last.has(run.routine)) last.set(run.routine, run);
  const since = (run) => !last.has(run.routine) || run.id > last.get(run.routine).id;
  body.replaceChildren(...runs.slice(0, 25).map((run) => {
    const routine = model.routines.get(run.routine);
    const started = new Date(run.started_at);
    const took = run.ended_at ? clock((Date.parse(run.ended_at) - started) / 1000) : "–";
    const idle = routine?.state.state === "idle";
    let feedback = run.feedback ? t(lang, `feedback_${run.feedback}`) : run.status === "completed" ? t(lang, "feedback_none") : "–";
    if (!run.feedback && last.get(run.routine) === run && idle && routine) {
      feedback = answerButtons(routine, "answers small", { "aria-label": t(routine.lang, "question"), lang: routine.lang }, run.id);
    } else if (!run.feedback && run.status === "cancelled" && since(run) && idle && routine?.question) {
      feedback = answerButtons(routine, "answers small", { "aria-label": t(routine.lang, "did_it_hurt"), lang: routine.lang }, run.id, ["hurt"]);
    }
    return el("tr", { "data-run": String(run.id), "data-status": run.status, "data-feedback": run.feedback || "" },
      el("td", { class: "when" }, started.toLocaleString(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })),
      el("td", { class: "what" }, el("span", { lang: routine?.lang || lang }, routine?.name || run.routine),
        run.profile ? ` · ${person(run.profile)}` : ""),
      el("td", { class: `status-${run.status}` }, t(lang, `status_${run.status}`)),
      el("td", { class: "num", "data-label": t(lang, "reps", { n: "" }).trim() }, String(run.reps)),
      el("td", { class: "num", "data-label": t(lang, "took") }, took),
      el("td", { class: "feedback", "data-label": t(lang, "feedback") }, feedback),
      el("td", { class: "hide-small" }, run.trigger));
  }));
  document.getElementById("no-runs").hidden = runs.length > 0;
}

function dayKey(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

// A run's mark in the chart: its answer, or that it did not finish.
function markOf(run, lang) {
  if (run.status !== "completed") return ["cancelled", t(lang, `status_${run.status}`)];
  return run.feedback ? [run.feedback, t(lang, `feedback_${run.feedback}`)] : ["none", t(lang, "feedback_none")];
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
  const runs = shownRuns(), lang = pageLang();
  for (const run of [...runs].reverse()) perDay.get(dayKey(new Date(run.started_at)))?.push(run);
  const reps = new Map();
  for (const [day, runs] of perDay) {
    const done = runs.filter((r) => r.status === "completed");
    if (done.length) reps.set(day, Math.max(...done.map((r) => r.reps)));
  }
  const maxCount = Math.max(2, ...[...perDay.values()].map((runs) => runs.length));
  const maxReps = Math.max(1, ...reps.values());
  const plotW = W - left - right, plotH = H - top - bottom, slot = plotW / CHART_DAYS;
  const total = runs.filter((r) => perDay.has(dayKey(new Date(r.started_at)))).length;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": t(lang, "chart_label", { runs: counted(lang, total, "run", "runs"), days: CHART_DAYS }) });
  chart.append(svg("line", { x1: left, y1: top + plotH, x2: W - right, y2: top + plotH, class: "axis" }));
  chart.append(svg("text", { x: left - 6, y: top + 9, "text-anchor": "end" }, String(maxCount)));
  chart.append(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"));
  chart.append(svg("text", { x: W - right + 6, y: top + 9 }, String(maxReps)));
  const points = [];
  const height = plotH / maxCount;
  days.forEach((day, i) => {
    const x = left + i * slot;
    perDay.get(day).forEach((run, j) => {
      const [kind, words] = markOf(run, lang);
      const mark = svg("rect", { x: x + 0.75, y: top + plotH - (j + 1) * height + 1, width: Math.max(1.5, slot - 1.5),
        height: Math.max(1, height - 2), class: `run run-${kind}`, "data-run": String(run.id) });
      mark.append(svg("title", {}, `${day}: ${t(lang, `status_${run.status}`)}, ${t(lang, "reps", { n: run.reps })}, ${words}`));
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
  box.textContent = reason ? t(pageLang(), "degraded", { reason }) : "";
  placeSession();
}

// The session starts below the degraded banner, which is fixed at the top of the screen while it shows.
function placeSession() {
  const banner = document.getElementById("degraded");
  const over = document.body.classList.contains("in-session") && !banner.hidden;
  document.getElementById("live").style.top = over ? `${banner.offsetHeight}px` : "";
}

function render() {
  renderChrome(); renderDegraded(); renderRoutines(); renderLive(); renderShown(); renderHistory(); renderChart();
}

// A command's answer (the live view shows what it did), or null when it failed, and why is shown.
async function command(routineId, word, options = null) {
  try {
    const sent = options ? { body: JSON.stringify(options), headers: { "Content-Type": "application/json" } } : {};
    return await api(`api/routines/${encodeURIComponent(routineId)}/${word}`, { method: "POST", ...sent });
  } catch (error) {
    if (error instanceof Unauthorized) { showLogin(true); return null; }
    // In a session the page beneath is covered: the live view says what went wrong.
    const problem = document.querySelector(`#live-${routineId} .problem`);
    if (problem) problem.textContent = String(error.message || error);
    else say(String(error.message || error), true);
    return null;
  }
}

// An answer changes the next run's level, the history and maybe the advice shown: read them again, and
// say what changes next time.
async function answer(routineId, word, runId = null) {
  const routine = model.routines.get(routineId);
  const profile = routine.state.profile
    || model.runs.find((r) => r.routine === routineId && (runId === null || r.id === runId))?.profile || null;
  // Set first: the run may end (and its question card go) before the answer's reply arrives. `seen`:
  // the reply shown before this answer, not its own.
  model.acks.set(routineId, { answer: word, profile, seen: routine.state.reply?.n ?? 0 });
  model.focus = { routine: routineId, what: ".done" };
  if (!(await command(routineId, word, runId === null ? null : { run: runId }))) {
    model.acks.delete(routineId);
    model.focus = null;
  }
  await refresh().catch(() => {});
}

async function refresh() {
  await Promise.all([loadRoutines(), loadRuns()]);
  render();
}

function onState(event) {
  const routine = model.routines.get(event.routine);
  if (!routine) return;
  learnClock(event.now);
  const before = routine.state, lang = pageLang();
  routine.state = event.state;
  const lights = (state) => JSON.stringify(state.lights || {});
  if (pageLang() !== lang) {
    render();  // a run in another language: the whole page follows it
  } else {
    renderLive();
    renderDegraded();
    // The routine cards and the history change with the run's state (and a virtual light's level), not
    // with every sentence: rebuilt less often, they keep the focus and an open plan.
    if (before.state !== event.state.state || lights(before) !== lights(event.state)) {
      renderRoutines();
      renderHistory();
    }
  }
  // A run that just ended changed the history, the stats and maybe the next run's level.
  if (before.state !== "idle" && event.state.state === "idle") refresh().catch(() => {});
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The stream's first block comes at once and a heartbeat every 5 s (HEARTBEAT_S in events.py).
const FIRST_BLOCK_MS = 4000, SILENCE_MS = 16000, POLL_MS = 2000;

// Server-sent events read through fetch, since EventSource cannot send the Authorization header. The
// stream is "live" only once something arrives on it: a proxy that compresses it (Home Assistant's
// Ingress before 2026.2) holds every event back, and a stream silent that long is given up for polling.
async function listen() {
  for (;;) {
    const silent = new AbortController();
    let timer = setTimeout(() => silent.abort(), FIRST_BLOCK_MS);
    try {
      const token = sessionStorage.getItem(TOKEN_KEY);
      const response = await fetch("api/events", {
        headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: "no-store", signal: silent.signal });
      if (response.status === 401) { showLogin(true); return; }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
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
          linkState("live");
          clearTimeout(timer);
          timer = setTimeout(() => silent.abort(), SILENCE_MS);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onState(JSON.parse(data));
        }
      }
    } catch (error) {
      // fall through: show the lost link and try again
    }
    clearTimeout(timer);
    if (silent.signal.aborted) { await poll(); return; }
    linkState("reconnecting");
    await sleep(2000);
    await refresh().catch(() => {});
  }
}

// Every routine's state asked for every POLL_MS, for as long as the page is open, where the event
// stream does not get through: the live view follows a run a little later, and the badge says so.
async function poll() {
  for (;;) {
    try {
      const body = await api("api/routines");
      for (const routine of body.routines) onState({ routine: routine.id, state: routine.state, now: body.now });
      linkState("polling");
    } catch (error) {
      if (error instanceof Unauthorized) { showLogin(true); return; }
      linkState("reconnecting");
    }
    await sleep(POLL_MS);
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
