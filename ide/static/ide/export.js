// The export dialog: pick steps (passing ones by default; questions for a person left out and flagged),
// name the app, have the server check the flow (`POST /api/runs/` with `dry_run`) before it is
// downloaded, or run the picked steps again in a new session.
import { ACTION_LABELS, describeStep, el, flowJson, flowYaml } from "./steps.js";

const WIRE = { RUNNING: "STARTED", FAILED: "ERROR" };

export class Exporter {
  // api(path, options) → JSON (throws with .body on HTTP errors); session: {id, name, app};
  // isSecret(step) → whether the step's text must not leave the page; download(name, text, type).
  constructor({ api, session, isSecret, download }) {
    Object.assign(this, { api, session, isSecret, download });
    this.dialog = document.getElementById("export-dialog");
    this.list = document.getElementById("export-steps");
    this.steps = [];
    this.$("#export-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.checkAndDownload();
    });
    this.$("#export-close").addEventListener("click", () => this.dialog.close());
    this.$("#export-rerun").addEventListener("click", () => this.runAgain());
    this.$("#export-pick-passing").addEventListener("click", () => this.pick((s) => this.passing(s)));
    this.$("#export-pick-all").addEventListener("click", () => this.pick(() => true));
    this.$("#export-pick-none").addEventListener("click", () => this.pick(() => false));
  }

  $(selector) {
    return this.dialog.querySelector(selector);
  }

  passing(step) {
    return step.status === "COMPLETED" && step.action !== "ask_user";
  }

  async open() {
    this.steps = await this.api(`/api/sessions/${this.session.id}/steps/`);
    this.$("#export-name").value = this.session.name || "Untitled session";
    this.$("#export-app").value = this.session.app || "";
    this.list.replaceChildren(
      ...this.steps.map((step) => {
        const id = `export-step-${step.id}`;
        const status = WIRE[step.status] || step.status;
        const box = el("input", { type: "checkbox", id, "data-step-id": step.id, checked: this.passing(step) });
        const flag =
          step.action === "ask_user"
            ? el("span", { class: "flag", text: "needs a person: a flow runs unattended" })
            : status !== "COMPLETED"
              ? el("span", { class: "flag", text: status === "ERROR" ? "failed here" : status.toLowerCase() })
              : null;
        const text = `#${step.index + 1} ${ACTION_LABELS[step.action] || step.action} ${describeStep(step.action, this.shown(step))}`;
        return el(
          "li",
          { "data-status": status, "data-action": step.action },
          box,
          el("label", { for: id, text }),
          flag,
        );
      }),
    );
    this.$("#export-check").textContent = "";
    this.errors([]);
    this.dialog.showModal();
  }

  shown(step) {
    return this.isSecret(step) ? { ...step.params, secret: true } : step.params;
  }

  pick(predicate) {
    for (const box of this.list.querySelectorAll("input[type=checkbox]")) {
      box.checked = predicate(this.steps.find((s) => String(s.id) === box.dataset.stepId));
    }
  }

  picked() {
    const ids = new Set([...this.list.querySelectorAll("input:checked")].map((b) => b.dataset.stepId));
    return this.steps.filter((s) => ids.has(String(s.id)));
  }

  // The flow: secret texts become variables (${SECRET_1} …) whose values whoever runs it gives, named under
  // `secrets:` so that a value given with a plain `-e` is masked everywhere too (console, JUnit, events).
  flow() {
    const checkSecrets = {}; // values for the server's check only; never written to the file
    const secrets = [];
    const steps = this.picked().map((step) => {
      const params = { ...step.params };
      if (this.isSecret(step) && step.action === "type") {
        const name = `SECRET_${secrets.length + 1}`;
        secrets.push(name);
        params.text = `\${${name}}`;
        checkSecrets[name] = "placeholder";
      }
      return { action: step.action, ...params };
    });
    const given = secrets.map((n) => `-e ${n}=…`).join(" ");
    const comment = [
      `CogniSim flow exported from session ${this.session.id}`,
      ...(secrets.length ? [`Secrets are not exported: run it with ${given} (masked: the flow names them under secrets)`] : []),
    ].join("\n");
    // A Maestro file has no `secrets:`: the command that runs it names them (`--secret` masks a value).
    const maestroComment = secrets.length
      ? `# Secrets are not exported: run it with ${given} ${secrets.map((n) => `--secret ${n}`).join(" ")}\n`
      : "";
    return {
      name: this.$("#export-name").value.trim() || "Untitled session",
      app: this.$("#export-app").value.trim(),
      steps,
      secrets,
      comment,
      maestroComment,
      checkSecrets,
    };
  }

  errors(list) {
    const node = this.$("#export-errors");
    node.replaceChildren(...list.map((e) => el("li", { text: e.line ? `line ${e.line}: ${e.message}` : e.message })));
    node.hidden = !list.length;
  }

  // The file in the chosen format: native YAML or JSON here; Maestro YAML from the server (runs.maestro).
  async render(flow, format) {
    if (format === "json") return flowJson(flow);
    if (format === "yaml") return flowYaml(flow);
    if (!flow.app) throw new Error("A Maestro flow needs the app (its appId): fill in the app.");
    const answer = await this.api(`/sessions/${this.session.id}/export/maestro/`, {
      method: "POST",
      body: JSON.stringify({ name: flow.name, app: flow.app, steps: flow.steps }),
    });
    return flow.maestroComment + answer.flow;
  }

  async checkAndDownload() {
    const flow = this.flow();
    const format = this.$("input[name=export-format]:checked").value;
    const check = this.$("#export-check");
    check.textContent = "Checking with the server…";
    delete check.dataset.valid;
    this.errors([]);
    let text;
    try {
      text = await this.render(flow, format);
    } catch (err) {
      check.textContent = "This flow cannot be written in that form:";
      this.errors([{ message: err.message }]);
      return;
    }
    const extension = { yaml: "flow.yaml", json: "flow.json", maestro: "maestro.yaml" }[format];
    const filename = `${flow.name.replace(/[^\w.-]+/g, "-")}.${extension}`;
    try {
      const env = Object.keys(flow.checkSecrets).length ? { env: flow.checkSecrets } : {};
      const body = { flow: text, filename, dry_run: true, ...env };
      const answer = await this.api("/api/runs/", { method: "POST", body: JSON.stringify(body) });
      check.textContent = `Checked by the server: a valid flow of ${answer.steps_total} step${answer.steps_total === 1 ? "" : "s"}.`;
      check.dataset.valid = "true";
      this.download(filename, text, format === "json" ? "application/json" : "application/yaml");
    } catch (err) {
      check.dataset.valid = "false";
      check.textContent = "The server refused this flow, so it was not downloaded:";
      this.errors(err.body?.errors?.length ? err.body.errors : [{ message: err.message }]);
    }
  }

  // A new session on any free device with the same app, the picked steps queued in order; then go there.
  async runAgain() {
    const flow = this.flow();
    const check = this.$("#export-check");
    this.errors([]);
    if (flow.steps.some((s) => /\$\{SECRET_\d+\}/.test(s.text || ""))) {
      this.errors([{ message: "A picked step types a secret, which is not kept here: untick it or type it again." }]);
      return;
    }
    check.textContent = "Opening a new session…";
    try {
      const session = await this.api("/api/sessions/", {
        method: "POST",
        body: JSON.stringify({
          name: `${flow.name} (again)`.slice(0, 200),
          source: "ide",
          ...(flow.app ? { app: { package: flow.app } } : {}),
        }),
      });
      for (const step of flow.steps) {
        await this.api(`/api/sessions/${session.id}/steps/`, { method: "POST", body: JSON.stringify(step) });
      }
      window.location.assign(`/sessions/${session.id}/`);
    } catch (err) {
      check.textContent = "";
      this.errors([{ message: err.message }]);
    }
  }
}
