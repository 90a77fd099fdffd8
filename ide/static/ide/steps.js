// The step vocabulary (SPEC §3, docs/api.md "Steps") as composer fields, and how steps read.

const SELECTOR_KINDS = [
  ["text", "Text"],
  ["id", "Resource id"],
  ["desc", "Content description"],
];

// The composer's fields come from the server's step catalog (GET /steps/catalog.json, from core.steps):
// `{actions: [{action, summary, target, fields: [{name, type, required, choices?, minimum?, maximum?,
// maxLength?, default?}]}], common: [...]}`. Here they become field specs: `selector` groups (kind + value +
// index, or x/y where a point is allowed; `into` is an optional one), and plain inputs named after the param.
const FIELD_LABELS = {
  package: "Package",
  clear_state: "Clear the app's data first",
  duration_ms: "Hold for (ms)",
  text: "Text to type",
  secret: "Secret (a password: masked everywhere)",
  direction: "Direction",
  max_swipes: "At most (swipes)",
  key: "Key",
  prompt: "Question for the tester",
  choices: "Answers to choose from (comma-separated)",
  ms: "Pause (ms)",
  timeout_ms: "Timeout (ms)",
  max_retries: "Max retries",
  backoff: "Backoff",
  optional: "Optional: a failure here does not fail a run",
};
const LABEL_BY_ACTION = {
  swipe: { duration_ms: "Duration (ms)" },
  ask_user: { secret: "Secret answer (a password: masked everywhere)" },
  into: "Into",
};
export const FROM_TO = "from → to";

function specOf(field, action, defaults) {
  const label = LABEL_BY_ACTION[action]?.[field.name] || FIELD_LABELS[field.name] || field.name.replaceAll("_", " ");
  const spec = { name: field.name, label, required: field.required };
  if (field.type === "selector") return { type: "selector", name: field.name, label: "Into", optional: !field.required };
  if (field.type === "boolean") return { ...spec, type: "checkbox" };
  if (field.type === "point") return { ...spec, type: "point" };
  if (field.type === "array") return { ...spec, type: "list" };
  if (field.type === "choice") {
    const options = field.required || field.default ? [...field.choices] : ["", ...field.choices];
    return { ...spec, type: "select", options, value: field.default ?? options[0] };
  }
  if (field.type === "integer") {
    return {
      ...spec,
      type: "number",
      min: field.minimum,
      max: field.maximum,
      placeholder: field.default ?? undefined,
      label: field.maximum !== undefined && field.name === "ms" ? `${label}, at most ${field.maximum}` : label,
    };
  }
  return { ...spec, type: "text", maxLength: field.maxLength, value: defaults[field.name] };
}

// {action: [field specs]} and the common specs, from the catalog; `defaults` prefills (the session's app).
export function composerSpecs(catalog, defaults = {}) {
  const fields = {};
  for (const entry of catalog.actions) {
    const specs = [];
    if (entry.target !== "none") {
      specs.push({ type: "selector", name: "selector", points: entry.target === "selector_or_point" });
    }
    for (const field of entry.fields) specs.push(specOf(field, entry.action, defaults));
    // A direction or two points (swipe): the points show when the direction is "from → to".
    const direction = specs.find((f) => f.name === "direction" && f.type === "select");
    const points = specs.filter((f) => f.type === "point");
    if (direction && points.length) {
      direction.options = [...direction.options.filter(Boolean), FROM_TO];
      direction.value = direction.options[0];
      for (const point of points) point.showIf = ["direction", FROM_TO];
    }
    fields[entry.action] = specs;
  }
  const common = catalog.common.map((field) => specOf(field, "", defaults));
  const summaries = Object.fromEntries(catalog.actions.map((e) => [e.action, e.summary]));
  const takes = (action, name) => Boolean(catalog.actions.find((e) => e.action === action)?.fields.some((f) => f.name === name));
  return { fields, common, summaries, actions: catalog.actions.map((e) => e.action), takes };
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
  if (spec.showIf) wrap.dataset.showIf = spec.showIf.join("=");
  const label = spec.label + (spec.required ? "" : " (optional)");
  let input;
  if (spec.type === "select") {
    input = el("select", { id, "data-field": spec.name });
    for (const option of spec.options) input.append(el("option", { value: option, text: option || "—" }));
    input.value = spec.value ?? spec.options[0];
  } else if (spec.type === "checkbox") {
    input = el("input", { id, type: "checkbox", "data-field": spec.name });
    wrap.classList.add("check");
    wrap.append(input, el("label", { for: id, text: spec.label }));
    return wrap;
  } else if (spec.type === "point") {
    wrap.classList.add("point");
    const coord = (axis) =>
      el(
        "div",
        { class: "field narrow" },
        el("label", { for: `${id}_${axis}`, text: `${spec.label} ${axis}` }),
        el("input", { id: `${id}_${axis}`, type: "number", min: 0, max: 10000, "data-field": `${spec.name}.${axis}` }),
      );
    wrap.append(coord("x"), coord("y"));
    return wrap;
  } else {
    input = el("input", {
      id,
      type: spec.type === "number" ? "number" : "text",
      "data-field": spec.name,
      required: spec.required,
      min: spec.min,
      max: spec.max,
      maxlength: spec.maxLength,
      placeholder: spec.placeholder,
      value: spec.value,
      autocomplete: "off",
    });
  }
  wrap.append(el("label", { for: id, text: label }), input);
  return wrap;
}

// Selectors offered from the device's current screen: [{kind, value, index?, cls}], each finding its element (with
// its index when the value finds several), unique by kind + value + index.
let suggestions = [];
const KIND_LABEL = Object.fromEntries(SELECTOR_KINDS);
const MAX_CHIPS = 8;

export function setUiElements(elements) {
  const seen = new Set();
  const next = [];
  for (const element of elements || []) {
    for (const selector of element.selectors || []) {
      const [kind, value] = Object.entries(selector)[0] || [];
      const key = `${kind}=${value}#${selector.index ?? ""}`;
      if (!KIND_LABEL[kind] || typeof value !== "string" || !value.trim() || seen.has(key)) continue;
      seen.add(key);
      next.push({ kind, value, index: selector.index, cls: element.class || "" });
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
          text: `${KIND_LABEL[s.kind]}: ${s.value}${s.index === undefined ? "" : ` (match #${s.index})`}`,
        });
        chip.addEventListener("click", () => {
          kind.value = s.kind;
          value.value = s.value;
          index.value = s.index ?? "";
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

function fillPlain(root, spec, value) {
  const input = root.querySelector(`#f-${spec.name}`);
  if (spec.type === "point") {
    for (const axis of ["x", "y"]) {
      const box = root.querySelector(`#f-${spec.name}_${axis}`);
      if (box) box.value = value?.[axis] ?? "";
    }
  } else if (!input) {
    return;
  } else if (spec.type === "checkbox") {
    input.checked = Boolean(value);
  } else if (spec.type === "list") {
    input.value = Array.isArray(value) ? value.join(", ") : "";
  } else if (spec.type === "select") {
    input.value = value ?? spec.value ?? spec.options[0];
  } else {
    input.value = value ?? spec.value ?? "";
  }
}

// Put a step (`{action, …params}`, as the API returns or the composer reads it) into fields built for its action;
// `common` are the specs of the fields every step takes.
export function fillStep(root, step, specs, common = []) {
  for (const spec of specs) {
    if (spec.type === "selector") {
      root.querySelector(`fieldset.selector[data-name="${spec.name}"]`)?.setSelector(spec.name === "into" ? step.into : step);
    } else if (spec.name === "direction" && spec.options.includes(FROM_TO)) {
      fillPlain(root, spec, step.direction || (step.from ? FROM_TO : undefined));
    } else {
      fillPlain(root, spec, step[spec.name]);
    }
  }
  for (const spec of common) {
    const value = spec.name === "backoff" && typeof step.backoff === "object" ? step.backoff?.strategy : step[spec.name];
    fillPlain(root, spec, value);
  }
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

function readPlain(root, spec, step) {
  if (spec.type === "point") {
    const [x, y] = ["x", "y"].map((axis) => root.querySelector(`#f-${spec.name}_${axis}`));
    if (!x || x.closest("[hidden]")) return;
    const point = { x: intOf(x, `${spec.name}.x`), y: intOf(y, `${spec.name}.y`) };
    if (point.x === undefined && point.y === undefined && !spec.required && !spec.showIf) return;
    if (point.x === undefined || point.y === undefined) {
      throw new FieldError(`${spec.name}.${point.x === undefined ? "x" : "y"}`, `Give both x and y of “${spec.label}”.`);
    }
    step[spec.name] = point;
    return;
  }
  const input = root.querySelector(`#f-${spec.name}`);
  if (!input || input.closest("[hidden]")) return;
  if (spec.type === "checkbox") {
    if (input.checked) step[spec.name] = true;
  } else if (spec.type === "number") {
    const n = intOf(input, spec.name);
    if (n !== undefined) step[spec.name] = n;
    else if (spec.required) throw new FieldError(spec.name, `${spec.label} is required.`);
  } else if (spec.type === "list") {
    const items = input.value.split(",").map((v) => v.trim()).filter(Boolean);
    if (items.length) step[spec.name] = items;
  } else if (input.value === "" && spec.required) {
    throw new FieldError(spec.name, `${spec.label} is required.`);
  } else if (input.value !== "" && input.value !== FROM_TO) {
    step[spec.name] = input.value;
  }
}

// Read the composer into a step `{action, ...params}`; throws FieldError for what is clearly missing.
export function readStep(root, action, specs, common = []) {
  const step = { action };
  for (const spec of specs) {
    if (spec.type === "selector") {
      const sel = readSelector(root, spec);
      if (sel && spec.name === "into") step.into = sel;
      else if (sel) Object.assign(step, sel);
    } else {
      readPlain(root, spec, step);
    }
  }
  for (const spec of common) readPlain(root, spec, step);
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
  for (const state of ["enabled", "checked", "selected", "focused"]) {
    if (p[state] !== undefined) out += p[state] ? `, ${state}` : `, not ${state}`;
  }
  const places = [["below", "below"], ["above", "above"], ["left_of", "left of"], ["right_of", "right of"], ["child_of", "inside"]];
  for (const [key, word] of places) {
    if (p[key]) out += ` ${word} ${describeSelector(p[key])}`;
  }
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
export function flowYaml({ name, app, env, secrets, steps, comment }) {
  const lines = [];
  if (comment) lines.push(...comment.split("\n").map((line) => `# ${line}`));
  lines.push(`name: ${JSON.stringify(name || "Untitled session")}`);
  if (app) lines.push(`app: ${JSON.stringify(app)}`);
  if (secrets?.length) lines.push(`secrets: ${JSON.stringify(secrets)}`);
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

export function flowJson({ name, app, env, secrets, steps }) {
  const flow = {
    name: name || "Untitled session",
    ...(app ? { app } : {}),
    ...(env ? { env } : {}),
    ...(secrets?.length ? { secrets } : {}),
    steps,
  };
  return JSON.stringify(flow, null, 2) + "\n";
}
