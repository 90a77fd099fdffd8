// The session's device log: its last lines when the page opens, then each DEVICE_LOG the socket brings;
// shown filtered by level, tag and text (as GET …/logs/ filters), downloadable as the device printed it.

const LEVELS = "VDIWEFA";
const KEEP = 5000; // lines kept in the page; the whole log stays downloadable

export class DeviceLog {
  constructor(api) {
    this.api = api;
    this.lines = [];
    this.ready = false;
    this.list = document.querySelector("#log-lines");
    this.count = document.querySelector("#log-count");
    this.level = document.querySelector("#log-level");
    this.tag = document.querySelector("#log-tag");
    this.text = document.querySelector("#log-text");
    this.download = document.querySelector("#log-download");
    for (const input of [this.level, this.tag, this.text]) input.addEventListener("input", () => this.filtered());
  }

  async load() {
    this.ready = true;
    const reply = await fetch(`${this.api}/logs/?limit=500`, { credentials: "same-origin" });
    if (!reply.ok) return;
    const page = await reply.json();
    const known = new Set(this.lines.map((line) => `${line.ts} ${line.pid} ${line.message}`));
    const older = page.results.filter((line) => !known.has(`${line.ts} ${line.pid} ${line.message}`));
    this.lines = [...older, ...this.lines].slice(-KEEP);
    this.filtered();
  }

  add(lines) {
    this.lines.push(...lines);
    const cut = this.lines.length - KEEP;
    if (cut > 0) this.lines.splice(0, cut);
    const atEnd = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    for (const line of lines) if (this.keeps(line)) this.list.append(this.row(line));
    while (this.list.childElementCount > KEEP) this.list.firstElementChild.remove();
    if (atEnd) this.list.scrollTop = this.list.scrollHeight;
    this.counted();
  }

  keeps(line) {
    const level = this.level.value;
    if (level && LEVELS.indexOf(line.level) < LEVELS.indexOf(level)) return false;
    const tag = this.tag.value.trim();
    if (tag && line.tag !== tag) return false;
    const text = this.text.value.trim().toLowerCase();
    return !text || `${line.tag}: ${line.message}`.toLowerCase().includes(text);
  }

  row(line) {
    const item = document.createElement("li");
    item.className = `log-line log-${line.level}`;
    item.dataset.level = line.level;
    item.textContent = `${line.ts} ${line.level} ${line.tag}: ${line.message}`;
    return item;
  }

  filtered() {
    this.list.replaceChildren(...this.lines.filter((line) => this.keeps(line)).map((line) => this.row(line)));
    this.list.scrollTop = this.list.scrollHeight;
    const query = new URLSearchParams();
    if (this.level.value) query.set("level", this.level.value);
    if (this.tag.value.trim()) query.set("tag", this.tag.value.trim());
    if (this.text.value.trim()) query.set("q", this.text.value.trim());
    this.download.href = `${this.api}/logs.txt${query.size ? `?${query}` : ""}`;
    this.counted();
  }

  counted() {
    const shown = this.list.childElementCount;
    this.count.textContent = shown === this.lines.length ? `${shown} lines` : `${shown} of ${this.lines.length} lines`;
  }
}
