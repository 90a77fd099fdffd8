// The element inspector: a collapsible UI tree with search, and the picked element's attributes, the
// selectors that find it (with how many elements each matches: an ambiguous one needs its index) and
// actions that put a step for it into the composer.
import { el } from "./steps.js";
import { describeNode, selectorFor } from "./tree.js";

const KIND_LABEL = { text: "Text", id: "Resource id", desc: "Content description" };
const FLAG_NAMES = [
  "clickable",
  "long_clickable",
  "focusable",
  "focused",
  "scrollable",
  "checkable",
  "checked",
  "selected",
  "password",
];
const OPEN_DEPTH = 4; // deeper branches start collapsed

function matchesQuery(node, query) {
  if (!query) return false;
  return [node.text, node.id, node.desc, node.class].some((v) => v && v.toLowerCase().includes(query));
}

export function selectorText(selector) {
  const kind = ["text", "id", "desc"].find((k) => selector[k] !== undefined);
  if (!kind) return `(${selector.x}, ${selector.y})`;
  const value = kind === "id" ? selector[kind] : `“${selector[kind]}”`;
  return `${kind} ${value}${selector.index !== undefined ? ` #${selector.index}` : ""}`;
}

export class Inspector {
  // onAction(action, node, selector) puts a step into the composer; onPick(node) tells the screen what is picked;
  // onHover(node|null) lets the screen outline what the pointer is over in the tree. `actions` false: read-only.
  constructor({ tree, search, details, count, onAction, onPick, onHover, actions = true }) {
    Object.assign(this, { tree, search, details, count, onAction, onPick, onHover, actions });
    this.nodes = [];
    this.collapsed = new Set(); // keys of collapsed nodes, kept across screens
    this.picked = null;
    this.search.addEventListener("input", () => this.render());
    this.tree.addEventListener("mouseleave", () => this.onHover?.(null));
  }

  key(node) {
    // The same element on the next screen: its place in the tree and what it is.
    const path = [];
    for (let n = node; n; n = n.parent === null ? null : this.nodes[n.parent]) path.unshift(n.class.split(".").pop());
    return `${path.join("/")}#${node.id}`;
  }

  show(nodes) {
    const pickedKey = this.picked ? this.key(this.picked) : null;
    const pickedBounds = this.picked ? String(this.picked.bounds) : null;
    this.nodes = nodes;
    this.picked = pickedKey
      ? nodes.find((n) => this.key(n) === pickedKey && String(n.bounds) === pickedBounds) ||
        nodes.find((n) => this.key(n) === pickedKey) ||
        null
      : null;
    this.render();
    this.renderDetails();
  }

  render() {
    const query = this.search.value.trim().toLowerCase();
    const children = new Map();
    for (const node of this.nodes) {
      const list = children.get(node.parent) || [];
      list.push(node);
      children.set(node.parent, list);
    }
    // While searching: the matches and their ancestors, all open.
    let visible = null;
    let hits = 0;
    if (query) {
      visible = new Set();
      for (const node of this.nodes) {
        if (!matchesQuery(node, query)) continue;
        hits += 1;
        for (let n = node; n && !visible.has(n.i); n = n.parent === null ? null : this.nodes[n.parent]) visible.add(n.i);
      }
    }
    const item = (node) => {
      if (visible && !visible.has(node.i)) return null;
      const kids = children.get(node.i) || [];
      const key = this.key(node);
      const open = query ? true : !this.collapsed.has(key) && (node.depth < OPEN_DEPTH || this.collapsed.has(`open:${key}`));
      const li = el("li", {
        role: "treeitem",
        "data-i": node.i,
        "aria-expanded": kids.length ? String(open) : undefined,
        "aria-selected": String(this.picked?.i === node.i),
        class: matchesQuery(node, query) ? "hit" : undefined,
      });
      const row = el("div", { class: "tree-row" });
      if (kids.length) {
        const toggle = el("button", {
          type: "button",
          class: "toggle",
          "aria-label": `${open ? "Collapse" : "Expand"} ${describeNode(node)}`,
          text: open ? "▾" : "▸",
        });
        toggle.addEventListener("click", () => {
          if (open) {
            this.collapsed.add(key);
            this.collapsed.delete(`open:${key}`);
          } else {
            this.collapsed.delete(key);
            this.collapsed.add(`open:${key}`);
          }
          this.render();
        });
        row.append(toggle);
      } else {
        row.append(el("span", { class: "toggle-space" }));
      }
      const label = el("button", { type: "button", class: "node", "data-i": node.i });
      label.append(el("span", { class: "cls", text: node.class.split(".").pop() }));
      if (node.text) label.append(" ", el("span", { class: "val", text: `“${node.text}”` }));
      if (node.id) label.append(" ", el("span", { class: "rid", text: `#${node.id}` }));
      if (node.desc && node.desc !== node.text) label.append(" ", el("span", { class: "val", text: `[${node.desc}]` }));
      label.addEventListener("click", () => this.pick(node));
      label.addEventListener("mouseenter", () => this.onHover?.(node));
      label.addEventListener("focus", () => this.onHover?.(node));
      row.append(label);
      li.append(row);
      if (kids.length && open) {
        const group = el("ul", { role: "group" });
        for (const kid of kids) {
          const child = item(kid);
          if (child) group.append(child);
        }
        li.append(group);
      }
      return li;
    };
    this.tree.replaceChildren(...(children.get(null) || []).map(item).filter(Boolean));
    if (this.count) {
      this.count.textContent = query
        ? `${hits} of ${this.nodes.length} match`
        : `${this.nodes.length} element${this.nodes.length === 1 ? "" : "s"}`;
    }
  }

  // Pick an element: selected in the tree (its branch opened), detailed below, outlined on the screen.
  pick(node, { scroll = false } = {}) {
    this.picked = node;
    for (let n = node?.parent ?? null; n !== null; n = this.nodes[n].parent) {
      const key = this.key(this.nodes[n]);
      this.collapsed.delete(key);
      this.collapsed.add(`open:${key}`);
    }
    this.render();
    this.renderDetails();
    this.onPick?.(node);
    if (scroll && node) this.tree.querySelector(`li[data-i="${node.i}"] > .tree-row`)?.scrollIntoView({ block: "nearest" });
  }

  markHover(node) {
    for (const row of this.tree.querySelectorAll(".tree-row.hovered")) row.classList.remove("hovered");
    if (node) this.tree.querySelector(`li[data-i="${node.i}"] > .tree-row`)?.classList.add("hovered");
  }

  renderDetails() {
    const node = this.picked;
    this.details.hidden = !node;
    if (!node) return this.details.replaceChildren();
    const attrs = el("dl", { class: "attrs" });
    const add = (name, value) => {
      if (value === "" || value === undefined || value === null) return;
      attrs.append(el("dt", { text: name }), el("dd", { text: String(value) }));
    };
    add("class", node.class);
    add("text", node.text);
    add("resource-id", node.resource_id);
    add("content-desc", node.desc);
    add("bounds", `[${node.bounds[0]},${node.bounds[1]}][${node.bounds[2]},${node.bounds[3]}]`);
    const flags = FLAG_NAMES.filter((f) => node[f]);
    if (!node.enabled) flags.unshift("disabled");
    add("flags", flags.join(", ") || "none");

    const best = selectorFor(node);
    const choices = el("ul", { class: "selectors", "aria-label": "Selectors that find this element" });
    const chosen = { selector: best };
    node.selectors.forEach((s, n) => {
      const selector = s.matches === 1 ? { [s.kind]: s.value } : { [s.kind]: s.value, index: s.index };
      const id = `${this.details.id}-sel-${n}`;
      const radio = el("input", {
        type: "radio",
        name: `${this.details.id}-selector`,
        id,
        checked: best && selectorText(best) === selectorText(selector),
        hidden: !this.actions,
      });
      radio.addEventListener("change", () => (chosen.selector = selector));
      const ambiguous = s.matches > 1;
      choices.append(
        el(
          "li",
          { class: ambiguous ? "ambiguous" : "unique", "data-kind": s.kind, "data-matches": s.matches },
          radio,
          el("label", { for: id, class: "check-label", text: `${KIND_LABEL[s.kind]}: ${s.value}` }),
          el("span", {
            class: `badge ${ambiguous ? "st-DEFERRED" : "st-COMPLETED"}`,
            text: ambiguous ? `ambiguous: ${s.matches} match, this is the ${ordinal(s.index + 1)} (index ${s.index})` : "unique",
          }),
        ),
      );
    });
    if (!node.selectors.length) {
      choices.append(el("li", { class: "muted", text: "No text, id or description: only its position can find it." }));
    }

    const parts = [el("h3", { text: describeNode(node) }), attrs, el("h4", { text: "Selectors" }), choices];
    if (this.actions) {
      const actions = el("div", { class: "row node-actions", role: "group", "aria-label": "Put a step for this element into the composer" });
      const center = [Math.round((node.bounds[0] + node.bounds[2]) / 2), Math.round((node.bounds[1] + node.bounds[3]) / 2)];
      const wanted = !best
        ? [["tap", "Tap"], ["long_press", "Long press"]]
        : [
        ["tap", "Tap"],
        ["long_press", "Long press"],
        ["assert_visible", "Assert visible"],
        ["wait_for", "Wait for"],
        ["scroll_until_visible", "Scroll to"],
        ...(node.password || /EditText$/.test(node.class) ? [["type", "Type into"], ["clear_text", "Clear text"]] : []),
        ];
      for (const [action, text] of wanted) {
        const button = el("button", { type: "button", class: "small", "data-action": action, text });
        button.addEventListener("click", () =>
          this.onAction?.(action, node, chosen.selector || { x: center[0], y: center[1] }),
        );
        actions.append(button);
      }
      parts.push(actions);
    }
    this.details.replaceChildren(...parts);
  }
}

// 1 → "1st", 2 → "2nd", 11 → "11th": how people count the matches (a selector's `index` counts from 0).
function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}
