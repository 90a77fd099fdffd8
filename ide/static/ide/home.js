// The home page: the device list follows every device change live (/ws/devices/ sends the whole list
// on connect and again after each committed change).
import { el } from "./steps.js";

const table = document.querySelector("#devices tbody");
const indicator = document.querySelector("#devices-live");
const picker = document.querySelector("#id_device");

function holderCell(holder) {
  if (!holder) return el("span", { class: "muted", text: "—" });
  if (holder.mine) return el("a", { href: `/sessions/${holder.session}/`, text: `you — ${holder.name}` });
  return document.createTextNode(holder.user);
}

function render(devices) {
  if (!devices.length) {
    table.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 3, class: "muted", text: "No devices registered yet." })));
  } else {
    table.replaceChildren(
      ...devices.map((d) =>
        el(
          "tr",
          { "data-serial": d.serial },
          el(
            "td",
            { "data-label": "Device" },
            el(
              "div",
              {},
              el("strong", { text: d.name }),
              el("br"),
              el("span", { class: "muted small", text: `${d.serial} · ${d.model} · Android ${d.os_version}` }),
            ),
          ),
          el("td", { "data-label": "Status" }, el("span", { class: `badge dev-${d.status}`, text: d.status })),
          el("td", { "data-label": "Held by" }, holderCell(d.holder)),
        ),
      ),
    );
  }
  // The picker of the new-session form says the same.
  for (const d of devices) {
    const option = picker && [...picker.options].find((o) => o.value === d.serial);
    if (option) option.textContent = `${d.name} — ${d.status}`;
  }
}

function state(name, text) {
  indicator.dataset.state = name;
  indicator.className = `conn conn-${name} small`;
  indicator.textContent = text;
}

let failures = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws/devices/`);
  state("connecting", "Connecting…");
  ws.onopen = () => {
    failures = 0;
    state("live", "Live");
  };
  ws.onmessage = (frame) => {
    const message = JSON.parse(frame.data);
    if (message.type === "DEVICES") render(message.devices);
  };
  ws.onclose = (event) => {
    if (event.code === 4401) return state("denied", "Signed out");
    const delay = Math.min(8000, 250 * 2 ** failures++) * (0.75 + Math.random() * 0.5);
    state("reconnecting", "Reconnecting…");
    setTimeout(connect, delay);
  };
}
connect();
