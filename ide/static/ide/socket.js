// The session socket: reconnects with backoff and resumes from the last event it delivered,
// so the page sees every event once, in seq order, across drops.

const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;

export class RequestFailed extends Error {
  constructor(error) {
    super(error.message || error.code);
    this.code = error.code;
    this.field = error.field;
  }
}

export class SessionSocket {
  // onEvent(event) for every persisted event, once, in seq order; onReply(message) for replies nobody
  // awaits; onState(state, detail) for "connecting" | "live" | "reconnecting" | "denied"; onWaiting(n) when
  // the number of requests waiting for the socket to open changes.
  constructor(path, { onEvent, onReply, onState, onWaiting }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onReply = onReply || (() => {});
    this.onState = onState || (() => {});
    this.onWaiting = onWaiting || (() => {});
    this.waiting = []; // requests made while the socket was not open: sent, in order, once it is
    this.denied = false;
    this.lastSeq = 0;
    this.failures = 0;
    this.nextRequest = 1;
    this.pending = new Map();
    this.resuming = false;
    this.ws = null;
    this.stopped = false;
  }

  get live() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}?last_seq=${this.lastSeq}`);
    this.ws = ws;
    this.resuming = false;
    this.onState("connecting");
    ws.onopen = () => {
      this.failures = 0;
      this.onState("live");
      this.heartbeat();
      this.flush();
    };
    ws.onmessage = (frame) => {
      if (ws !== this.ws) return;
      this.lastHeard = performance.now();
      let message;
      try {
        message = JSON.parse(frame.data);
      } catch {
        return;
      }
      if (typeof message.seq === "number") this.deliver(message);
      else this.reply(message);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      clearTimeout(this.pingTimer);
      this.ws = null;
      for (const { reject } of this.pending.values()) {
        reject(new RequestFailed({
          code: "connection_lost",
          message: "The connection dropped before the server answered. The step list shows whether it was queued.",
        }));
      }
      this.pending.clear();
      if (this.stopped) return;
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
        this.denied = true;
        this.onState("denied", event.code);
        this.dropWaiting("No access to this session: sign in again.");
        return;
      }
      const delay = Math.min(8000, 250 * 2 ** this.failures) * (0.75 + Math.random() * 0.5);
      this.failures += 1;
      this.onState("reconnecting", Math.round(delay));
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  deliver(event) {
    if (event.seq <= this.lastSeq) return; // already rendered
    if (event.seq > this.lastSeq + 1) {
      // A gap: ask for everything after what we have; the replay brings this one again.
      if (!this.resuming) {
        this.resuming = true;
        this.send({ type: "RESUME", last_seq: this.lastSeq });
      }
      return;
    }
    this.lastSeq = event.seq;
    this.resuming = false;
    try {
      this.onEvent(event);
    } catch (err) {
      console.error("event handler failed", event, err);
    }
  }

  reply(message) {
    const waiting = message.request_id !== undefined && this.pending.get(message.request_id);
    if (message.type === "PONG" && !waiting) return; // the heartbeat's
    if (waiting) {
      this.pending.delete(message.request_id);
      if (message.type === "ERROR") waiting.reject(new RequestFailed(message));
      else waiting.resolve(message);
      return;
    }
    this.onReply(message);
  }

  heartbeat() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      if (!this.live) return;
      const asked = performance.now();
      this.send({ type: "PING" });
      this.pingTimer = setTimeout(() => {
        if (this.ws && !(this.lastHeard > asked)) this.ws.close(4000, "no pong");
        else this.heartbeat();
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  send(message) {
    if (!this.live) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  // Send a message and wait for the reply that echoes its request_id (ACK → resolve, ERROR → reject).
  // While the socket is connecting or reconnecting the request waits and goes out, in order, once it is
  // open: it was never sent, so it cannot run twice (a request in flight when the socket drops is not re-sent).
  request(message) {
    const requestId = `r${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      if (this.denied || this.stopped) {
        reject(new RequestFailed({ code: "not_connected", message: "Not connected to the server." }));
        return;
      }
      if (!this.live) {
        this.waiting.push({ requestId, message, resolve, reject });
        this.onWaiting(this.waiting.length);
        return;
      }
      this.pending.set(requestId, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, request_id: requestId }));
    });
  }

  flush() {
    if (!this.waiting.length) return;
    for (const { requestId, message, resolve, reject } of this.waiting.splice(0)) {
      this.pending.set(requestId, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, request_id: requestId }));
    }
    this.onWaiting(0);
  }

  dropWaiting(why) {
    for (const { reject } of this.waiting.splice(0)) reject(new RequestFailed({ code: "not_connected", message: why }));
    this.onWaiting(0);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    if (this.ws) this.ws.close();
    this.dropWaiting("Not connected to the server.");
  }
}
