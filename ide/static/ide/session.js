// The session page: screen, composer, draft, live step list, input prompts, chat, stop, export.
import { SessionSocket } from "./socket.js";
import {
  ACTION_LABELS,
  FieldError,
  actionFields,
  describeStep,
  el,
  errorText,
  flowJson,
  flowYaml,
  readStep,
  renderFields,
  setUiElements,
} from "./steps.js";

const config = JSON.parse(document.getElementById("session-config").textContent);
const $ = (selector) => document.querySelector(selector);
const TERMINAL_SESSION = new Set(["COMPLETED", "CANCELLED", "FAILED"]);
const TERMINAL_STEP = new Set(["COMPLETED", "ERROR", "CANCELLED"]);
const FIELDS = actionFields(config.keys);
const api = `/api/sessions/${config.id}`;

const state = {
  status: config.status,
  steps: new Map(), // step_id → {id, index, action, params, status, attempt, duration_ms, error, delay_ms}
  inputs: new Map(), // step_id → {input_id, prompt} of ask_user steps waiting for an answer
  drafts: [],
  runStarts: new Map(), // step_id → performance mark name of the click that sent it
  screen: null, // hash of the device's latest screen, from SCREEN events
  stepScreens: new Map(), // step_id → hash of the screen its SCREEN event named
};

// ---------- helpers

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

// ---------- the step list

function stepRow(step) {
  let row = document.getElementById(`step-${step.id}`);
  if (row) return row;
  row = el("li", { id: `step-${step.id}`, class: "step", "data-step-id": step.id, "data-index": step.index });
  row.append(
    el("span", { class: "idx", text: `#${step.index}` }),
    el("span", { class: "what" }, el("strong", { class: "action" }), el("span", { class: "desc" })),
    el("span", { class: "meta" }),
    el("span", { class: "badge" }),
    el("p", { class: "error", hidden: true }),
  );
  const list = $("#steps");
  const after = [...list.children].find((other) => Number(other.dataset.index) > step.index);
  list.insertBefore(row, after || null);
  $("#steps-empty").hidden = true;
  return row;
}

function renderStep(step) {
  const row = stepRow(step);
  row.dataset.status = step.status;
  row.querySelector(".action").textContent = ACTION_LABELS[step.action] || step.action;
  row.querySelector(".desc").textContent = describeStep(step.action, step.params);
  const badge = row.querySelector(".badge");
  badge.textContent = step.status;
  badge.className = `badge st-${step.status}`;
  const meta = [];
  if (step.attempt > 1) meta.push(`attempt ${step.attempt}`);
  if (step.status === "RETRYING" && step.delay_ms) meta.push(`retry in ${Math.round(step.delay_ms)} ms`);
  if (step.duration_ms !== undefined && step.duration_ms !== null) meta.push(`${step.duration_ms} ms`);
  const metaNode = row.querySelector(".meta");
  metaNode.replaceChildren(meta.join(" · "));
  if (step.action === "screenshot" && step.status === "COMPLETED") {
    metaNode.append(" ", el("a", { href: `${api}/steps/${step.id}/screenshot.png`, target: "_blank", text: "view" }));
  }
  if (step.screen && step.status === "COMPLETED") {
    const button = el("button", {
      type: "button",
      class: "small shot",
      "aria-label": `Screen after step #${step.index}`,
      "data-screen": step.screen,
      text: "screen",
    });
    button.addEventListener("click", () => showStepScreen(step));
    metaNode.append(" ", button);
  }
  const error = row.querySelector(".error");
  error.textContent = step.status === "ERROR" || step.status === "RETRYING" ? errorText(step.error) : "";
  error.hidden = !error.textContent;
  if (step.status === "COMPLETED") measureRun(step.id);
}

// Run → COMPLETED in this browser (docs/ide.md): a mark at the click, a measure when the badge shows.
function measureRun(stepId) {
  const start = state.runStarts.get(stepId);
  if (!start) return;
  state.runStarts.delete(stepId);
  performance.measure("run-to-completed", { start, detail: { stepId } });
  performance.clearMarks(start);
}

// The picture of the screen right after a step, in a dialog (Escape or Close shuts it).
function showStepScreen(step) {
  const dialog = $("#shot-dialog");
  const url = `${api}/screens/${step.screen}.png`;
  $("#shot-title").textContent = `After step #${step.index}: ${ACTION_LABELS[step.action] || step.action}`;
  $("#shot-img").src = url;
  $("#shot-open").href = url;
  dialog.showModal();
}
$("#shot-close").addEventListener("click", () => $("#shot-dialog").close());

// Descriptions and screens of steps seen only through events (a replay) come from the steps API.
let paramsRefresh = null;
function refreshParamsSoon() {
  if (paramsRefresh) return;
  paramsRefresh = setTimeout(async () => {
    try {
      const steps = await apiFetch(`${api}/steps/`);
      for (const s of steps) {
        const known = state.steps.get(s.id);
        const screen = s.status === "COMPLETED" ? s.effect?.screen : undefined;
        if (known && (!known.params || (screen && known.screen !== screen))) {
          known.params = known.params || s.params;
          known.screen = screen || known.screen;
          renderStep(known);
        }
      }
    } catch {
      /* descriptions are a nicety; the next event tries again */
    } finally {
      paramsRefresh = null;
    }
  }, 300);
}

// ---------- events

function onEvent(event) {
  $("#conn").dataset.lastSeq = event.seq;
  switch (event.type) {
    case "STEP_STATUS":
      return onStepStatus(event);
    case "SESSION_STATUS":
      return setSessionStatus(event.status, event.error);
    case "SCREEN":
      state.screen = event.screen;
      if (event.step_id) state.stepScreens.set(event.step_id, event.screen);
      loadUiSoon();
      return showScreen(event.url);
    case "USER_INPUT_REQUIRED":
      state.inputs.set(event.step_id, { inputId: event.input_id, prompt: event.prompt });
      return syncInputDialog();
    case "AGENT_MESSAGE":
      return chatLine("agent", event.text ?? event.message ?? event.content ?? JSON.stringify(event));
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
  if (event.status === "COMPLETED" && step.action !== "ask_user") {
    // The SCREEN event just before COMPLETED names the new screen; a step that left the screen as it was
    // ends on the one before.
    step.screen = state.stepScreens.get(step.id) || state.screen;
    state.stepScreens.delete(step.id);
  }
  if (!step.params) refreshParamsSoon();
  if (TERMINAL_STEP.has(event.status) && state.inputs.delete(step.id)) syncInputDialog();
  renderStep(step);
}

function setSessionStatus(status, error) {
  state.status = status;
  const badge = $("#session-status");
  badge.textContent = status;
  badge.className = `badge st-${status}`;
  const over = TERMINAL_SESSION.has(status);
  document.body.classList.toggle("session-over", over);
  for (const node of document.querySelectorAll("#composer button, #draft-run, #stop, #chat-form button")) {
    node.disabled = over;
  }
  if (over) {
    state.inputs.clear();
    syncInputDialog();
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
}

// Selector suggestions follow the device's current screen (GET …/ui/), refreshed after each SCREEN event.
let uiRefresh = null;
function loadUiSoon() {
  clearTimeout(uiRefresh);
  uiRefresh = setTimeout(async () => {
    try {
      setUiElements(await apiFetch(`${api}/ui/`));
    } catch {
      setUiElements([]); // no screen yet (404): nothing to suggest
    }
  }, 100);
}

function showScreen(url) {
  const img = $("#screen");
  if (img.getAttribute("src") !== url) img.src = url;
  $("#screen-empty").hidden = true;
}

// ---------- the input prompt

let dialogSync = null;
function syncInputDialog() {
  // Debounced: a replay brings a prompt and its answer back to back; only what is still open shows.
  clearTimeout(dialogSync);
  dialogSync = setTimeout(() => {
    const dialog = $("#input-dialog");
    const [stepId, input] = state.inputs.entries().next().value || [];
    if (!input) {
      if (dialog.open) dialog.close();
      return;
    }
    if (dialog.open && dialog.dataset.stepId === String(stepId)) return;
    dialog.dataset.stepId = stepId;
    dialog.dataset.inputId = input.inputId;
    $("#input-prompt").textContent = input.prompt;
    $("#input-value").value = "";
    $("#input-error").hidden = true;
    if (!dialog.open) dialog.showModal();
    $("#input-value").focus();
  }, 60);
}

$("#input-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const dialog = $("#input-dialog");
  const inputId = Number(dialog.dataset.inputId);
  const button = $("#input-send");
  button.disabled = true;
  try {
    await socket.request({ type: "USER_INPUT_RESPONSE", input_id: inputId, value: $("#input-value").value });
    state.inputs.delete(Number(dialog.dataset.stepId));
    dialog.close();
    syncInputDialog();
  } catch (err) {
    $("#input-error").textContent = err.message;
    $("#input-error").hidden = false;
  } finally {
    button.disabled = false;
  }
});
$("#input-dialog").addEventListener("cancel", (event) => event.preventDefault()); // the run waits for an answer

// ---------- running steps

async function runStep(step, mark) {
  const sent = await socket.request({ type: "EXECUTE_SINGLE", step });
  if (mark) state.runStarts.set(sent.step_id, mark);
  const known = state.steps.get(sent.step_id);
  if (known) {
    known.params = known.params || paramsOf(step);
    renderStep(known);
  } else {
    state.steps.set(sent.step_id, {
      id: sent.step_id,
      index: sent.step_index,
      action: step.action,
      params: paramsOf(step),
      status: "QUEUED",
    });
  }
  return sent;
}

function paramsOf(step) {
  const { action, timeout_ms, max_retries, backoff, ...params } = step;
  if (action === "wait_for" && timeout_ms !== undefined) params.timeout_ms = timeout_ms;
  return params;
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
  return readStep($("#composer"), action, FIELDS[action] || []);
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
  try {
    await runStep(step, mark);
  } catch (err) {
    composerError(err);
  }
});

// Clicking the screen taps there, scaled from the picture to the device's pixels.
$("#screen").addEventListener("click", async (event) => {
  if (!config.device?.width || TERMINAL_SESSION.has(state.status)) return;
  const box = event.currentTarget.getBoundingClientRect();
  const x = Math.round(((event.clientX - box.left) / box.width) * config.device.width);
  const y = Math.round(((event.clientY - box.top) / box.height) * config.device.height);
  const clamp = (v, high) => Math.max(0, Math.min(high - 1, v));
  const mark = `run-click-${++runCounter}`;
  performance.mark(mark);
  try {
    await runStep({ action: "tap", x: clamp(x, config.device.width), y: clamp(y, config.device.height) }, mark);
  } catch (err) {
    showPageError(err.message);
  }
});

// ---------- the draft

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
        { class: "draft-item" },
        el("span", { class: "desc", text: label }),
        button("↑", "Move up step", () => moveDraft(i, -1), i === 0),
        button("↓", "Move down step", () => moveDraft(i, 1), i === state.drafts.length - 1),
        button("✕", "Remove step", () => {
          state.drafts.splice(i, 1);
          renderDrafts();
        }),
      );
    }),
  );
  $("#draft-count").textContent = `${state.drafts.length} step${state.drafts.length === 1 ? "" : "s"}`;
  $("#draft-run").disabled = !state.drafts.length || TERMINAL_SESSION.has(state.status);
}

function moveDraft(i, by) {
  const [step] = state.drafts.splice(i, 1);
  state.drafts.splice(i + by, 0, step);
  renderDrafts();
}

$("#add-draft").addEventListener("click", () => {
  try {
    state.drafts.push(currentStep());
    composerError(null);
    renderDrafts();
  } catch (err) {
    composerError(err);
  }
});
$("#draft-clear").addEventListener("click", () => {
  state.drafts = [];
  renderDrafts();
});
$("#draft-run").addEventListener("click", async () => {
  const button = $("#draft-run");
  button.disabled = true;
  const queue = [...state.drafts];
  try {
    // In order, each after the server acknowledged the one before: the step list keeps the draft's order.
    while (queue.length) {
      const mark = `run-click-${++runCounter}`;
      performance.mark(mark);
      await runStep(queue[0], mark);
      queue.shift();
    }
    composerError(null);
  } catch (err) {
    composerError(new Error(`${err.message} (${queue.length} draft step(s) not sent)`));
  } finally {
    state.drafts = queue;
    renderDrafts();
  }
});

// ---------- chat, stop, export

function chatLine(who, text) {
  const log = $("#chat-log");
  const name = { you: "You", agent: "Agent" }[who];
  log.append(el("li", { class: `chat-${who}` }, name && el("span", { class: "who", text: name }), text));
  log.scrollTop = log.scrollHeight;
}

$("#chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#chat-text");
  const text = input.value.trim();
  if (!text) return;
  chatLine("you", text);
  input.value = "";
  try {
    await socket.request({ type: "CHAT", text });
  } catch (err) {
    chatLine("system", err.message);
  }
});

$("#stop").addEventListener("click", async () => {
  const button = $("#stop");
  button.disabled = true;
  try {
    if (socket.live) await socket.request({ type: "STOP" });
    else await apiFetch(`${api}/stop/`, { method: "POST", body: "{}" });
  } catch (err) {
    showPageError(`Could not stop the session: ${err.message}`);
    button.disabled = false;
  }
});

async function exportFlow(kind) {
  try {
    const steps = await apiFetch(`${api}/steps/`);
    const base = (config.name || "session").replace(/[^\w.-]+/g, "-");
    if (kind === "yaml") download(`${base}.flow.yaml`, flowYaml(config, steps), "application/yaml");
    else download(`${base}.flow.json`, flowJson(config, steps), "application/json");
  } catch (err) {
    showPageError(`Could not export the steps: ${err.message}`);
  }
}
$("#export-yaml").addEventListener("click", () => exportFlow("yaml"));
$("#export-json").addEventListener("click", () => exportFlow("json"));

// ---------- composer and connection

function renderComposer() {
  const action = $("#action").value;
  renderFields($("#fields"), FIELDS[action] || []);
  composerError(null);
}
for (const action of config.actions) {
  $("#action").append(el("option", { value: action, text: ACTION_LABELS[action] || action }));
}
$("#action").addEventListener("change", renderComposer);
renderComposer();
renderDrafts();

const CONN_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  denied: "No access — sign in again",
};
function onState(name, detail) {
  const node = $("#conn");
  node.dataset.state = name;
  node.className = `conn conn-${name}`;
  node.textContent =
    name === "reconnecting" ? `Connection lost — retrying in ${(detail / 1000).toFixed(1)} s` : CONN_TEXT[name];
}

function onReply(message) {
  if (message.type === "ERROR") showPageError(message.message);
}

const socket = new SessionSocket(`/ws/sessions/${config.id}/`, { onEvent, onReply, onState });
if (TERMINAL_SESSION.has(state.status)) setSessionStatus(state.status);
socket.connect();
window.cognisim = { socket, state }; // for tests and the console
