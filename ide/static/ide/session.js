// The session page: the screen as a controller, the element inspector, the composer and its draft, the live
// step list, input prompts, chat, stop and export. Everything goes through the public contract (docs/api.md).
import { ScreenController, placeBox } from "./controller.js";
import { Exporter } from "./export.js";
import { Inspector, selectorText } from "./inspector.js";
import { DeviceLog } from "./logs.js";
import { SessionSocket } from "./socket.js";
import {
  ACTION_LABELS,
  MASK,
  composerSpecs,
  describeStep,
  el,
  errorText,
  fillStep,
  readStep,
  renderFields,
  setUiElements,
} from "./steps.js";
import { describeNode, hashOfUrl, nodeAt, selectorFor, suggestedSelectors, targetAt, treeOf } from "./tree.js";

const config = JSON.parse(document.getElementById("session-config").textContent);
const $ = (selector) => document.querySelector(selector);
const TERMINAL_SESSION = new Set(["COMPLETED", "CANCELLED", "FAILED"]);
const TERMINAL_STEP = new Set(["COMPLETED", "ERROR", "CANCELLED"]);
const ACTIVE_STEP = new Set(["STARTED", "RETRYING"]);
const WAITING_STEP = new Set(["QUEUED", "DEFERRED"]);
const api = `/api/sessions/${config.id}`;
const SPECS = composerSpecs(await loadCatalog(), { package: config.app || "" });
const FIELDS = SPECS.fields;
const SECRET_SUPPORTED = SPECS.takes("type", "secret");

// The step vocabulary from the server (core.steps' catalog); without it the composer stays empty and says why.
async function loadCatalog() {
  try {
    const response = await fetch("/steps/catalog.json", { credentials: "same-origin" });
    if (response.ok) return await response.json();
  } catch {
    /* said below */
  }
  document.getElementById("composer-error").textContent = "Could not load the step vocabulary: reload the page.";
  document.getElementById("composer-error").hidden = false;
  return { actions: [], common: [] };
}
const stored = (name) => `cognisim:${name}:${config.id}`;

const state = {
  status: config.status,
  steps: new Map(), // step_id → {id, index, action, params, status, attempt, duration_ms, error, result, screen}
  inputs: new Map(), // step_id → {inputId, prompt, choices} of ask_user steps waiting for an answer
  inputDismissed: null, // the prompt the tester put off with "Later" / Escape (the banner brings it back)
  drafts: loadJson(stored("draft"), []),
  editing: null, // index of the draft step the composer is editing
  runStarts: new Map(), // step_id → performance mark name of the click that sent it
  screen: hashOfUrl(config.screenUrl), // hash of the device's latest screen, from SCREEN events
  stepScreens: new Map(), // step_id → hash of the screen its SCREEN event named
  secretSteps: new Set(loadJson(stored("secrets"), [])), // steps typed into password fields (this browser)
  secretTexts: new Set(), // their texts, masked wherever they would show (chat)
  turns: new Map(), // turn_id → the chat line of its answer (or "thinking…")
  tree: { hash: null, nodes: [] }, // the UI tree of the screen on show
  lastField: null, // the text field the controller last tapped (where typing goes)
  scrollNewest: "list", // how far to go to show a new step row: "list" (its box) or "page"
};

// ---------- helpers

function loadJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

function saveJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: the draft lives as long as the page */
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function apiFetch(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...(options.headers || {}) },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error(body?.message || `HTTP ${response.status}`), { body });
  return body;
}

function showPageError(message) {
  const node = $("#page-error");
  node.textContent = message;
  node.hidden = !message;
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function deviceSize() {
  const img = $("#screen");
  return {
    width: config.device?.width || img.naturalWidth || 0,
    height: config.device?.height || img.naturalHeight || 0,
  };
}

const over = () => TERMINAL_SESSION.has(state.status);

// ---------- secrets: text typed into password fields shows as ••••••

// The server keeps a secret `type` step's text apart: its params say `${_TYPED_<its index>}` (docs/api.md),
// whoever sent it (this page, another tab, the agent).
function isSecret(step) {
  const kept = step.action === "type" && step.params?.text === `\${_TYPED_${step.index}}`;
  return kept || Boolean(step.params?.secret) || state.secretSteps.has(step.id);
}

function markSecret(stepId, text) {
  state.secretSteps.add(stepId);
  if (text) state.secretTexts.add(text);
  saveJson(stored("secrets"), [...state.secretSteps]);
}

function masked(text) {
  let out = String(text ?? "");
  for (const secret of state.secretTexts) if (secret.length >= 3) out = out.split(secret).join(MASK);
  return out;
}

function shownParams(step) {
  if (!step.params) return step.params;
  return isSecret(step) ? { ...step.params, secret: true } : step.params;
}

// ---------- the step list

function stepRow(step) {
  let row = document.getElementById(`step-${step.id}`);
  if (row) return row;
  row = el("li", { id: `step-${step.id}`, class: "step", "data-step-id": step.id, "data-index": step.index });
  const reuse = el("button", {
    type: "button",
    class: "small reuse",
    "aria-label": `Load step #${step.index + 1} into the composer`,
    title: "Load into the composer",
    text: "↺ edit",
  });
  reuse.addEventListener("click", () => loadPastStep(step.id));
  row.append(
    el("span", { class: "idx", text: `#${step.index + 1}` }), // numbered from 1, as people count
    el("span", { class: "what" }, el("strong", { class: "action" }), " ", el("span", { class: "desc" })),
    el("span", { class: "badge" }),
    el("span", { class: "meta" }, el("span", { class: "facts" }), el("span", { class: "tools" }), reuse),
    el("p", { class: "answer", hidden: true }),
    el("p", { class: "error", hidden: true }),
  );
  const list = $("#steps");
  const after = [...list.children].find((other) => Number(other.dataset.index) > step.index);
  list.insertBefore(row, after || null);
  $("#steps-empty").hidden = true;
  showNewest(row);
  return row;
}

// A new row is brought into view: inside the list's own scroll box, and on the page when the tester is
// working in the composer (so Run shows where the step went).
function showNewest(row) {
  const list = $("#steps");
  if (row !== list.lastElementChild) return;
  list.scrollTop = list.scrollHeight;
  if (state.scrollNewest === "page") row.scrollIntoView({ block: "nearest" });
}

function renderStep(step) {
  const row = stepRow(step);
  if (row.dataset.status !== step.status) row.dataset.status = step.status; // a repaint (its screen came) is no new status
  row.querySelector(".action").textContent = ACTION_LABELS[step.action] || step.action;
  row.querySelector(".desc").textContent = describeStep(step.action, shownParams(step));
  const badge = row.querySelector(".badge");
  badge.textContent = step.status;
  badge.className = `badge st-${step.status}`;
  const facts = [];
  if (step.attempt > 1) facts.push(`attempt ${step.attempt}`);
  if (step.status === "RETRYING" && step.delay_ms) facts.push(`retry in ${Math.round(step.delay_ms)} ms`);
  if (step.duration_ms !== undefined && step.duration_ms !== null) facts.push(`${step.duration_ms} ms`);
  row.querySelector(".facts").textContent = facts.join(" · ");
  const tools = row.querySelector(".tools");
  tools.replaceChildren();
  if (step.action === "screenshot" && step.status === "COMPLETED") {
    tools.append(el("a", { href: `${api}/steps/${step.id}/screenshot.png`, target: "_blank", text: "view" }));
  }
  if (step.screen && (step.status === "COMPLETED" || step.status === "ERROR")) {
    const failed = step.status === "ERROR";
    const button = el("button", {
      type: "button",
      class: `small shot${failed ? " failure" : ""}`,
      "aria-label": failed ? `Screen when step #${step.index + 1} failed` : `Screen after step #${step.index + 1}`,
      "data-screen": step.screen,
      text: failed ? "screen at failure" : "screen",
    });
    button.addEventListener("click", () => showStepScreen(step));
    tools.append(button);
  }
  const answer = row.querySelector(".answer");
  if (step.action === "ask_user" && step.status === "COMPLETED" && step.result) {
    const secret = step.params?.secret || step.result.value === `\${_ANSWER_${step.index}}`; // (params may come later)
    const value = secret ? MASK : step.result.value === "" ? "(empty)" : `“${step.result.value}”`;
    answer.textContent = `Answer: ${value}`;
  } else if (step.action === "ask_user" && step.status === "CANCELLED") {
    answer.textContent = "No answer: the question was cancelled.";
  } else {
    answer.textContent = "";
  }
  answer.hidden = !answer.textContent;
  const error = row.querySelector(".error");
  error.textContent = step.status === "ERROR" || step.status === "RETRYING" ? masked(errorText(step.error)) : "";
  error.hidden = !error.textContent;
  if (step.status === "COMPLETED") measureRun(step.id);
  renderSessionBadge();
  if (TERMINAL_STEP.has(step.status)) setTimeout(checkSettled);
}

// Run → COMPLETED in this browser (docs/ide.md): a mark at the click, a measure when the badge shows.
function measureRun(stepId) {
  const start = state.runStarts.get(stepId);
  if (!start) return;
  state.runStarts.delete(stepId);
  performance.measure("run-to-completed", { start, detail: { stepId } });
  performance.clearMarks(start);
}

// The picture of the screen right after a step (or when it failed) and its UI tree, in a dialog.
const shotInspector = new Inspector({
  tree: $("#shot-tree"),
  search: $("#shot-search"),
  details: $("#shot-details"),
  actions: false,
});
async function showStepScreen(step) {
  const dialog = $("#shot-dialog");
  const url = `${api}/screens/${step.screen}.png`;
  const what = `${ACTION_LABELS[step.action] || step.action}`;
  $("#shot-title").textContent =
    step.status === "ERROR" ? `When step #${step.index + 1} failed: ${what}` : `After step #${step.index + 1}: ${what}`;
  $("#shot-img").alt = step.status === "ERROR" ? "The device's screen when this step failed" : "The device's screen right after this step";
  $("#shot-img").src = url;
  $("#shot-open").href = url;
  $("#shot-search").value = "";
  shotInspector.picked = null;
  shotInspector.show([]);
  dialog.dataset.screen = step.screen;
  dialog.showModal();
  shotInspector.show(await treeOf(config.id, step.screen));
}
$("#shot-close").addEventListener("click", () => $("#shot-dialog").close());

// The screen a failed step left: named by the server (the lead's failure evidence) or, until then, the
// screen on show when the failure arrived.
function failureScreen(step, event) {
  return event.screen || event.error?.screen || step.error?.screen || step.screen || state.screen;
}

// Descriptions and screens of steps seen only through events (a replay, another tab, a script) come from the
// steps API: once things are quiet for a moment (at most a few seconds late), and only if one is still missing.
const refresh = { timer: null, first: 0 };
function refreshParamsSoon() {
  const now = performance.now();
  if (!refresh.timer) refresh.first = now;
  clearTimeout(refresh.timer);
  const wait = Math.max(0, Math.min(500, refresh.first + 3000 - now));
  refresh.timer = setTimeout(refreshParams, wait);
}

async function refreshParams() {
  refresh.timer = null;
  if (![...state.steps.values()].some((s) => !s.params)) return; // the page's own steps got theirs from the ACK
  try {
    const steps = await apiFetch(`${api}/steps/`);
    for (const s of steps) {
      const known = state.steps.get(s.id);
      const screen = s.status === "COMPLETED" ? s.effect?.screen : s.status === "FAILED" ? s.error?.screen : undefined;
      if (known && (!known.params || (screen && known.screen !== screen))) {
        known.params = known.params || s.params;
        known.screen = screen || known.screen;
        if (s.result && !known.result) known.result = s.result;
        renderStep(known);
      }
    }
  } catch {
    /* descriptions are a nicety; the next event tries again */
  }
}

// ---------- the session's badge, from what really happens

function renderSessionBadge() {
  const badge = $("#session-status");
  const steps = [...state.steps.values()];
  const count = (test) => steps.filter((s) => test(s.status)).length;
  const failed = count((s) => s === "ERROR");
  const running = count((s) => ACTIVE_STEP.has(s));
  const waiting = count((s) => WAITING_STEP.has(s));
  const passed = count((s) => s === "COMPLETED");
  let label = state.status.replace("_", " ");
  let css = `st-${state.status}`;
  if (state.status === "READY" || state.status === "RUNNING") {
    [label, css] = running ? ["RUNNING", "st-RUNNING"] : waiting ? ["QUEUED", "st-QUEUED"] : ["READY", "st-READY"];
  } else if (state.status === "WAITING_INPUT") {
    label = "WAITING FOR INPUT";
  } else if (state.status === "COMPLETED" || state.status === "CANCELLED") {
    if (failed) [label, css] = [`${state.status} · ${failed} failed`, "st-ERROR"];
    else if (!steps.length) [label, css] = [`${state.status} · no steps`, "st-CANCELLED"];
  }
  badge.textContent = label;
  badge.className = `badge ${css}`;
  badge.dataset.status = state.status;
  const summary = [];
  if (steps.length) summary.push(`${steps.length} step${steps.length === 1 ? "" : "s"}`);
  if (passed) summary.push(`${passed} passed`);
  if (failed) summary.push(`${failed} failed`);
  if (running) summary.push(`${running} running`);
  if (waiting) summary.push(`${waiting} waiting`);
  $("#steps-summary").textContent = summary.join(" · ");
}

// ---------- events

function onEvent(event) {
  $("#conn").dataset.lastSeq = event.seq;
  switch (event.type) {
    case "STEP_STATUS":
      return onStepStatus(event);
    case "SESSION_STATUS":
      return setSessionStatus(event.status, event.error);
    case "SCREEN": {
      state.screen = event.screen;
      // The screen a step led to (or failed on) follows its COMPLETED / ERROR: it becomes that step's screen.
      const done = event.step_id && state.steps.get(event.step_id);
      if (done && TERMINAL_STEP.has(done.status)) {
        done.screen = event.screen;
        renderStep(done);
      } else if (event.step_id) state.stepScreens.set(event.step_id, event.screen);
      return showScreen(event.url, event.screen);
    }
    case "USER_INPUT_REQUIRED":
      // The event carries the choices: a step from chat, or one replayed after a reload, has no params yet.
      state.inputs.set(event.step_id, {
        inputId: event.input_id,
        prompt: event.prompt,
        choices: event.choices,
        secret: Boolean(event.secret),
      });
      return syncInputDialog();
    case "AGENT_MESSAGE":
      return agentMessage(event);
    default:
      return undefined;
  }
}

function onStepStatus(event) {
  let step = state.steps.get(event.step_id);
  if (!step) {
    step = { id: event.step_id, index: event.step_index, action: event.action, params: null };
    state.steps.set(step.id, step);
  }
  Object.assign(step, {
    status: event.status,
    attempt: event.attempt,
    duration_ms: event.duration_ms,
    error: event.error,
    delay_ms: event.delay_ms,
  });
  if (event.result !== undefined) step.result = event.result;
  if (event.status === "COMPLETED" && step.action !== "ask_user") {
    // COMPLETED names the screen the step ended on; its picture follows in a SCREEN event.
    step.screen = event.screen || state.stepScreens.get(step.id) || state.screen;
    state.stepScreens.delete(step.id);
  } else if (event.status === "ERROR") {
    step.screen = failureScreen(step, event);
  }
  if (!step.params) refreshParamsSoon();
  if (TERMINAL_STEP.has(event.status) && state.inputs.delete(step.id)) syncInputDialog();
  renderStep(step);
}

function setSessionStatus(status, error) {
  state.status = status;
  const ended = over();
  document.body.classList.toggle("session-over", ended);
  for (const node of document.querySelectorAll("#composer button, #draft-run, #stop, #chat-form button, #input-stop")) {
    node.disabled = ended;
  }
  renderSessionBadge();
  renderConn();
  if (ended) {
    endLiveLink();
    state.inputs.clear();
    syncInputDialog();
    for (const line of state.turns.values()) if (line.classList.contains("thinking")) line.remove();
    showPageError(
      status === "FAILED"
        ? `The session failed: ${error?.message || "the device could not be set up"}.`
        : `This session is over (${status.toLowerCase()}). Open a new one from Sessions.`,
    );
  } else if (error?.message) {
    showPageError(error.message);
  } else {
    showPageError("");
  }
  renderDrafts();
}

// The live view of an ended session shows nothing more: the link says so and leads nowhere.
function endLiveLink() {
  const link = $("#live-link");
  if (!link || !link.hasAttribute("href")) return;
  link.removeAttribute("href");
  link.setAttribute("aria-disabled", "true");
  link.classList.add("ended");
  link.textContent = "Live view (ended)";
  link.title = "The session is over: its device is no longer shown live";
}

function showScreen(url, hash) {
  const img = $("#screen");
  if (img.getAttribute("src") !== url) img.src = url;
  $("#screen-empty").hidden = true;
  loadTree(hash || hashOfUrl(url));
}

// ---------- the inspector and the screen's tree

const inspector = new Inspector({
  tree: $("#tree"),
  search: $("#tree-search"),
  details: $("#node-details"),
  count: $("#tree-count"),
  onAction: (action, node, selector) => inspectorAction(action, node, selector),
  onPick: (node) => placeBox($("#pick-box"), node?.bounds, deviceSize()),
  onHover: (node) => placeBox($("#hover-box"), node?.bounds, deviceSize()),
});

let treeLoading = Promise.resolve();
function loadTree(hash) {
  if (!hash || state.tree.hash === hash) return treeLoading;
  state.tree.hash = hash;
  treeLoading = treeOf(config.id, hash).then((nodes) => {
    if (state.tree.hash !== hash) return; // a newer screen arrived meanwhile
    state.tree.nodes = nodes;
    inspector.show(nodes);
    setTimeout(checkSettled);
    if (document.activeElement === $("#screen-stage")) keyboardStatus(true); // the focused field may have moved
    setUiElements(nodes.map((n) => ({ class: n.class, selectors: suggestedSelectors(n) })));
  });
  return treeLoading;
}

function inspectorAction(action, node, selector) {
  const step = { action };
  if (action === "type" || action === "clear_text") {
    step.into = selector;
    if (action === "type") step.text = "";
    if (action === "type" && node.password) step.secret = true;
  } else {
    Object.assign(step, selector);
  }
  loadIntoComposer(step, { from: describeNode(node) });
}

// ---------- the screen as a controller

const hoverInfo = $("#hover-info");
let inspectMode = false;
$("#inspect-toggle").addEventListener("click", (event) => {
  inspectMode = !inspectMode;
  event.currentTarget.setAttribute("aria-pressed", String(inspectMode));
  $("#screen-stage").classList.toggle("inspecting", inspectMode);
});

function hover(point) {
  const node = point && nodeAt(state.tree.nodes, point.x, point.y);
  placeBox($("#hover-box"), node?.bounds, deviceSize());
  inspector.markHover(node);
  if (!point) {
    hoverInfo.textContent = "";
    return;
  }
  if (!node) {
    hoverInfo.textContent = `(${point.x}, ${point.y})`;
    return;
  }
  const target = targetAt(state.tree.nodes, point.x, point.y);
  const flags = ["clickable", "focused", "scrollable", "password"].filter((f) => node[f]);
  const parts = [
    describeNode(node),
    node.id && `id ${node.id}`,
    node.desc && `desc “${node.desc}”`,
    `[${node.bounds.join(",")}]`,
    flags.join(" "),
    inspectMode ? "click picks it" : `click: tap ${target ? selectorText(target.selector) : `(${point.x}, ${point.y})`}`,
  ];
  hoverInfo.textContent = parts.filter(Boolean).join(" · ");
}

// Steps from the controller go out one after another, in the order of the gestures. `make` may be a
// function, called in turn, for a step that depends on what the steps before it did.
let controllerChain = Promise.resolve();
function sendFromController(make) {
  const mark = `run-click-${++runCounter}`;
  performance.mark(mark);
  state.scrollNewest = "list";
  controllerChain = controllerChain
    .then(async () => {
      const { step, secretText } = typeof make === "function" ? await make() : { step: make };
      return runStep(step, mark, { secretText });
    })
    .catch((err) => showPageError(err.message));
  return controllerChain;
}

// Resolves when no step is waiting or running and the tree of the screen on show is loaded (at most `ms`).
const settleWaiters = new Set();
function settled(ms) {
  return new Promise((resolve) => {
    const waiter = () => {
      if ([...state.steps.values()].some((s) => ACTIVE_STEP.has(s.status) || WAITING_STEP.has(s.status))) return;
      settleWaiters.delete(waiter);
      clearTimeout(timer);
      treeLoading.then(resolve);
    };
    const timer = setTimeout(() => {
      settleWaiters.delete(waiter);
      resolve();
    }, ms);
    settleWaiters.add(waiter);
    waiter();
  });
}
function checkSettled() {
  for (const waiter of [...settleWaiters]) waiter();
}

async function onGesture(gesture) {
  if (gesture.kind === "tap" || gesture.kind === "long_press") {
    await treeLoading; // the tree of the screen on show
    const { x, y } = gesture.point;
    const target = targetAt(state.tree.nodes, x, y);
    if (inspectMode) {
      const node = target?.node || nodeAt(state.tree.nodes, x, y);
      if (node) inspector.pick(node, { scroll: true });
      return;
    }
    if (target && (target.node.password || /EditText$/.test(target.node.class))) state.lastField = target.node;
    else if (target || gesture.kind === "tap") state.lastField = null;
    const where = target ? target.selector : { x, y };
    const step = { action: gesture.kind, ...where };
    if (gesture.kind === "long_press") step.duration_ms = gesture.duration_ms;
    return sendFromController(step);
  }
  if (gesture.kind === "swipe") {
    return sendFromController({ action: "swipe", from: gesture.from, to: gesture.to, duration_ms: gesture.duration_ms });
  }
  if (gesture.kind === "scroll") return sendFromController({ action: "swipe", direction: gesture.direction });
  if (gesture.kind === "key") {
    state.lastField = null; // Tab and Enter may move the focus
    return sendFromController({ action: "press_key", key: gesture.key });
  }
  if (gesture.kind === "type") {
    // Typed text goes to the field focused once the gestures before it ran: a password field makes it secret.
    const tapped = state.lastField;
    return sendFromController(async () => {
      if (!tapped) await settled(3000);
      const field = tapped || state.tree.nodes.find((n) => n.focused);
      const secret = Boolean(field?.password);
      const step = { action: "type", text: gesture.text, ...(secret ? { secret: true } : {}) };
      return { step, secretText: secret ? gesture.text : undefined };
    });
  }
  return undefined;
}

let kbdTyped = "";
function keyboardStatus(focused, typed = kbdTyped) {
  kbdTyped = typed;
  const node = $("#kbd-status");
  node.hidden = !focused;
  if (!focused) return;
  const field = state.lastField || state.tree.nodes.find((n) => n.focused);
  const into = field ? describeNode(field) : "the focused field";
  node.textContent = typed
    ? `Typing into ${into}: ${field?.password ? MASK : typed}`
    : `Keys go to the device (${into}); Enter, Backspace and Tab too. Escape leaves.`;
}

new ScreenController({
  stage: $("#screen-stage"),
  img: $("#screen"),
  gesture: $("#gesture"),
  ring: $("#press-ring"),
  size: deviceSize,
  enabled: () => !over(),
  onGesture,
  onHover: hover,
  onKeyboard: keyboardStatus,
});

// ---------- the input prompt

function syncInputDialog() {
  // Debounced: a replay brings a prompt and its answer back to back; only what is still open shows.
  clearTimeout(syncInputDialog.timer);
  syncInputDialog.timer = setTimeout(() => {
    const dialog = $("#input-dialog");
    const [stepId, input] = state.inputs.entries().next().value || [];
    $("#input-banner").hidden = !input;
    if (!input) {
      if (dialog.open) dialog.close();
      return;
    }
    $("#input-banner-prompt").textContent = input.prompt;
    if (dialog.open && dialog.dataset.stepId === String(stepId)) return;
    if (state.inputDismissed === stepId) return;
    openInputDialog(stepId, input);
  }, 60);
}

function openInputDialog(stepId, input) {
  const dialog = $("#input-dialog");
  const secret = input.secret || Boolean(state.steps.get(stepId)?.params?.secret);
  dialog.dataset.stepId = stepId;
  dialog.dataset.inputId = input.inputId;
  $("#input-prompt").textContent = input.prompt;
  $("#input-value").value = "";
  $("#input-value").type = secret ? "password" : "text";
  const choices = input.choices || state.steps.get(stepId)?.params?.choices || [];
  $("#input-choices").hidden = !choices.length;
  $("#input-choices").replaceChildren(
    ...choices.map((choice) => {
      const button = el("button", { type: "button", class: "small", text: choice });
      button.addEventListener("click", () => answerInput({ value: choice }));
      return button;
    }),
  );
  inputProblem("");
  confirmEmpty(false);
  if (!dialog.open) dialog.showModal();
  $("#input-value").focus();
}

function inputProblem(message) {
  $("#input-error").textContent = message;
  $("#input-error").hidden = !message;
}

function confirmEmpty(asking) {
  $("#input-confirm").hidden = !asking;
  $("#input-send").textContent = asking ? "Send empty answer" : "Send answer";
  $("#input-form").dataset.confirmEmpty = asking ? "1" : "";
}

async function answerInput(message) {
  const dialog = $("#input-dialog");
  const stepId = Number(dialog.dataset.stepId);
  const buttons = dialog.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    await socket.request({ type: "USER_INPUT_RESPONSE", input_id: Number(dialog.dataset.inputId), ...message });
    state.inputs.delete(stepId);
    dialog.close();
    syncInputDialog();
  } catch (err) {
    inputProblem(err.message);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

$("#input-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("#input-value").value;
  if (value === "" && !$("#input-form").dataset.confirmEmpty) {
    confirmEmpty(true);
    $("#input-send").focus();
    return;
  }
  answerInput({ value });
});
$("#input-value").addEventListener("input", () => confirmEmpty(false));
$("#input-cancel").addEventListener("click", () => answerInput({ cancel: true }));
$("#input-stop").addEventListener("click", () => stopSession());
const putOff = () => {
  state.inputDismissed = Number($("#input-dialog").dataset.stepId);
  $("#input-banner").hidden = !state.inputs.size;
};
$("#input-later").addEventListener("click", () => {
  putOff();
  $("#input-dialog").close();
});
$("#input-dialog").addEventListener("cancel", putOff); // Escape: the question waits in the banner
$("#input-reopen").addEventListener("click", () => {
  const [stepId, input] = state.inputs.entries().next().value || [];
  state.inputDismissed = null;
  if (input) openInputDialog(stepId, input);
});

// ---------- running steps

async function runStep(step, mark, { secretText } = {}) {
  const { secret, ...wire } = step;
  if (secret && SECRET_SUPPORTED) wire.secret = true;
  const sent = await socket.request({ type: "EXECUTE_SINGLE", step: wire });
  if (secret) markSecret(sent.step_id, secretText ?? step.text);
  if (mark) state.runStarts.set(sent.step_id, mark);
  const known = state.steps.get(sent.step_id);
  if (known) {
    known.params = known.params || paramsOf(wire);
    renderStep(known);
  } else {
    state.steps.set(sent.step_id, {
      id: sent.step_id,
      index: sent.step_index,
      action: step.action,
      params: paramsOf(wire),
      status: "QUEUED",
    });
  }
  return sent;
}

// The params the server keeps (core.steps): a step that waits for an element keeps the timeout it gives.
function paramsOf(step) {
  const { action, timeout_ms, max_retries, backoff, ...params } = step;
  if (timeout_ms !== undefined && waitsForElement(action, params)) params.timeout_ms = timeout_ms;
  return params;
}

function waitsForElement(action, params) {
  if (action === "type" || action === "clear_text") return Boolean(params.into);
  if (action === "tap" || action === "long_press") return params.x === undefined;
  return ["assert_visible", "assert_not_visible", "wait_for"].includes(action);
}

function composerError(err) {
  const node = $("#composer-error");
  for (const bad of document.querySelectorAll("#composer [aria-invalid]")) bad.removeAttribute("aria-invalid");
  if (!err) {
    node.hidden = true;
    return;
  }
  node.textContent = err.message;
  node.hidden = false;
  const field = err.field && $(`#composer [data-field="${CSS.escape(err.field)}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function currentStep() {
  const action = $("#action").value;
  return readStep($("#composer"), action, FIELDS[action] || [], SPECS.common);
}

let runCounter = 0;
$("#composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const mark = `run-click-${++runCounter}`;
  performance.mark(mark);
  let step;
  try {
    step = currentStep();
  } catch (err) {
    return composerError(err);
  }
  composerError(null);
  state.scrollNewest = "page";
  try {
    await runStep(step, mark);
  } catch (err) {
    composerError(err);
  }
});

// A step that already ran, back into the composer (its params read first when only events brought it).
async function loadPastStep(stepId) {
  const step = state.steps.get(stepId);
  if (!step) return;
  if (!step.params) await refreshParams();
  if (!step.params) return showPageError("Could not read that step's fields; try again.");
  const filled = { action: step.action, ...step.params };
  if (isSecret(step)) Object.assign(filled, { text: "", secret: true }); // a secret is typed again
  loadIntoComposer(filled, { from: `step #${step.index + 1}` });
}

// Fill the composer with a step `{action, …params}`: from the inspector, a drafted step, or a past step.
function loadIntoComposer(step, { from = "", editing = null } = {}) {
  if (!step) return;
  $("#action").value = step.action;
  renderComposer();
  fillStep($("#composer"), step, FIELDS[step.action] || [], SPECS.common);
  state.editing = editing;
  const mode = $("#composer-mode");
  mode.hidden = !from && editing === null;
  mode.textContent = editing !== null ? `Editing draft step ${editing + 1}` : from ? `From ${from}` : "";
  $("#draft-save").hidden = $("#draft-cancel-edit").hidden = editing === null;
  $("#add-draft").hidden = editing !== null;
  $("#composer").scrollIntoView({ block: "nearest" });
  const first = $("#fields input:not([type=checkbox]):not([hidden]), #fields select");
  (first || $("#action")).focus({ preventScroll: true });
}

// ---------- the draft (kept in this browser, per session, across Run all and reloads)

function saveDrafts() {
  saveJson(stored("draft"), state.drafts);
}

function renderDrafts() {
  const list = $("#draft");
  list.replaceChildren(
    ...state.drafts.map((step, i) => {
      const label = `${ACTION_LABELS[step.action] || step.action} ${describeStep(step.action, paramsOf(step))}`;
      const button = (text, name, handler, disabled) => {
        const b = el("button", { type: "button", class: "small", "aria-label": `${name} ${i + 1}`, text, disabled });
        b.addEventListener("click", handler);
        return b;
      };
      return el(
        "li",
        { class: `draft-item${state.editing === i ? " editing" : ""}` },
        el("span", { class: "desc", text: label }),
        button("Edit", "Edit draft step", () => loadIntoComposer(step, { editing: i })),
        button("↑", "Move up step", () => moveDraft(i, -1), i === 0),
        button("↓", "Move down step", () => moveDraft(i, 1), i === state.drafts.length - 1),
        button("✕", "Remove step", () => {
          state.drafts.splice(i, 1);
          if (state.editing !== null) endEdit();
          saveDrafts();
          renderDrafts();
        }),
      );
    }),
  );
  $("#draft-count").textContent = `${state.drafts.length} step${state.drafts.length === 1 ? "" : "s"}`;
  $("#draft-run").disabled = !state.drafts.length || over();
}

function moveDraft(i, by) {
  const [step] = state.drafts.splice(i, 1);
  state.drafts.splice(i + by, 0, step);
  if (state.editing !== null) endEdit();
  saveDrafts();
  renderDrafts();
}

function endEdit() {
  state.editing = null;
  $("#draft-save").hidden = $("#draft-cancel-edit").hidden = true;
  $("#add-draft").hidden = false;
  $("#composer-mode").hidden = true;
  renderDrafts();
}

$("#add-draft").addEventListener("click", () => {
  try {
    state.drafts.push(currentStep());
    composerError(null);
    saveDrafts();
    renderDrafts();
  } catch (err) {
    composerError(err);
  }
});
$("#draft-save").addEventListener("click", () => {
  try {
    state.drafts[state.editing] = currentStep();
    composerError(null);
    saveDrafts();
    endEdit();
  } catch (err) {
    composerError(err);
  }
});
$("#draft-cancel-edit").addEventListener("click", endEdit);
$("#draft-clear").addEventListener("click", () => {
  state.drafts = [];
  endEdit();
  saveDrafts();
  renderDrafts();
});
$("#draft-run").addEventListener("click", async () => {
  const button = $("#draft-run");
  button.disabled = true;
  const status = $("#draft-status");
  let sent = 0;
  state.scrollNewest = "list";
  try {
    // In order, each after the server acknowledged the one before: the step list keeps the draft's order.
    for (const step of state.drafts) {
      const mark = `run-click-${++runCounter}`;
      performance.mark(mark);
      await runStep(step, mark);
      sent += 1;
    }
    composerError(null);
    status.textContent = `Sent ${sent} step${sent === 1 ? "" : "s"}; the draft stays for another run.`;
  } catch (err) {
    status.textContent = `${err.message} (${state.drafts.length - sent} draft step(s) not sent)`;
  } finally {
    renderDrafts();
  }
});

// ---------- chat: the history (yours and the agent's), "thinking…" while a turn is planned

function chatLine(who, text, { turnId, thinking = false } = {}) {
  const log = $("#chat-log");
  const name = { you: "You", agent: "Agent" }[who];
  const line = el(
    "li",
    { class: `chat-${who}${thinking ? " thinking" : ""}`, "data-turn": turnId },
    name && el("span", { class: "who", text: name }),
    name && " ",
    thinking ? el("span", { class: "dots", text: "thinking…" }) : masked(text),
  );
  log.append(line);
  log.scrollTop = log.scrollHeight;
  return line;
}

function thinking(turnId) {
  if (state.turns.has(turnId)) return;
  state.turns.set(turnId, chatLine("agent", "", { turnId, thinking: true }));
}

function agentMessage(event) {
  const text = event.text ?? event.message ?? event.content ?? JSON.stringify(event);
  const line = event.turn_id !== undefined && state.turns.get(event.turn_id);
  if (line && !line.classList.contains("thinking")) return; // already in the history
  const answer = chatLine("agent", text, { turnId: event.turn_id });
  if (line) line.replaceWith(answer); // where "thinking…" was
  if (event.turn_id !== undefined) state.turns.set(event.turn_id, answer);
}

for (const line of config.chat) {
  if (line.who === "you") chatLine("you", line.text, { turnId: line.turn_id });
  else if (line.thinking) thinking(line.turn_id);
  else state.turns.set(line.turn_id, chatLine("agent", line.text, { turnId: line.turn_id }));
}

$("#chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#chat-text");
  const text = input.value.trim();
  if (!text) return;
  const mine = chatLine("you", text);
  input.value = "";
  // Sent right away when the socket is open, else as soon as it is (nothing typed is dropped).
  if (!socket.live) mine.append(el("span", { class: "muted small waiting", text: " (sent when connected)" }));
  try {
    const ack = await socket.request({ type: "CHAT", text });
    if (ack.waits_for_input) {
      const { prompt } = ack.waits_for_input;
      chatLine("system", `This waits for your answer to “${prompt}”: it runs once that question is answered or cancelled.`);
    }
    if (ack.turn_id !== undefined) {
      const line = state.turns.get(ack.turn_id);
      if (line?.classList.contains("thinking")) line.parentElement.append(line); // keep it after the new line
      else if (!line) thinking(ack.turn_id);
    }
  } catch (err) {
    chatLine("system", err.message);
  } finally {
    mine.querySelector(".waiting")?.remove();
  }
});

// ---------- stop, export

async function stopSession() {
  const button = $("#stop");
  button.disabled = true;
  try {
    if (socket.live) await socket.request({ type: "STOP" });
    else await apiFetch(`${api}/stop/`, { method: "POST", body: "{}" });
    if ($("#input-dialog").open) $("#input-dialog").close();
  } catch (err) {
    showPageError(`Could not stop the session: ${err.message}`);
    button.disabled = false;
  }
}
$("#stop").addEventListener("click", stopSession);

const exporter = new Exporter({
  api: apiFetch,
  session: { id: config.id, name: config.name, app: config.app },
  isSecret,
  download,
});
$("#export").addEventListener("click", async () => {
  try {
    await exporter.open();
  } catch (err) {
    showPageError(`Could not read the steps: ${err.message}`);
  }
});

// ---------- composer and connection

function renderComposer() {
  const action = $("#action").value;
  renderFields($("#fields"), FIELDS[action] || []);
  $("#action-summary").textContent = SPECS.summaries[action] || "";
  composerError(null);
}
for (const action of SPECS.actions) {
  $("#action").append(el("option", { value: action, text: ACTION_LABELS[action] || action }));
}
renderFields($("#common-fields"), SPECS.common);
$("#action").addEventListener("change", renderComposer);

// `type` into a field the screen says is a password field: the step is a secret.
function autoSecret() {
  const secret = $("#f-secret");
  const kind = $("#f-into-kind")?.value;
  const value = $("#f-into-value")?.value;
  if (!secret || !kind || !value) return;
  const field = state.tree.nodes.find((n) => n.selectors.some((s) => s.kind === kind && s.value === value));
  if (field?.password && !secret.checked) {
    secret.checked = true;
    $("#fields").toggles();
  }
}
$("#fields").addEventListener("input", autoSecret);
$("#fields").addEventListener("change", autoSecret);
renderComposer();
renderDrafts();
renderSessionBadge();

const CONN_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  denied: "No access — sign in again",
  ended: "Ended",
};
const conn = { name: "connecting", detail: 0, waiting: 0 };
function onState(name, detail) {
  if (name === "live" && deviceLog.ready) deviceLog.load(); // the lines sent while the socket was away
  Object.assign(conn, { name, detail });
  renderConn();
}

function onWaiting(count) {
  conn.waiting = count;
  renderConn();
}

// Live / Connecting… / Connection lost, with what waits to be sent until the socket is back; Ended once the
// session is over.
function renderConn() {
  const node = $("#conn");
  const name = over() && conn.name !== "denied" ? "ended" : conn.name;
  node.dataset.state = name;
  node.className = `conn conn-${name}`;
  let text =
    name === "reconnecting" ? `Connection lost — retrying in ${(conn.detail / 1000).toFixed(1)} s` : CONN_TEXT[name];
  if (conn.waiting) text += ` · ${conn.waiting} waiting to be sent`;
  node.textContent = text;
}

const deviceLog = new DeviceLog(api);
deviceLog.load();

function onReply(message) {
  if (message.type === "DEVICE_LOG") return deviceLog.add(message.lines);
  if (message.type === "ERROR") showPageError(message.message);
}

const socket = new SessionSocket(`/ws/sessions/${config.id}/`, { onEvent, onReply, onState, onWaiting });
if (over()) setSessionStatus(state.status);
if (state.screen) loadTree(state.screen);
socket.connect();
window.cognisim = { socket, state }; // for tests and the console
