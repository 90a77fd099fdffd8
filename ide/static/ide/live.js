// The live device view (GET /devices/<serial>/live/): the device's screen as it changes, from the frame socket
// /ws/devices/<serial>/live/ (binary messages: a 12-byte header — frame number u32, capture time f64 in Unix
// seconds, big-endian — then the PNG), with the IDE's controller on it. Gestures become steps sent on the
// session socket, the normal step path, one after another in the order of the gestures.
import { ScreenController } from "./controller.js";
import { SessionSocket } from "./socket.js";

const config = JSON.parse(document.getElementById("live-config").textContent);
const $ = (selector) => document.querySelector(selector);
const HEADER = 12;
const HOLDING = new Set(["PENDING", "SETTING_UP", "READY", "RUNNING", "WAITING_INPUT"]);
const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const DENIED = new Set([4401, 4403, 4404]);
const img = $("#screen");

let status = config.status;
let shown = null; // the object URL on show
const recent = []; // arrival times of the last second's frames

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
  const view = new DataView(data);
  const number = view.getUint32(0);
  const capturedAt = view.getFloat64(4);
  const url = URL.createObjectURL(new Blob([data.slice(HEADER)], { type: "image/png" }));
  const previous = shown;
  shown = url;
  img.onload = () => previous && URL.revokeObjectURL(previous);
  img.src = url;
  img.dataset.frame = String(number);
  img.dataset.latencyMs = String(Math.max(0, Date.now() - capturedAt * 1000).toFixed(0));
  $("#screen-empty").hidden = true;
  const now = performance.now();
  recent.push(now);
  while (recent.length && recent[0] < now - 1000) recent.shift();
  $("#live-fps").textContent = `${recent.length} fps`;
}

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
    if (event.type !== "SESSION_STATUS") return;
    status = event.status;
    if (HOLDING.has(status) && frames.ended) frames.connect(); // back from IDLE
  },
  onReply(message) {
    if (message.type === "ERROR") note(message.message || message.code);
  },
});
session.lastSeq = config.last_seq || 0; // live events only: this page shows no history

let chain = Promise.resolve();
function send(step) {
  chain = chain
    .then(() => session.request({ type: "EXECUTE_SINGLE", step }))
    .then(() => note(""))
    .catch((err) => note(err.message));
}

function onGesture(gesture) {
  if (gesture.kind === "tap" || gesture.kind === "long_press") {
    const step = { action: gesture.kind, x: gesture.point.x, y: gesture.point.y };
    if (gesture.kind === "long_press") step.duration_ms = gesture.duration_ms;
    send(step);
  } else if (gesture.kind === "swipe") {
    send({ action: "swipe", from: gesture.from, to: gesture.to, duration_ms: gesture.duration_ms });
  } else if (gesture.kind === "scroll") {
    send({ action: "swipe", direction: gesture.direction });
  } else if (gesture.kind === "key") {
    send({ action: "press_key", key: gesture.key });
  } else if (gesture.kind === "type") {
    send({ action: "type", text: gesture.text });
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

session.connect();
frames.connect();
