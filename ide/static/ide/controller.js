// The screen as a controller: pointer, wheel and keyboard on the device's picture become gestures in device
// pixels. A click is a tap, a drag a swipe (its path drawn), a held click a long press, the wheel a scroll,
// and typing (while the screen has the focus) text for the focused field with Enter, Backspace and Tab as keys.

const DRAG_PX = 8; // CSS pixels the pointer may wander before a press becomes a drag
const LONG_MS = 500; // held this long without moving: a long press
const WHEEL_IDLE_MS = 180; // a wheel gesture ends after this quiet time
const TYPE_IDLE_MS = 600; // typed characters go out after this quiet time
const SVG = "http://www.w3.org/2000/svg";
const KEYS = { Enter: "enter", Backspace: "del", Tab: "tab" };

export class ScreenController {
  // size() → {width, height} in device pixels; enabled() → whether gestures may be sent;
  // onGesture(g): {kind: "tap"|"long_press", point, duration_ms} | {kind: "swipe", from, to, duration_ms}
  //   | {kind: "scroll", direction} | {kind: "type", text} | {kind: "key", key};
  // onHover(point|null) as the pointer moves over the screen without a button down.
  constructor({ stage, img, gesture, ring, size, enabled, onGesture, onHover, onKeyboard }) {
    Object.assign(this, { stage, img, gesture, ring, size, enabled, onGesture, onHover, onKeyboard });
    this.press = null;
    this.wheel = null;
    this.typed = "";
    this.typeTimer = null;
    stage.addEventListener("pointerdown", (e) => this.down(e));
    stage.addEventListener("pointermove", (e) => this.move(e));
    stage.addEventListener("pointerup", (e) => this.up(e));
    stage.addEventListener("pointercancel", () => this.abort());
    stage.addEventListener("pointerleave", () => this.onHover?.(null));
    stage.addEventListener("wheel", (e) => this.wheelMoved(e), { passive: false });
    stage.addEventListener("keydown", (e) => this.key(e));
    stage.addEventListener("focus", () => this.onKeyboard?.(true));
    stage.addEventListener("blur", () => {
      this.flushTyping();
      this.onKeyboard?.(false);
    });
    stage.addEventListener("contextmenu", (e) => e.preventDefault()); // a held touch must not open a menu
  }

  // A point on the page → device pixels (clamped to the screen), or null when the picture is not shown.
  toDevice(clientX, clientY) {
    const { width, height } = this.size();
    const box = this.img.getBoundingClientRect();
    if (!width || !height || !box.width || !box.height) return null;
    const clamp = (v, high) => Math.max(0, Math.min(high - 1, Math.round(v)));
    return {
      x: clamp(((clientX - box.left) / box.width) * width, width),
      y: clamp(((clientY - box.top) / box.height) * height, height),
    };
  }

  down(event) {
    if (event.button !== 0 || !this.img.getAttribute("src")) return;
    event.preventDefault();
    this.stage.focus({ preventScroll: true });
    const point = this.toDevice(event.clientX, event.clientY);
    if (!point) return;
    try {
      this.stage.setPointerCapture(event.pointerId); // a drag that leaves the picture still ends here
    } catch {
      /* a pointer the browser does not track (a synthetic event): no capture needed */
    }
    this.press = { start: point, at: performance.now(), cx: event.clientX, cy: event.clientY, path: [point], drag: false };
    this.onHover?.(null);
    this.showRing(event);
  }

  move(event) {
    if (!this.press) {
      if (event.buttons === 0) this.onHover?.(this.toDevice(event.clientX, event.clientY));
      return;
    }
    const point = this.toDevice(event.clientX, event.clientY);
    if (!point) return;
    if (!this.press.drag && Math.hypot(event.clientX - this.press.cx, event.clientY - this.press.cy) > DRAG_PX) {
      this.press.drag = true;
      this.hideRing();
    }
    if (this.press.drag) {
      this.press.path.push(point);
      this.drawPath(this.press.path, false);
    }
  }

  up(event) {
    const press = this.press;
    this.press = null;
    this.hideRing();
    if (!press) return;
    const held = Math.round(performance.now() - press.at);
    const end = this.toDevice(event.clientX, event.clientY) || press.path.at(-1);
    if (!this.enabled()) return;
    if (press.drag) {
      press.path.push(end);
      this.drawPath(press.path, true);
      this.onGesture({ kind: "swipe", from: press.start, to: end, duration_ms: Math.max(50, Math.min(10000, held)) });
    } else if (held >= LONG_MS) {
      this.onGesture({ kind: "long_press", point: press.start, duration_ms: Math.min(10000, held) });
    } else {
      this.onGesture({ kind: "tap", point: press.start });
    }
  }

  abort() {
    this.press = null;
    this.hideRing();
  }

  wheelMoved(event) {
    if (!this.img.getAttribute("src")) return;
    event.preventDefault();
    if (!this.wheel) this.wheel = { dx: 0, dy: 0 };
    this.wheel.dx += event.deltaX;
    this.wheel.dy += event.deltaY;
    clearTimeout(this.wheel.timer);
    this.wheel.timer = setTimeout(() => {
      const { dx, dy } = this.wheel;
      this.wheel = null;
      if (!this.enabled() || (dx === 0 && dy === 0)) return;
      // Wheel down shows what is below: the finger moves up.
      const direction = Math.abs(dy) >= Math.abs(dx) ? (dy > 0 ? "up" : "down") : dx > 0 ? "left" : "right";
      this.onGesture({ kind: "scroll", direction });
    }, WHEEL_IDLE_MS);
  }

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      this.stage.blur();
      return;
    }
    if (!this.enabled()) return;
    if (KEYS[event.key]) {
      event.preventDefault();
      this.flushTyping();
      this.onGesture({ kind: "key", key: KEYS[event.key] });
    } else if (event.key.length === 1) {
      event.preventDefault();
      this.typed += event.key;
      this.onKeyboard?.(true, this.typed);
      clearTimeout(this.typeTimer);
      this.typeTimer = setTimeout(() => this.flushTyping(), TYPE_IDLE_MS);
    }
  }

  flushTyping() {
    clearTimeout(this.typeTimer);
    if (!this.typed) return;
    const text = this.typed;
    this.typed = "";
    this.onKeyboard?.(document.activeElement === this.stage, "");
    this.onGesture({ kind: "type", text });
  }

  // ---------- feedback on the picture

  drawPath(points, done) {
    const { width, height } = this.size();
    this.gesture.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map((p) => `${p.x},${p.y}`).join(" "));
    const dot = (p, cls) => {
      const c = document.createElementNS(SVG, "circle");
      Object.entries({ cx: p.x, cy: p.y, r: width / 40, class: cls }).forEach(([k, v]) => c.setAttribute(k, v));
      return c;
    };
    this.gesture.replaceChildren(line, dot(points[0], "start"), dot(points.at(-1), "end"));
    this.gesture.dataset.points = String(points.length);
    this.gesture.classList.toggle("done", done);
    clearTimeout(this.pathTimer);
    if (done) this.pathTimer = setTimeout(() => this.gesture.replaceChildren(), 1500);
  }

  showRing(event) {
    const box = this.stage.getBoundingClientRect();
    this.ring.style.left = `${event.clientX - box.left}px`;
    this.ring.style.top = `${event.clientY - box.top}px`;
    this.ring.hidden = false;
    this.ring.classList.remove("grow");
    void this.ring.offsetWidth; // restart the animation
    this.ring.classList.add("grow");
  }

  hideRing() {
    this.ring.hidden = true;
    this.ring.classList.remove("grow");
  }
}

// Place a box over the picture at an element's bounds (device pixels), as percentages so it follows resizing.
export function placeBox(box, bounds, size) {
  if (!bounds || !size.width) {
    box.hidden = true;
    return;
  }
  const [x1, y1, x2, y2] = bounds;
  Object.assign(box.style, {
    left: `${(x1 / size.width) * 100}%`,
    top: `${(y1 / size.height) * 100}%`,
    width: `${((x2 - x1) / size.width) * 100}%`,
    height: `${((y2 - y1) / size.height) * 100}%`,
  });
  box.hidden = false;
}
