// The UI trees of the screens a session's device showed (GET /sessions/{id}/screens/{hash}/tree.json, one
// fetch per screen: a screen never changes), and how a point on the screen becomes an element and a selector.

const cache = new Map(); // screen hash → Promise of nodes

export function treeOf(sessionId, hash) {
  if (!hash) return Promise.resolve([]);
  if (!cache.has(hash)) {
    const loading = fetch(`/sessions/${sessionId}/screens/${hash}/tree.json`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { nodes: [] }))
      .then((body) => body.nodes || [])
      .catch(() => {
        cache.delete(hash); // a network blip: the next look tries again
        return [];
      });
    cache.set(hash, loading);
  }
  return cache.get(hash);
}

export function hashOfUrl(url) {
  const match = /\/screens\/([0-9a-f]{16,})\.png/.exec(url || "");
  return match ? match[1] : null;
}

const area = (n) => (n.bounds[2] - n.bounds[0]) * (n.bounds[3] - n.bounds[1]);
const empty = (n) => n.bounds[2] <= n.bounds[0] || n.bounds[3] <= n.bounds[1];
const contains = (n, x, y) => n.bounds[0] <= x && x < n.bounds[2] && n.bounds[1] <= y && y < n.bounds[3];

// The smallest element under a point (the one a finger there touches), or null.
export function nodeAt(nodes, x, y) {
  let best = null;
  for (const node of nodes) {
    if (empty(node) || !contains(node, x, y)) continue;
    if (!best || area(node) <= area(best)) best = node;
  }
  return best;
}

const hasChildren = (nodes, node) => nodes.some((n) => n.parent === node.i);
const editable = (node) => node.password || /(EditText|AutoCompleteTextView)$/.test(node.class);

// The selectors the composer may suggest for `node`: each finds that element (with its index when its value
// finds several); a text field's text (its hint, what was typed) is never one, as it does not stay.
export function suggestedSelectors(node) {
  return (node.selectors || [])
    .filter((s) => s.kind !== "text" || !editable(node))
    .map((s) => ({ [s.kind]: s.value, ...(s.matches > 1 ? { index: s.index } : {}) }));
}

// The selector a recorded step should use for `node`: a unique one, preferring text (readable) — but id for
// text fields, whose text changes as one types — then desc; failing that, the first with its index.
// Returns step params ({text|id|desc, index?}) or null.
export function selectorFor(node) {
  if (!node?.selectors?.length) return null;
  const order = editable(node) ? ["id", "desc", "text"] : ["text", "id", "desc"];
  const ranked = [...node.selectors].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const pick = ranked.find((s) => s.matches === 1) || ranked[0];
  return pick.matches === 1 ? { [pick.kind]: pick.value } : { [pick.kind]: pick.value, index: pick.index };
}

// What a touch at (x, y) should be recorded as: the element under the finger when it is something one
// touches (clickable, or a leaf such as a label), else its nearest clickable ancestor; null where there is
// no such element (then the step records the point).
export function targetAt(nodes, x, y) {
  let node = nodeAt(nodes, x, y);
  if (node && !node.clickable && hasChildren(nodes, node)) {
    node = null;
  }
  while (node && !selectorFor(node)) {
    const parent = node.parent === null ? null : nodes[node.parent];
    node = parent && parent.clickable && contains(parent, x, y) ? parent : null;
  }
  if (!node) {
    // A container under the finger: a clickable ancestor of the point may still be the target.
    const clickable = nodes.filter((n) => n.clickable && !empty(n) && contains(n, x, y) && selectorFor(n));
    node = clickable.sort((a, b) => area(a) - area(b))[0] || null;
  }
  return node ? { node, selector: selectorFor(node) } : null;
}

export function describeNode(node) {
  const short = node.class.split(".").pop();
  const name = node.text || node.desc || node.id;
  return name ? `${short} “${name}”` : short;
}
