"""Flows: a YAML file of steps (SPEC §3 vocabulary) with a header, variables, secrets, control flow and
sub-flows from the same file or from other files. Maestro files are accepted too (`runs.maestro`).

    name: Sign in
    app: com.cognisim.demo
    tags: [smoke]
    env: {EMAIL: demo@example.com}
    secrets: [PASSWORD]          # stay `${PASSWORD}` in the steps; the device's worker fills them in
    flows:                       # named sub-flows, reusable by `run_flow: NAME`
      sign_in:
        - type: {text: "${EMAIL}", into: {id: email}}
    steps:
      - launch_app: {package: com.cognisim.demo, clear_state: true}   # short form
      - run_flow: sign_in                                             # inlined here
      - run_flow: {file: common/logout.yaml, env: {WHO: demo}}        # another file, inlined
      - repeat: {times: 3, steps: [{swipe: {direction: up}}]}         # runs on the worker as one step
      - retry: {max_attempts: 3, steps: [{tap: {id: refresh}}]}
      - run_flow: {when: {visible: {text: Allow}}, steps: [{tap: {text: Allow}}]}
      - {action: tap, id: sign_in, name: Press sign in, optional: true}   # long form, labelled

Every error carries its file, line and column; parsing collects them all and nothing runs if there
is one. Other files come from `files` (path → text, paths relative to the including file's folder),
so the server validates the whole bundle the CLI sends.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.jsonsafe import control_problem
from core.steps import (
    ACTIONS,
    BLOCK_ACTIONS,
    CONDITION_KINDS,
    MAX_ATTEMPTS,
    MAX_TIMES,
    PACKAGE_RE,
    SELECTOR_RELATIONS,
    SELECTOR_STATES,
    StepInvalid,
    step_parse,
)

from .maestro import is_maestro, maestro_translate
from .yamldoc import (
    Where,
    YamlProblem,
    YDict,
    YList,
    header_secrets,
    plain_scalar,
    scalar_text,
    where_of,
    yaml_documents,
)

HEADER_FIELDS = ("name", "app", "tags", "env", "secrets", "flows", "steps")
COMPOUND = BLOCK_ACTIONS  # repeat, retry, run_flow
STEP_COMMON = ("name", "optional", "always")  # fields of a flow step that are not the step request's own
MAX_STEPS = 1000
MAX_DEPTH = 10
MAX_ERRORS = 100  # reported of one flow; each at most MAX_ERROR_CHARS long
MAX_ERROR_CHARS = 500
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
FLOW_FILE_RE = re.compile(r".+\.ya?ml$")
# A run is unattended: nothing would ever answer an ask_user step.
CI_REFUSED = {"ask_user": "ask_user needs a person to answer; a flow runs unattended"}
# Fields (of a step and of its selectors) that hold text: a number or boolean written there is its text.
TEXT_FIELDS = ("text", "id", "desc", "prompt")


@dataclass(frozen=True)
class FlowError:
    line: int
    message: str
    column: int = 0
    file: str = ""  # set when the error is in another file than the one being parsed

    def format(self, filename: str) -> str:
        where = f"{self.file or filename}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.message}"


class FlowInvalid(Exception):
    def __init__(self, filename: str, errors: list[FlowError]) -> None:
        self.filename = filename
        self.errors = errors
        super().__init__("\n".join(e.format(filename) for e in errors))


@dataclass(frozen=True)
class FlowStep:
    data: dict[str, Any]  # the step as POST /api/sessions/{id}/steps/ takes it (compound: inner ones in "steps")
    label: str  # for people: "tap id=sign_in" or the step's own `name`
    line: int
    file: str = ""  # "" for the flow file itself
    optional: bool = False
    always: bool = False
    children: tuple[FlowStep, ...] = ()

    def plan(self) -> dict[str, Any]:
        """What a run keeps of the step to report on it: label, line, file, and its inner steps'."""
        entry: dict[str, Any] = {"label": self.label, "line": self.line}
        if self.file:
            entry["file"] = self.file
        if self.optional:
            entry["optional"] = True
        if self.always:
            entry["always"] = True
        if self.children:
            entry["children"] = [c.plan() for c in self.children]
        return entry


@dataclass
class Flow:
    name: str
    app: str = ""
    tags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # names whose values never leave the worker
    steps: list[FlowStep] = field(default_factory=list)
    syntax: str = "native"  # or "maestro"
    files: list[str] = field(default_factory=list)  # other files it used, in the order they were read


def step_label(data: Mapping[str, Any]) -> str:
    """`tap text=Sign in`: the action and its most telling parameters."""
    action = data.get("action", "?")
    if action == "repeat":
        parts = [f"{data['times']} times"] if "times" in data else []
        parts += [f"while {k} {_selector_words(v)}" for k, v in (data.get("while") or {}).items()]
        return " ".join(["repeat", *parts])[:200]
    if action == "retry":
        return f"retry up to {_count(data.get('max_attempts', '?'), 'attempt')}"
    if action == "run_flow":
        what = data.get("flow") or data.get("file") or _count(len(data.get("steps", [])), "step")
        when = [f"when {k} {_selector_words(v)}" for k, v in (data.get("when") or {}).items()]
        return " ".join(["run_flow", str(what), *when])[:200]
    parts = []
    for key in ("text", "id", "desc", "package", "key", "direction", "ms", "prompt"):
        if key in data:
            parts.append(f"{key}={data[key]}")
    if "index" in data:  # `tap id=item index=2`: not the same step as index 0
        parts.append(f"index={data['index']}")
    if data.get("clear_state") is True:
        parts.append("clear_state=true")
    parts += _narrowing_words(data)
    if "into" in data and isinstance(data["into"], dict):
        parts += [f"into.{k}={v}" for k, v in data["into"].items() if not isinstance(v, dict)]
        parts += [f"into.{word}" for word in _narrowing_words(data["into"])]
    if "x" in data and "y" in data:
        parts.append(f"at {data['x']},{data['y']}")
    return " ".join([str(action), *parts])[:200]


def _count(number: Any, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _narrowing_words(selector: Mapping[str, Any]) -> list[str]:
    """A selector's states and relations in a label: `checked=true`, `below(text=Wi-Fi)`."""
    words = [f"{k}={str(selector[k]).lower()}" for k in SELECTOR_STATES if k in selector]
    words += [f"{k}({_selector_words(selector[k])})" for k in SELECTOR_RELATIONS if k in selector]
    return words


def _selector_words(selector: Any) -> str:
    if not isinstance(selector, dict):
        return str(selector)
    plain = [f"{k}={v}" for k, v in selector.items() if k not in (*SELECTOR_STATES, *SELECTOR_RELATIONS)]
    return " ".join([*plain, *_narrowing_words(selector)])


def _field_where(params: Any, dotted: str, default: Where) -> Where:
    """Where a (dotted) field of a step stands in the file; `default` when it is not there."""
    current, where = params, default
    for part in dotted.split("."):
        if not isinstance(current, YDict) or part not in current:
            return where
        where = current.at(part)
        current = current[part]
    return where


def _resolve(including: str, path: str) -> str:
    """A file named by `run_flow: {file: …}`, relative to the folder of the file that names it."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(including), path))


@dataclass
class _Scope:
    """Where steps are being read: which file, which variables, which named sub-flows."""

    file: str  # "" for the main file
    path: str  # the file's path (for resolving relative paths)
    env: dict[str, str]
    subflows: dict[str, Any]
    stack: tuple[str, ...]  # sub-flow names and file paths being expanded, to refuse cycles


class _Parser:
    def __init__(
        self, *, filename: str, env: Mapping[str, str], secrets: Mapping[str, str], files: Mapping[str, str]
    ) -> None:
        self.filename = filename
        self.caller_env = dict(env)
        self.secret_values = dict(secrets)
        self.secret_names: set[str] = set(secrets)
        self.files = {posixpath.normpath(k): v for k, v in files.items()}
        self.errors: list[FlowError] = []
        self.steps_read = 0
        self.used_files: list[str] = []
        self.syntax = "native"
        self.values_later = False  # variables without a value are kept as written, not refused
        self.maestro_files: set[str] = set()  # "" for the main file: Maestro passes a flow with nothing to do

    def error(self, scope_file: str, where: Where, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            if len(message) > MAX_ERROR_CHARS:
                message = message[: MAX_ERROR_CHARS - 1] + "…"
            self.errors.append(FlowError(where[0], message, where[1], scope_file))

    # documents ---------------------------------------------------------------------------------
    def document(self, text: str, file: str) -> YDict | None:
        """The native document of a file (Maestro files are translated), or None after errors."""
        try:
            documents = yaml_documents(text)
        except YamlProblem as exc:
            self.error(file, (exc.line, exc.column), exc.message)
            return None
        if is_maestro(documents):
            self.maestro_files.add(file)
            if not file:
                self.syntax = "maestro"
            native, problems = maestro_translate(documents)
            for problem in problems:
                self.error(file, problem.where, problem.message)
            # The commands that did translate are still checked, so one stage's problems hide no other's.
            return native if "steps" in native else None
        if len(documents) != 1 or not isinstance(documents[0], YDict):
            where = where_of(documents[0]) if documents else (1, 1)
            self.error(
                file, where, "a flow is a mapping with 'name' and 'steps' (or a Maestro file: appId, ---, commands)."
            )
            return None
        return documents[0]

    def header(self, doc: YDict, file: str) -> dict[str, Any]:
        for key in doc:
            if key not in HEADER_FIELDS:
                self.error(file, doc.at(key), f"Unknown field '{key}'; a flow has: {', '.join(HEADER_FIELDS)}.")
        head: dict[str, Any] = {}
        for key, kind, default in (
            ("name", str, ""),
            ("app", str, ""),
            ("tags", list, []),
            ("env", dict, {}),
            ("secrets", list, []),
            ("flows", dict, {}),
        ):
            value = doc.get(key)
            if value is not None and not isinstance(value, kind):
                self.error(file, doc.at(key), f"'{key}' must be {'a string' if kind is str else f'a {kind.__name__}'}.")
                value = None
            head[key] = default if value is None else value
        if head["name"] and (problem := control_problem("name", head["name"])):
            self.error(file, doc.at("name"), problem)
            head["name"] = ""
        if head["app"] and not PACKAGE_RE.match(head["app"]) and not VAR_RE.search(head["app"]):
            self.error(file, doc.at("app"), "'app' is not a valid Android package name (like com.example.app).")
        for key in ("tags", "secrets"):
            if not all(isinstance(t, str) for t in head[key]):
                self.error(file, doc.at(key), f"'{key}' must be a list of strings.")
                head[key] = []
        for name in head["secrets"]:
            if not VAR_RE.fullmatch(f"${{{name}}}"):
                self.error(file, doc.at("secrets"), f"secret '{name}': names are letters, digits and _.")
        env = head["env"]
        for key, value in env.items():
            if not VAR_RE.fullmatch(f"${{{key}}}") or isinstance(value, dict | list):
                self.error(
                    file,
                    env.at(key) if isinstance(env, YDict) else doc.at("env"),
                    f"env '{key}': names are letters, digits and _; values are scalars.",
                )
        head["env"] = {str(k): scalar_text(v) for k, v in env.items()}
        for key in head["flows"]:
            if not NAME_RE.match(str(key)):
                flows = head["flows"]
                self.error(
                    file,
                    flows.at(key) if isinstance(flows, YDict) else doc.at("flows"),
                    f"sub-flow name '{key}' must be letters, digits, _, - or .",
                )
        return head

    # variables ---------------------------------------------------------------------------------
    def substitute(self, value: Any, scope: _Scope, where: Where, context: str) -> Any:
        if isinstance(value, str):

            def one(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in self.secret_names:
                    if name not in self.secret_values and not self.values_later:
                        self.error(
                            scope.file,
                            where,
                            f"{context}: the secret '${{{name}}}' has no value; give it one (the environment variable "
                            f"{name} or -e {name}=… with the CLI, `secrets` or `env` in a request); it stays masked.",
                        )
                    elif self.secret_values.get(name) == "":
                        self.error(
                            scope.file,
                            where,
                            f"{context}: the secret '${{{name}}}' is empty; give it a value (a CI secret that is not "
                            "set, as in a pull request from a fork or under a misspelt name, arrives empty).",
                        )
                    return match.group(0)  # filled in on the device's worker, never stored
                if name not in scope.env:
                    if self.values_later:
                        return match.group(0)
                    self.error(
                        scope.file,
                        where,
                        f"{context}: unknown variable '${{{name}}}'; define it under 'env:' or pass -e.",
                    )
                    return match.group(0)
                return scope.env[name]

            return VAR_RE.sub(one, value)
        if isinstance(value, YDict):
            out = YDict({k: self.substitute(v, scope, value.at(k), context) for k, v in value.items()})
            out.where, out.keys_at = value.where, value.keys_at
            return out
        if isinstance(value, dict):
            return {k: self.substitute(v, scope, where, context) for k, v in value.items()}
        if isinstance(value, YList):
            items = YList(self.substitute(v, scope, value.at(n), context) for n, v in enumerate(value))
            items.where, items.items_at = value.where, value.items_at
            return items
        if isinstance(value, list):
            return [self.substitute(v, scope, where, context) for v in value]
        return value

    # steps -------------------------------------------------------------------------------------
    def normalize(self, item: Any, where: Where, scope: _Scope, context: str) -> YDict | None:
        """The long form `{action: tap, …}` of a step written long, short (`tap: {…}`) or bare (`screenshot`)."""
        if isinstance(item, str):
            if item in ACTIONS or item in COMPOUND:
                step = YDict(action=item)
                step.where, step.keys_at = where, {"action": where}
                return step
            self.error(
                scope.file,
                where,
                f"{context}: unknown action '{item}'. Known actions: {', '.join([*ACTIONS, *COMPOUND])}.",
            )
            return None
        if not isinstance(item, dict):
            self.error(
                scope.file,
                where,
                f"{context}: a step is a mapping like 'tap: {{text: OK}}' or '{{action: tap, text: OK}}'.",
            )
            return None
        if "action" in item:
            return item if isinstance(item, YDict) else self._ydict(item, where)
        actions = [k for k in item if k not in (*STEP_COMMON, "timeout_ms", "max_retries", "backoff")]
        if len(actions) != 1:
            names = ", ".join(f"'{a}'" for a in actions) or "none"
            self.error(scope.file, where, f"{context}: a step names one action (found {names}).")
            return None
        action = actions[0]
        at = item.at(action) if isinstance(item, YDict) else where
        if action not in ACTIONS and action not in COMPOUND:
            self.error(
                scope.file,
                at,
                f"{context}: unknown action '{action}'. Known actions: {', '.join([*ACTIONS, *COMPOUND])}.",
            )
            return None
        params = item[action]
        extra = {k: v for k, v in item.items() if k != action}
        if action == "run_flow" and isinstance(params, str):
            params = {"file" if FLOW_FILE_RE.match(params) else "flow": params}
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.error(
                scope.file,
                at,
                f"{context} ({action}): the short form takes a mapping of fields, like '{action}: {{…}}'.",
            )
            return None
        step = YDict({"action": action, **params, **extra})
        step.where = where
        step.keys_at = {
            **(item.keys_at if isinstance(item, YDict) else {}),
            **(params.keys_at if isinstance(params, YDict) else {}),
        }
        return step

    @staticmethod
    def _ydict(item: dict[str, Any], where: Where) -> YDict:
        step = YDict(item)
        step.where, step.keys_at = where, {}
        return step

    def steps(self, items: Any, where: Where, scope: _Scope, context: str, depth: int) -> list[FlowStep]:
        if not isinstance(items, list):
            self.error(scope.file, where, f"{context}: must be a list of steps.")
            return []
        out: list[FlowStep] = []
        for number, item in enumerate(items, start=1):
            at = items.at(number - 1) if isinstance(items, YList) else where
            label_context = f"{context} step {number}" if context != "steps" else f"step {number}"
            step = self.normalize(item, at, scope, label_context)
            if step is None:
                continue
            out.extend(self.step(step, scope, label_context, depth))
            if self.steps_read > MAX_STEPS:
                self.error(scope.file, at, f"A flow has at most {MAX_STEPS} steps.")
                return out
        return out

    def step(self, step: YDict, scope: _Scope, context: str, depth: int) -> list[FlowStep]:
        action = step.get("action")
        context = f"{context} ({action})" if isinstance(action, str) else context
        name = step.get("name")
        if name is not None and not isinstance(name, str):
            self.error(scope.file, step.at("name"), f"{context}: 'name' must be a string.")
            return []
        if name and (problem := control_problem("name", name)):
            self.error(scope.file, step.at("name"), f"{context}: {problem}")
            return []
        marks = {key: step.get(key, False) for key in ("optional", "always")}
        for key, value in marks.items():
            if not isinstance(value, bool):
                self.error(scope.file, step.at(key), f"{context}: '{key}' must be true or false.")
                return []
        if action == "run_flow" and "when" not in step:  # the sub-flow's steps take its place, and its marks
            return [_marked(s, **marks) for s in self.inline(step, scope, context, depth)]
        built = self.compound(step, scope, context, depth) if action in COMPOUND else self.leaf(step, scope, context)
        if built is None:
            return []
        data, children = built
        self.steps_read += 1
        label = name or step_label({**data, **{k: step[k] for k in ("file", "flow") if k in step}})
        flow_step = FlowStep(data=data, label=label, line=step.where[0], file=scope.file, children=children)
        return [_marked(flow_step, **marks)]

    def leaf(self, step: YDict, scope: _Scope, context: str) -> tuple[dict[str, Any], tuple[FlowStep, ...]] | None:
        action = step.get("action")
        data = _texts({k: v for k, v in step.items() if k not in STEP_COMMON})
        data = self.substitute(data, scope, step.where, context)
        text = data.get("text")
        if action == "type" and isinstance(text, str) and any(n in self.secret_names for n in VAR_RE.findall(text)):
            data["secret"] = True  # the typed text is kept out of events, listings and exports too
        if isinstance(action, str) and action in CI_REFUSED:
            self.error(scope.file, step.where, f"{context}: {CI_REFUSED[action]}.")
            return None
        try:
            step_parse(_plain(data))
        except StepInvalid as exc:
            where = step.where if exc.field == "action" else _field_where(step, exc.field, step.where)
            self.error(scope.file, where, f"{context}: {exc.message}")
            return None
        return _plain(data), ()

    def _condition(self, value: Any, where: Where, scope: _Scope, context: str) -> dict[str, Any] | None:
        if not isinstance(value, dict) or not value or not set(value) <= set(CONDITION_KINDS):
            self.error(
                scope.file,
                where,
                f"{context}: a condition is {{visible: SELECTOR}}, {{not_visible: SELECTOR}} or both (both must hold).",
            )
            return None
        condition = {}
        for kind, selector in value.items():
            selector = self.substitute(_texts(selector), scope, where, context)
            try:
                step_parse(_plain({"action": "assert_visible", **(selector if isinstance(selector, dict) else {})}))
            except StepInvalid as exc:
                self.error(scope.file, where, f"{context} ({kind}): {exc.message}")
                return None
            condition[kind] = _plain(selector)
        return condition

    def _number(self, step: YDict, key: str, low: int, high: int, scope: _Scope, context: str) -> int | None:
        value = step.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.error(scope.file, step.at(key), f"{context}: '{key}' must be a whole number from {low} to {high}.")
            return None
        return value

    def compound(
        self, step: YDict, scope: _Scope, context: str, depth: int
    ) -> tuple[dict[str, Any], tuple[FlowStep, ...]] | None:
        action = step["action"]
        allowed = {
            "repeat": {"times", "while", "steps"},
            "retry": {"max_attempts", "steps"},
            "run_flow": {"when", "steps", "flow", "file", "env"},
        }[action] | {"action", "timeout_ms", *STEP_COMMON}
        unknown = [k for k in step if k not in allowed]
        for key in unknown:
            self.error(scope.file, step.at(key), f"{context}: Unknown field '{key}' for '{action}'.")
        if unknown:
            return None
        if depth >= MAX_DEPTH:
            self.error(scope.file, step.where, f"{context}: control flow nests at most {MAX_DEPTH} deep.")
            return None
        data: dict[str, Any] = {"action": action}
        ok = True
        if action == "repeat":
            if "times" not in step and "while" not in step:
                self.error(scope.file, step.where, f"{context}: give 'times', 'while', or both.")
                ok = False
            if "times" in step:
                data["times"] = self._number(step, "times", 1, MAX_TIMES, scope, context)
                ok = ok and data["times"] is not None
            if "while" in step:
                data["while"] = self._condition(step["while"], step.at("while"), scope, context)
                ok = ok and data["while"] is not None
        elif action == "retry":
            data["max_attempts"] = self._number(step, "max_attempts", 1, MAX_ATTEMPTS, scope, context)
            ok = data["max_attempts"] is not None
        else:
            data["when"] = self._condition(step["when"], step.at("when"), scope, context)
            ok = data["when"] is not None
        if "timeout_ms" in step:
            data["timeout_ms"] = step["timeout_ms"]
        if action == "run_flow" and "steps" not in step:
            children = tuple(self.inline(step, scope, context, depth + 1, nested=True))
        elif "steps" not in step:
            self.error(scope.file, step.where, f"{context}: 'steps' (the list of steps to run) is required.")
            return None
        else:
            inner = self.with_env(step, scope, context) if action == "run_flow" else scope
            if inner is None:
                return None
            children = tuple(self.steps(step["steps"], step.at("steps"), inner, context, depth + 1))
        if not children:
            if not self.errors:
                self.error(scope.file, step.at("steps"), f"{context}: 'steps' must be a non-empty list.")
            return None
        if not ok:
            return None
        data["steps"] = [c.data for c in children]
        data = _plain(data)
        try:  # the limits of control flow (nesting, steps in all) are the step schema's
            step_parse(data)
        except StepInvalid as exc:
            self.error(scope.file, step.where, f"{context}: {exc.message}")
            return None
        return data, children

    def inline(self, step: YDict, scope: _Scope, context: str, depth: int, nested: bool = False) -> list[FlowStep]:
        """`run_flow` without a condition: the sub-flow's steps take its place (from this file or another)."""
        extra = [k for k in step if k not in ("action", "flow", "file", "steps", "env", "when", *STEP_COMMON)]
        for key in extra:
            self.error(scope.file, step.at(key), f"{context}: Unknown field '{key}' for 'run_flow'.")
        if ("flow" in step) == ("file" in step) and "steps" not in step:
            self.error(
                scope.file,
                step.where,
                f"{context}: give the sub-flow's name (flow: NAME), a file (file: other.yaml), or steps.",
            )
            return []
        if extra:
            return []
        if "steps" in step:  # run_flow {steps: […], env?} without `when`: just those steps
            inner = self.with_env(step, scope, context)
            return [] if inner is None else self.steps(step["steps"], step.at("steps"), inner, context, depth + 1)
        if len(scope.stack) >= MAX_DEPTH:
            self.error(scope.file, step.where, f"{context}: sub-flows nest at most {MAX_DEPTH} deep.")
            return []
        if "flow" in step:
            name = step["flow"]
            if "env" in step:
                self.error(scope.file, step.at("env"), f"{context}: 'env' is for sub-flows in other files.")
            if not isinstance(name, str) or name not in scope.subflows:
                known = ", ".join(sorted(scope.subflows)) or "none"
                self.error(scope.file, step.where, f"{context}: no sub-flow '{name}' under 'flows:' (known: {known}).")
                return []
            if name in scope.stack:
                self.error(
                    scope.file, step.where, f"{context}: '{name}' runs itself ({' → '.join([*scope.stack, name])})."
                )
                return []
            sub = _Scope(scope.file, scope.path, scope.env, scope.subflows, (*scope.stack, name))
            items = scope.subflows[name]
            flows = scope.subflows
            at = flows.at(name) if isinstance(flows, YDict) else step.where
            return self.steps(items, where_of(items, at), sub, f"flows.{name}", depth)
        return self.include_file(step, scope, context, depth)

    def passed_env(self, step: YDict, scope: _Scope, context: str) -> dict[str, str] | None:
        """The `env` a `run_flow` gives, its values read with the variables where it stands; None after an error."""
        env_value = step.get("env") or {}
        if not isinstance(env_value, dict):
            self.error(scope.file, step.at("env"), f"{context}: 'env' must be a mapping of names to values.")
            return None
        for key, value in env_value.items():
            if not VAR_RE.fullmatch(f"${{{key}}}") or isinstance(value, dict | list):
                at = env_value.at(key) if isinstance(env_value, YDict) else step.at("env")
                self.error(
                    scope.file, at, f"{context}: env '{key}': names are letters, digits and _; values are scalars."
                )
                return None
        return {
            str(k): str(self.substitute(scalar_text(v), scope, step.at("env"), context)) for k, v in env_value.items()
        }

    def with_env(self, step: YDict, scope: _Scope, context: str) -> _Scope | None:
        """The scope of a `run_flow`'s own `steps`: its `env` over the variables where it stands."""
        if "env" not in step:
            return scope
        passed = self.passed_env(step, scope, context)
        if passed is None:
            return None
        return _Scope(scope.file, scope.path, {**scope.env, **passed}, scope.subflows, scope.stack)

    def include_file(self, step: YDict, scope: _Scope, context: str, depth: int) -> list[FlowStep]:
        ref = step["file"]
        if not isinstance(ref, str) or not FLOW_FILE_RE.match(ref):
            self.error(scope.file, step.at("file"), f"{context}: 'file' must name a .yaml file.")
            return []
        if VAR_RE.search(ref):  # `${DIR}/login.yaml`: the variables where the run_flow stands
            secret = [n for n in VAR_RE.findall(ref) if n in self.secret_names]
            if secret:
                self.error(
                    scope.file, step.at("file"), f"{context}: a file's path cannot use the secret '{secret[0]}'."
                )
                return []
            errors = len(self.errors)
            ref = self.substitute(ref, scope, step.at("file"), context)
            if len(self.errors) > errors:
                return []
            if VAR_RE.search(ref):  # values come later (`cognisim convert`): the file cannot be read now
                return []
        path = _resolve(scope.path, ref)
        if path in scope.stack or path == posixpath.normpath(self.filename):
            chain = " → ".join([*(s for s in scope.stack if FLOW_FILE_RE.match(s)), path])
            self.error(scope.file, step.at("file"), f"{context}: '{ref}' runs itself ({chain}).")
            return []
        if path not in self.files:
            self.error(
                scope.file,
                step.at("file"),
                f"{context}: the file '{ref}' ({path}) was not sent with the flow; pass it in 'files' (the CLI does).",
            )
            return []
        if path not in self.used_files:
            self.used_files.append(path)
        doc = self.document(self.files[path], path)
        if doc is None:
            return []
        head = self.header(doc, path)
        passed = self.passed_env(step, scope, context)
        if passed is None:
            return []
        env = {**scope.env, **head["env"], **self.caller_env, **passed}
        sub = _Scope(path, path, env, head["flows"], (*scope.stack, path))
        if path in self.maestro_files and isinstance(doc.get("steps"), list) and not doc["steps"]:
            return []  # every command of the Maestro file translates to nothing: it runs nothing, as in Maestro
        if "steps" not in doc or not doc["steps"]:
            self.error(path, doc.where, "'steps' must be a non-empty list of steps.")
            return []
        return self.steps(doc["steps"], doc.at("steps"), sub, "steps", depth)


def _plain(value: Any) -> Any:
    """Plain dicts, lists and numbers (what JSON and the step schema see)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return plain_scalar(value)


def _marked(step: FlowStep, *, optional: bool, always: bool) -> FlowStep:
    """The step, made `optional` and/or `always` where its flow says so (a mark is never taken away)."""
    optional, always = optional or step.optional, always or step.always
    data = {**step.data, **({"optional": True} if optional else {}), **({"always": True} if always else {})}
    return replace(step, data=data, optional=optional, always=always)


def _texts(value: Any) -> Any:
    """A step or selector whose text fields (`text`, `id` … at any depth of its selectors) are text as written:
    `text: 0123` types "0123", `text: true` "true" (a YAML number or boolean there means its words)."""
    if not isinstance(value, dict):
        return value
    out = {
        k: scalar_text(v) if k in TEXT_FIELDS and isinstance(v, int | float) else _texts(v) for k, v in value.items()
    }
    if isinstance(value, YDict):
        typed = YDict(out)
        typed.where, typed.keys_at = value.where, value.keys_at
        return typed
    return out


def flow_parse(
    text: str,
    *,
    filename: str = "flow.yaml",
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    values_later: bool = False,
) -> Flow:
    """Parse and validate a flow (and the files it runs); `env` overrides the flows' own variables.

    `secrets` are values of variables that stay `${NAME}` in the steps (as do those a file's header
    lists under `secrets:`; their values come in `env` or `secrets`). With `values_later` (a flow
    checked before anyone gives its variables, as `cognisim convert` does) a variable without a value
    stays `${NAME}` too instead of being an error. Raises FlowInvalid.
    """
    parser = _Parser(filename=filename, env=env or {}, secrets=secrets or {}, files=files or {})
    parser.values_later = values_later
    doc = parser.document(text, "")
    if doc is None:
        raise FlowInvalid(filename, parser.errors)
    head = parser.header(doc, "")
    flow = Flow(
        name=head["name"] or filename.rsplit("/", 1)[-1],
        app=head["app"],
        tags=[str(t) for t in head["tags"]],
        env=head["env"],
        syntax=parser.syntax,
    )
    parser.secret_names.update(head["secrets"], *(header_secrets(t) for t in parser.files.values()))
    # A secret's value may come with the ordinary variables (`-e PASSWORD=…` and `secrets: [PASSWORD]`).
    parser.secret_values.update({k: v for k, v in parser.caller_env.items() if k in parser.secret_names})
    scope = _Scope("", posixpath.normpath(filename), {**flow.env, **parser.caller_env}, head["flows"], ())
    if "steps" not in doc:
        parser.error("", doc.where, "'steps' is required: the list of steps to run.")
    elif not doc["steps"] and "" not in parser.maestro_files:  # a Maestro flow may have nothing to do
        parser.error("", doc.at("steps"), "'steps' must be a non-empty list of steps.")
    else:
        flow.steps = parser.steps(doc["steps"], doc.at("steps"), scope, "steps", 0)
    if flow.app and VAR_RE.search(flow.app):
        flow.app = parser.substitute(flow.app, scope, doc.at("app"), "app")
        if flow.app and not PACKAGE_RE.match(flow.app):
            parser.error("", doc.at("app"), "'app' is not a valid Android package name (like com.example.app).")
    if parser.errors:
        unique = sorted(set(parser.errors), key=lambda e: (e.file != "", e.file, e.line, e.column, e.message))
        raise FlowInvalid(filename, unique)
    flow.secrets = sorted(parser.secret_names)
    flow.env = {k: v for k, v in flow.env.items() if k not in parser.secret_names}
    flow.files = parser.used_files
    return flow


def flow_secret_values(flow: Flow, *, env: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
    """The values of the flow's secret variables, from `secrets` or (named as secrets) `env`."""
    return {name: secrets.get(name, env.get(name, "")) for name in flow.secrets if name in secrets or name in env}
