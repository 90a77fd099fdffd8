// The step vocabulary (SPEC §3, docs/api.md "Steps") as composer fields, and how steps read.

const SELECTOR_KINDS = [
  ["text", "Text"],
  ["id", "Resource id"],
  ["desc", "Content description"],
];

// Field specs per action. `selector` is a group (kind + value + index, or x/y where points are allowed);
// `into` is an optional selector. Other fields are plain inputs named after the step's param.
export function actionFields(keys, features = {}) {
  const sel = { type: "selector", name: "selector" };
  const pkg = { name: "package", label: "Package", type: "text", required: true, value: "com.cognisim.demo" };
  return {
    launch_app: [pkg, { name: "clear_state", label: "Clear the app's data first", type: "checkbox" }],
    stop_app: [pkg],
    tap: [{ ...sel, points: true }],
    long_press: [{ ...sel, points: true }, { name: "duration_ms", label: "Hold for (ms)", type: "number", min: 1, max: 10000 }],
    type: [
      { name: "text", label: "Text to type", type: "text", required: true },
      { type: "selector", name: "into", label: "Into", optional: true },
      { name: "secret", label: "Secret (a password: masked everywhere)", type: "checkbox" },
    ],
    clear_text: [{ type: "selector", name: "into", label: "Field", optional: true }],
    swipe: [
      { name: "direction", label: "Direction", type: "select", options: ["up", "down", "left", "right", "from → to"] },
      { name: "from_x", label: "From x", type: "number", min: 0, showIf: ["direction", "from → to"] },
      { name: "from_y", label: "From y", type: "number", min: 0, showIf: ["direction", "from → to"] },
      { name: "to_x", label: "To x", type: "number", min: 0, showIf: ["direction", "from → to"] },
      { name: "to_y", label: "To y", type: "number", min: 0, showIf: ["direction", "from → to"] },
      { name: "duration_ms", label: "Duration (ms)", type: "number", min: 1, max: 10000 },
    ],
    scroll_until_visible: [
      sel,
      { name: "direction", label: "Scroll", type: "select", options: ["down", "up"] },
      { name: "max_swipes", label: "At most (swipes)", type: "number", min: 1, max: 50 },
    ],
    press_key: [{ name: "key", label: "Key", type: "select", options: keys }],
    assert_visible: [sel],
    assert_not_visible: [sel],
    wait_for: [sel, { name: "wait_ms", label: "Wait up to (ms)", type: "number", min: 1, placeholder: "10000" }],
    screenshot: [],
    ask_user: [
      { name: "prompt", label: "Question for the tester", type: "text", required: true },
      ...(features.askSecret ? [{ name: "secret", label: "The answer is secret (masked)", type: "checkbox" }] : []),
    ],
    sleep: [{ name: "ms", label: "Pause (ms, at most 60000)", type: "number", min: 0, max: 60000, required: true }],
  };
}

export const ACTION_LABELS = {
  launch_app: "Launch app",
  stop_app: "Stop app",
  tap: "Tap",
  long_press: "Long press",
  type: "Type text",
  clear_text: "Clear text",
  swipe: "Swipe",
  scroll_until_visible: "Scroll until visible",
  press_key: "Press key",
  assert_visible: "Assert visible",
  assert_not_visible: "Assert not visible",
  wait_for: "Wait for",
  screenshot: "Screenshot",
  ask_user: "Ask the tester",
  sleep: "Sleep",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
export { el };

function plainField(spec) {
  const id = `f-${spec.name}`;
  const wrap = el("div", { class: "field", "data-name": spec.name });
  let input;
  if (spec.type === "select") {
    input = el("select", { id, "data-field": spec.name });
    for (const option of spec.options) input.append(el("option", { value: option, text: option }));
  } else if (spec.type === "checkbox") {
    input = el("input", { id, type: "checkbox", "data-field": spec.name });
    wrap.classList.add("check");
    wrap.append(input, el("label", { for: id, text: spec.label }));
    return wrap;
  } else {
    input = el("input", {
      id,
      type: spec.type,
      "data-field": spec.name,
      required: spec.required,
      min: spec.min,
      max: spec.max,
      placeholder: spec.placeholder,
      value: spec.value,
      autocomplete: "off",
    });
  }
  wrap.append(el("label", { for: id, text: spec.label + (spec.required ? "" : " (optional)") }), input);
  if (spec.showIf) wrap.dataset.showIf = spec.showIf.join("=");
  return wrap;
}

// Selectors offered from the device's current screen (GET …/ui/): [{kind, value, cls}], unique by kind + value.
let suggestions = [];
const KIND_LABEL = Object.fromEntries(SELECTOR_KINDS);
const MAX_CHIPS = 8;

export function setUiElements(elements) {
  const seen = new Set();
  const next = [];
  for (const element of elements || []) {
    for (const selector of element.selectors || []) {
      const [kind, value] = Object.entries(selector)[0] || [];
      if (!KIND_LABEL[kind] || typeof value !== "string" || !value.trim() || seen.has(`${kind}=${value}`)) continue;
      seen.add(`${kind}=${value}`);
      next.push({ kind, value, cls: element.class || "" });
    }
  }
  // The same screen again: leave the chips alone, so a chip that has the keyboard focus keeps it.
  if (JSON.stringify(next) === JSON.stringify(suggestions)) return;
  suggestions = next;
  for (const group of document.querySelectorAll("fieldset.selector")) group.refreshSuggestions?.();
}

function selectorField(spec) {
  const p = `f-${spec.name}`;
  const group = el("fieldset", { class: "selector", "data-name": spec.name });
  group.append(el("legend", { text: spec.label || "Element" }));
  const kind = el("select", { id: `${p}-kind`, "aria-label": `${spec.label || "Element"}: find by` });
  if (spec.optional) kind.append(el("option", { value: "", text: "the focused field" }));
  for (const [value, label] of SELECTOR_KINDS) kind.append(el("option", { value, text: label }));
  if (spec.points) kind.append(el("option", { value: "point", text: "Point (x, y)" }));
  const value = el("input", {
    id: `${p}-value`,
    type: "text",
    autocomplete: "off",
    "data-field": "text",
    list: `${p}-value-list`,
  });
  const datalist = el("datalist", { id: `${p}-value-list` });
  const chips = el("div", { class: "suggestions", id: `${p}-suggestions`, role: "group", "aria-label": "From the screen" });
  const index = el("input", { id: `${p}-index`, type: "number", min: 0, max: 999, placeholder: "0" });
  const x = el("input", { id: `${p}-x`, type: "number", min: 0, "data-field": "x" });
  const y = el("input", { id: `${p}-y`, type: "number", min: 0, "data-field": "y" });
  const byWrap = el("div", { class: "field" }, el("label", { for: `${p}-kind`, text: "Find by" }), kind);
  const valueWrap = el("div", { class: "field grow" }, el("label", { for: `${p}-value`, text: "Value" }), value);
  const indexWrap = el("div", { class: "field narrow" }, el("label", { for: `${p}-index`, text: "Match #" }), index);
  const xWrap = el("div", { class: "field narrow" }, el("label", { for: `${p}-x`, text: "x" }), x);
  const yWrap = el("div", { class: "field narrow" }, el("label", { for: `${p}-y`, text: "y" }), y);
  valueWrap.append(datalist);
  group.append(el("div", { class: "row" }, byWrap, valueWrap, indexWrap, xWrap, yWrap), chips);
  const prefix = spec.name === "into" ? "into." : "";
  // The datalist completes values of the chosen kind as one types; the chips (buttons, so Tab + Enter
  // work) match any kind and set both the kind and the value.
  group.refreshSuggestions = () => {
    const k = kind.value;
    const byValue = !KIND_LABEL[k] ? [] : suggestions.filter((s) => s.kind === k);
    datalist.replaceChildren(...byValue.map((s) => el("option", { value: s.value, label: s.cls })));
    const typed = value.value.trim().toLowerCase();
    const matching = suggestions.filter(
      (s) => s.value.toLowerCase().includes(typed) && !(s.kind === k && s.value === value.value),
    );
    chips.hidden = !KIND_LABEL[k] || !matching.length;
    chips.replaceChildren(
      el("span", { class: "muted small", text: "From the screen:" }),
      ...matching.slice(0, MAX_CHIPS).map((s) => {
        const chip = el("button", {
          type: "button",
          class: "small chip",
          title: s.cls,
          "data-kind": s.kind,
          "data-value": s.value,
          text: `${KIND_LABEL[s.kind]}: ${s.value}`,
        });
        chip.addEventListener("click", () => {
          kind.value = s.kind;
          value.value = s.value;
          sync();
          value.focus();
        });
        return chip;
      }),
    );
  };
  const sync = () => {
    const k = kind.value;
    const point = k === "point";
    valueWrap.hidden = indexWrap.hidden = point || k === "";
    xWrap.hidden = yWrap.hidden = !point;
    value.dataset.field = prefix + (k || "text");
    index.dataset.field = prefix + "index";
    group.refreshSuggestions();
  };
  kind.addEventListener("change", sync);
  value.addEventListener("input", group.refreshSuggestions);
  // Fill from a step's selector ({text|id|desc, index} or {x, y}); null = "the focused field" or empty.
  group.setSelector = (selector) => {
    const named = selector && SELECTOR_KINDS.map(([k]) => k).find((k) => selector[k] !== undefined);
    if (named) {
      kind.value = named;
      value.value = selector[named];
      index.value = selector.index ?? "";
    } else if (selector && selector.x !== undefined && spec.points) {
      kind.value = "point";
      x.value = selector.x;
      y.value = selector.y;
    } else {
      kind.value = spec.optional ? "" : "text";
      value.value = index.value = "";
    }
    sync();
  };
  sync();
  return group;
}

// Build the composer's fields for one action into `container`.
export function renderFields(container, specs) {
  container.replaceChildren(...specs.map((s) => (s.type === "selector" ? selectorField(s) : plainField(s))));
  container.toggles = () => {
    for (const node of container.querySelectorAll("[data-show-if]")) {
      const [name, want] = node.dataset.showIf.split("=");
      node.hidden = container.querySelector(`#f-${name}`)?.value !== want;
    }
    // A secret's text is typed like a password.
    const secret = container.querySelector("#f-secret");
    const text = container.querySelector("#f-text");
    if (secret && text) text.type = secret.checked ? "password" : "text";
  };
  if (!container.dataset.wired) {
    container.dataset.wired = "1";
    container.addEventListener("change", () => container.toggles());
  }
  container.toggles();
}

// Put a step (`{action, …params}`, as the API returns or the composer reads it) into fields built for its action.
export function fillStep(root, step, specs) {
  for (const spec of specs) {
    if (spec.type === "selector") {
      const group = root.querySelector(`fieldset.selector[data-name="${spec.name}"]`);
      group?.setSelector(spec.name === "into" ? step.into : step);
      continue;
    }
    const input = root.querySelector(`#f-${spec.name}`);
    if (!input) continue;
    if (spec.type === "checkbox") input.checked = Boolean(step[spec.name]);
    else if (spec.name === "wait_ms") input.value = step.timeout_ms ?? "";
    else if (step.action === "swipe" && spec.name === "direction") input.value = step.direction || "from → to";
    else if (/^(from|to)_[xy]$/.test(spec.name)) input.value = step[spec.name.slice(0, -2)]?.[spec.name.at(-1)] ?? "";
    else input.value = step[spec.name] ?? (spec.value || "");
  }
  const common = (id, value) => {
    const input = root.querySelector(id);
    if (input) input.value = value ?? "";
  };
  common("#f-timeout_ms", step.action === "wait_for" ? "" : step.timeout_ms);
  common("#f-max_retries", step.max_retries);
  common("#f-backoff", typeof step.backoff === "string" ? step.backoff : "");
  root.querySelector("#fields")?.toggles?.();
}

export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function intOf(input, field) {
  const raw = input.value.trim();
  if (raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new FieldError(field, `${field} must be a whole number.`);
  return n;
}

function readSelector(root, spec) {
  const p = `#f-${spec.name}`;
  const kind = root.querySelector(`${p}-kind`).value;
  const prefix = spec.name === "into" ? "into." : "";
  if (kind === "") return null;
  if (kind === "point") {
    const x = intOf(root.querySelector(`${p}-x`), "x");
    const y = intOf(root.querySelector(`${p}-y`), "y");
    if (x === undefined || y === undefined) throw new FieldError("x", "Give both x and y.");
    return { x, y };
  }
  const value = root.querySelector(`${p}-value`).value;
  if (!value.trim()) throw new FieldError(prefix + kind, "Say which element: fill in the value.");
  const out = { [kind]: value };
  const index = intOf(root.querySelector(`${p}-index`), prefix + "index");
  if (index !== undefined) out.index = index;
  return out;
}

// Read the composer into a step `{action, ...params}`; throws FieldError for what is clearly missing.
export function readStep(root, action, specs) {
  const step = { action };
  for (const spec of specs) {
    if (spec.type === "selector") {
      const sel = readSelector(root, spec);
      if (sel && spec.name === "into") step.into = sel;
      else if (sel) Object.assign(step, sel);
      continue;
    }
    const input = root.querySelector(`#f-${spec.name}`);
    if (!input || input.closest("[hidden]")) continue;
    if (spec.type === "checkbox") {
      if (input.checked) step[spec.name] = true;
    } else if (spec.type === "number") {
      const n = intOf(input, spec.name);
      if (n !== undefined) step[spec.name] = n;
      else if (spec.required) throw new FieldError(spec.name, `${spec.label} is required.`);
    } else if (input.value === "" && spec.required) {
      throw new FieldError(spec.name, `${spec.label} is required.`);
    } else if (input.value !== "") {
      step[spec.name] = input.value;
    }
  }
  if (action === "swipe" && step.direction === "from → to") {
    delete step.direction;
    for (const k of ["from_x", "from_y", "to_x", "to_y"]) {
      if (step[k] === undefined) throw new FieldError(k, "Give all four coordinates of the swipe.");
    }
    step.from = { x: step.from_x, y: step.from_y };
    step.to = { x: step.to_x, y: step.to_y };
    for (const k of ["from_x", "from_y", "to_x", "to_y"]) delete step[k];
  }
  if (action === "wait_for" && step.wait_ms !== undefined) {
    step.timeout_ms = step.wait_ms;
    delete step.wait_ms;
  }
  const timeout = intOf(root.querySelector("#f-timeout_ms"), "timeout_ms");
  if (timeout !== undefined && step.timeout_ms === undefined) step.timeout_ms = timeout;
  const retries = intOf(root.querySelector("#f-max_retries"), "max_retries");
  if (retries !== undefined) step.max_retries = retries;
  const backoff = root.querySelector("#f-backoff").value;
  if (backoff) step.backoff = backoff;
  return step;
}

export const MASK = "••••••";

function quote(s) {
  const text = String(s);
  return `“${text.length > 40 ? text.slice(0, 39) + "…" : text}”`;
}

export function describeSelector(p) {
  if (!p) return "";
  let out = "";
  if (p.text !== undefined) out = `text ${quote(p.text)}`;
  else if (p.id !== undefined) out = `id ${p.id}`;
  else if (p.desc !== undefined) out = `desc ${quote(p.desc)}`;
  else if (p.x !== undefined) out = `(${p.x}, ${p.y})`;
  if (p.index) out += ` #${p.index}`;
  return out;
}

// One line saying what a step does, from its action and params.
export function describeStep(action, params) {
  if (!params) return "";
  switch (action) {
    case "launch_app":
      return params.package + (params.clear_state ? " (fresh)" : "");
    case "stop_app":
      return params.package;
    case "type":
      return (params.secret ? MASK : quote(params.text)) + (params.into ? ` into ${describeSelector(params.into)}` : "");
    case "clear_text":
      return params.into ? describeSelector(params.into) : "focused field";
    case "swipe":
      return params.direction || `(${params.from.x}, ${params.from.y}) → (${params.to.x}, ${params.to.y})`;
    case "scroll_until_visible":
      return `${describeSelector(params)} (${params.direction || "down"})`;
    case "press_key":
      return params.key;
    case "wait_for":
      return `${describeSelector(params)}${params.timeout_ms ? ` ≤ ${params.timeout_ms} ms` : ""}`;
    case "ask_user":
      return quote(params.prompt);
    case "sleep":
      return `${params.ms} ms`;
    case "screenshot":
      return "";
    default:
      return describeSelector(params);
  }
}

const ERROR_WORDS = {
  element_not_found: "Element not found",
  assertion_failed: "Check failed",
  app_not_installed: "App not installed on the device",
  unsupported_input: "The device cannot do that",
  device_unreachable: "The device is not answering",
  device_timeout: "The device took too long",
  device_offline: "The device went offline",
  internal_error: "Something broke on our side",
  invalid_step: "This step is not valid",
  session_closed: "This session is over",
  worker_lost: "The device's worker was lost",
};

// An error in words a tester understands: a short heading, then the server's own explanation.
export function errorText(error) {
  if (!error) return "";
  const heading = ERROR_WORDS[error.code] || "Failed";
  return error.message ? `${heading}: ${error.message}` : heading;
}

// The flow file (docs/ci.md): `name`, `app`, optional `env`, and the steps in the short form `- ACTION: {fields}`,
// every scalar written as JSON (which YAML reads), so any text survives.
export function flowYaml({ name, app, env, steps, comment }) {
  const lines = [];
  if (comment) lines.push(...comment.split("\n").map((line) => `# ${line}`));
  lines.push(`name: ${JSON.stringify(name || "Untitled session")}`);
  if (app) lines.push(`app: ${JSON.stringify(app)}`);
  if (env && Object.keys(env).length) {
    lines.push("env:");
    for (const [k, v] of Object.entries(env)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  if (!steps.length) {
    lines.push("steps: []");
    return lines.join("\n") + "\n";
  }
  lines.push("steps:");
  for (const { action, ...params } of steps) {
    lines.push(Object.keys(params).length ? `  - ${action}: ${JSON.stringify(params)}` : `  - ${action}`);
  }
  return lines.join("\n") + "\n";
}

export function flowJson({ name, app, env, steps }) {
  const flow = { name: name || "Untitled session", ...(app ? { app } : {}), ...(env ? { env } : {}), steps };
  return JSON.stringify(flow, null, 2) + "\n";
}
