// The live device view (GET /devices/<serial>/live/): the device's screen as it changes, from the frame socket
// /ws/devices/<serial>/live/ (binary messages: a 12-byte header — frame number u32, capture time f64 in Unix
// seconds, big-endian — then the PNG), with the IDE's controller on it. Gestures become steps sent on the
// session socket, the normal step path, one after another in the order of the gestures.
//
// A click taps the element under the pointer by selector, as on the session page, when the picture on show
// is the very screen whose UI tree the page holds (the PNG of the session's last SCREEN event, byte for
// byte); otherwise the tree may be stale, and the click taps the point. Typing into a password field (the
// field last tapped, or the tree's focused one) is sent as a secret.
import { ScreenController } from "./controller.js";
import { SessionSocket } from "./socket.js";
import { hashOfUrl, targetAt, treeOf } from "./tree.js";

const config = JSON.parse(document.getElementById("live-config").textContent);
const $ = (selector) => document.querySelector(selector);
const HEADER = 12;
const HOLDING = new Set(["PENDING", "SETTING_UP", "READY", "RUNNING", "WAITING_INPUT"]);
const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const TERMINAL_STEP = new Set(["COMPLETED", "ERROR", "CANCELLED"]);
const DENIED = new Set([4401, 4403, 4404]);
const img = $("#screen");

let status = config.status;
let shown = null; // the object URL on show
const recent = []; // arrival times of the last second's frames
// The UI tree of the session's last SCREEN, its PNG, the PNG on show, and whether the two are the same.
const view = { nodes: [], png: null, frame: null, current: false, lastField: null };
window.cognisimLive = { view, config }; // for tests and the curious

function samePng(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

let treeLoading = Promise.resolve();
function loadScreen(url) {
  const hash = hashOfUrl(url);
  if (!hash) return;
  treeLoading = Promise.all([
    treeOf(config.session, hash),
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.arrayBuffer() : null))
      .catch(() => null),
  ]).then(([nodes, png]) => {
    view.nodes = nodes;
    view.png = png && new Uint8Array(png);
    view.current = samePng(view.frame, view.png);
    img.dataset.current = String(view.current);
    view.lastField = null;
  });
}

function setState(name, text) {
  const node = $("#live-state");
  node.className = `conn conn-${name}`;
  node.dataset.state = name;
  node.textContent = text;
}

function note(text) {
  $("#live-note").textContent = text;
}

function showFrame(data) {
  const header = new DataView(data);
  const number = header.getUint32(0);
  const capturedAt = header.getFloat64(4);
  const url = URL.createObjectURL(new Blob([data.slice(HEADER)], { type: "image/png" }));
  const previous = shown;
  shown = url;
  img.onload = () => previous && URL.revokeObjectURL(previous);
  img.src = url;
  img.dataset.frame = String(number);
  view.frame = new Uint8Array(data, HEADER);
  view.current = samePng(view.frame, view.png);
  img.dataset.current = String(view.current);
  img.dataset.latencyMs = String(Math.max(0, Date.now() - capturedAt * 1000).toFixed(0));
  $("#screen-empty").hidden = true;
  recent.push(performance.now());
  showRate();
}

// Frames in the last second; a screen that does not change sends none ("still").
function showRate() {
  const now = performance.now();
  while (recent.length && recent[0] < now - 1000) recent.shift();
  $("#live-fps").textContent = recent.length ? `${recent.length} fps` : "still";
}
setInterval(showRate, 500);

// ---------- the frame socket

class Frames {
  constructor(path) {
    this.path = path;
    this.failures = 0;
    this.ws = null;
    this.ended = false;
  }

  connect() {
    clearTimeout(this.retry);
    this.ended = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    setState("connecting", "Connecting…");
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      if (message.data instanceof ArrayBuffer) {
        if (message.data.byteLength > HEADER) showFrame(message.data);
        ws.send(JSON.stringify({ type: "SEEN" })); // the server keeps a few frames in flight, no more
        return;
      }
      let body;
      try {
        body = JSON.parse(message.data);
      } catch {
        return;
      }
      if (body.type === "LIVE") {
        this.failures = 0;
        setState("live", "Live");
      } else if (body.type === "ENDED") {
        this.ended = true;
        ended(body.status);
      }
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.ended) return;
      if (DENIED.has(event.code)) {
        setState("denied", "Not yours");
        note("This device has no open session of yours. Open one from the IDE, then reload.");
        return;
      }
      const delay = Math.min(8000, 250 * 2 ** this.failures) * (0.75 + Math.random() * 0.5);
      this.failures += 1;
      setState("reconnecting", "Reconnecting…");
      this.retry = setTimeout(() => this.connect(), delay);
    };
  }
}

function ended(why) {
  status = why;
  if (TERMINAL.has(why)) {
    setState("denied", "Ended");
    note(`The session ended (${why}). The last picture stays.`);
    document.body.classList.add("session-over");
    session.close();
  } else {
    setState("reconnecting", "Paused");
    note("The session is idle and let the device go; the view comes back when its next step sets it up again.");
  }
}

const frames = new Frames(`/ws/devices/${encodeURIComponent(config.serial)}/live/`);

// ---------- steps, on the session socket

const session = new SessionSocket(`/ws/sessions/${config.session}/`, {
  onEvent(event) {
    if (event.type === "SCREEN") loadScreen(event.url);
    if (event.type === "STEP_STATUS" && TERMINAL_STEP.has(event.status)) {
      pending.delete(event.step_id);
      finished.add(event.step_id);
    }
    if (event.type !== "SESSION_STATUS") return;
    status = event.status;
    if (HOLDING.has(status) && frames.ended) frames.connect(); // back from IDLE
  },
  onReply(message) {
    if (message.type === "ERROR") note(message.message || message.code);
  },
});
session.lastSeq = config.last_seq || 0; // live events only: this page shows no history

// Steps go out one after another, in the order of the gestures; `make` may be a function, called in turn, for a
// step that depends on what the steps before it did.
const pending = new Set(); // ids of the steps this page sent that have not finished
const finished = new Set(); // ids of steps that finished (one may finish before its ACK is read)
let chain = Promise.resolve();
function send(make) {
  chain = chain
    .then(async () => {
      const step = typeof make === "function" ? await make() : make;
      const ack = await session.request({ type: "EXECUTE_SINGLE", step });
      if (!finished.has(ack.step_id)) pending.add(ack.step_id);
    })
    .then(() => note(""))
    .catch((err) => note(err.message));
}

// Resolves once the steps sent have finished and the picture on show is the screen whose tree the page holds
// (at most `ms`).
function settled(ms) {
  const until = performance.now() + ms;
  return new Promise((resolve) => {
    const look = () => {
      if ((!pending.size && view.current) || performance.now() > until) treeLoading.then(resolve);
      else setTimeout(look, 50);
    };
    look();
  });
}

async function onGesture(gesture) {
  if (gesture.kind === "tap" || gesture.kind === "long_press") {
    await treeLoading;
    const { x, y } = gesture.point;
    const target = view.current ? targetAt(view.nodes, x, y) : null;
    view.lastField = target && (target.node.password || /EditText$/.test(target.node.class)) ? target.node : null;
    const step = { action: gesture.kind, ...(target ? target.selector : { x, y }) };
    if (gesture.kind === "long_press") step.duration_ms = gesture.duration_ms;
    send(step);
  } else if (gesture.kind === "swipe") {
    send({ action: "swipe", from: gesture.from, to: gesture.to, duration_ms: gesture.duration_ms });
  } else if (gesture.kind === "scroll") {
    send({ action: "swipe", direction: gesture.direction });
  } else if (gesture.kind === "key") {
    view.lastField = null; // Tab and Enter may move the focus
    send({ action: "press_key", key: gesture.key });
  } else if (gesture.kind === "type") {
    const tapped = view.lastField;
    send(async () => {
      if (!tapped) await settled(3000); // the field focused once the gestures before it ran
      const field = tapped || view.nodes.find((n) => n.focused);
      return { action: "type", text: gesture.text, ...(field?.password ? { secret: true } : {}) };
    });
  }
}

new ScreenController({
  stage: $("#screen-stage"),
  img,
  gesture: $("#gesture"),
  ring: $("#press-ring"),
  size: () => ({ width: config.width || img.naturalWidth, height: config.height || img.naturalHeight }),
  enabled: () => !TERMINAL.has(status),
  onGesture,
  onKeyboard: (focused, typed) => note(focused ? (typed ? `Typing ${typed.length} characters…` : "Keys go to the device; Escape leaves.") : ""),
});

loadScreen(config.screen_url);
session.connect();
frames.connect();
