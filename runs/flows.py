"""Flows: a YAML file of steps (SPEC §3 vocabulary) with a header, env variables and named sub-flows.

    name: Sign in
    app: com.cognisim.demo
    tags: [smoke]
    env: {EMAIL: demo@example.com}
    flows:                       # named sub-flows, reusable by `run_flow: NAME`
      sign_in:
        - type: {text: "${EMAIL}", into: {id: email}}
    steps:
      - launch_app: {package: com.cognisim.demo, clear_state: true}   # short form
      - run_flow: sign_in
      - {action: tap, id: sign_in, name: Press sign in}               # long form, with a label

Every error carries the line it is on; parsing collects them all and nothing runs if there is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from core.steps import ACTIONS, PACKAGE_RE, StepInvalid, step_parse

HEADER_FIELDS = ("name", "app", "tags", "env", "flows", "steps")
MAX_STEPS = 1000
MAX_DEPTH = 10
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A run is unattended: nothing would ever answer an ask_user step.
CI_REFUSED = {"ask_user": "ask_user needs a person to answer; a flow runs unattended"}


@dataclass(frozen=True)
class FlowError:
    line: int
    message: str

    def format(self, filename: str) -> str:
        return f"{filename}:{self.line}: {self.message}"


class FlowInvalid(Exception):
    def __init__(self, filename: str, errors: list[FlowError]) -> None:
        self.filename = filename
        self.errors = errors
        super().__init__("\n".join(e.format(filename) for e in errors))


@dataclass(frozen=True)
class FlowStep:
    data: dict[str, Any]  # the step as POST /api/sessions/{id}/steps/ takes it
    label: str  # for people: "3 tap id=sign_in" or the step's own `name`
    line: int


@dataclass
class Flow:
    name: str
    app: str = ""
    tags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    steps: list[FlowStep] = field(default_factory=list)


def step_label(data: dict[str, Any]) -> str:
    """`tap text=Sign in`: the action and its most telling parameters."""
    action = data.get("action", "?")
    parts = []
    for key in ("text", "id", "desc", "package", "key", "direction", "ms", "prompt"):
        if key in data:
            parts.append(f"{key}={data[key]}")
    if "into" in data and isinstance(data["into"], dict):
        parts += [f"into.{k}={v}" for k, v in data["into"].items()]
    if "x" in data and "y" in data:
        parts.append(f"at {data['x']},{data['y']}")
    return " ".join([str(action), *parts])[:200]


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _key_node(node: MappingNode, name: str) -> Node | None:
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value == name:
            return value
    return None


def _key_line(node: Node, dotted: str, *, default: int) -> int:
    """The line of a (dotted) field inside a step's mapping node; `default` (the step's line) when it is absent."""
    current = node
    for part in dotted.split("."):
        if not isinstance(current, MappingNode):
            return default
        for key, value in current.value:
            if isinstance(key, ScalarNode) and key.value == part:
                current = value if isinstance(value, MappingNode) else key
                break
        else:
            return default
    return _line(current)


class _Parser:
    def __init__(self, root: MappingNode, data: dict[str, Any], env: dict[str, str]) -> None:
        self.root, self.data, self.env = root, data, env
        self.errors: list[FlowError] = []
        self.steps: list[FlowStep] = []
        self.subflows: dict[str, tuple[SequenceNode, list[Any]]] = {}

    def error(self, node: Node, message: str, *, line: int | None = None) -> None:
        self.errors.append(FlowError(line or _line(node), message))

    def substitute(self, value: Any, node: Node, where: str) -> Any:
        if isinstance(value, str):

            def one(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in self.env:
                    self.error(node, f"{where}: unknown variable '${{{name}}}'; define it under 'env:'.")
                    return match.group(0)
                return self.env[name]

            return VAR_RE.sub(one, value)
        if isinstance(value, dict):
            return {k: self.substitute(v, node, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, node, where) for v in value]
        return value

    def normalize(self, node: Node, item: Any, where: str) -> tuple[dict[str, Any] | None, Node]:
        """The long form `{action: tap, …}` of a step given in long, short (`tap: {…}`) or bare (`screenshot`) form."""
        if isinstance(item, str) and item in ACTIONS:
            return {"action": item}, node
        if not isinstance(item, dict):
            self.error(
                node, f"{where}: a step must be a mapping like '{{action: tap, text: OK}}' or 'tap: {{text: OK}}'."
            )
            return None, node
        if "action" in item or "run_flow" in item:
            return dict(item), node
        if len(item) == 1:
            action, params = next(iter(item.items()))
            value_node = node.value[0][1] if isinstance(node, MappingNode) else node
            if params is None:
                params = {}
            if not isinstance(params, dict):
                self.error(
                    value_node,
                    f"{where} ({action}): the short form takes a mapping of fields, like 'tap: {{text: OK}}'.",
                )
                return None, node
            return {"action": action, **params}, value_node
        self.error(node, f"{where}: 'action' is required.")
        return None, node

    def expand(self, seq_node: Node, items: Any, where: str, stack: tuple[str, ...]) -> None:
        if not isinstance(items, list) or not isinstance(seq_node, SequenceNode):
            self.error(seq_node, f"{where}: must be a list of steps.")
            return
        for number, (node, item) in enumerate(zip(seq_node.value, items, strict=True), start=1):
            label_where = f"{where} step {number}" if where != "steps" else f"step {number}"
            step, fields_node = self.normalize(node, item, label_where)
            if step is None:
                continue
            if "run_flow" in step:
                self.include(node, step, label_where, stack)
                continue
            self.add_step(node, fields_node, step, label_where)
            if len(self.steps) > MAX_STEPS:
                self.error(node, f"A flow has at most {MAX_STEPS} steps.")
                return

    def include(self, node: Node, step: dict[str, Any], where: str, stack: tuple[str, ...]) -> None:
        name = step["run_flow"]
        if set(step) != {"run_flow"}:
            self.error(node, f"{where} (run_flow): takes only the sub-flow's name.")
        elif not isinstance(name, str) or name not in self.subflows:
            known = ", ".join(sorted(self.subflows)) or "none"
            self.error(node, f"{where} (run_flow): no sub-flow '{name}' under 'flows:' (known: {known}).")
        elif name in stack or len(stack) >= MAX_DEPTH:
            self.error(node, f"{where} (run_flow): '{name}' runs itself ({' → '.join([*stack, name])}).")
        else:
            sub_node, sub_items = self.subflows[name]
            self.expand(sub_node, sub_items, f"flows.{name}", (*stack, name))

    def add_step(self, node: Node, fields_node: Node, step: dict[str, Any], where: str) -> None:
        action = step.get("action")
        where = f"{where} ({action})" if isinstance(action, str) else where
        label = step.pop("name", None)
        if label is not None and not isinstance(label, str):
            self.error(node, f"{where}: 'name' must be a string.")
            return
        step = self.substitute(step, node, where)
        if isinstance(action, str) and action in CI_REFUSED:
            self.error(node, f"{where}: {CI_REFUSED[action]}.")
            return
        try:
            step_parse(step)
        except StepInvalid as exc:
            self.error(
                fields_node, f"{where}: {exc.message}", line=_key_line(fields_node, exc.field, default=_line(node))
            )
            return
        index = len(self.steps) + 1
        self.steps.append(FlowStep(data=step, label=label or f"{index} {step_label(step)}", line=_line(node)))


def _header(parser: _Parser, name: str, kind: type, default: Any) -> Any:
    value = parser.data.get(name, default)
    node = _key_node(parser.root, name)
    if value is not None and not isinstance(value, kind):
        parser.error(node or parser.root, f"'{name}' must be {'a string' if kind is str else f'a {kind.__name__}'}.")
        return default
    return default if value is None else value


def flow_parse(text: str, *, filename: str = "flow.yaml", env: dict[str, str] | None = None) -> Flow:
    """Parse and validate a flow; `env` overrides the flow's own variables. Raises FlowInvalid."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise FlowInvalid(filename, [FlowError(line, f"not valid YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise FlowInvalid(filename, [FlowError(1, f"not valid YAML: {exc}")]) from None
    if not isinstance(root, MappingNode) or not isinstance(data, dict):
        raise FlowInvalid(filename, [FlowError(1, "a flow is a mapping with 'name' and 'steps'.")])

    parser = _Parser(root, data, {})
    for key, _ in root.value:
        if key.value not in HEADER_FIELDS:
            parser.error(key, f"Unknown field '{key.value}'; a flow has: {', '.join(HEADER_FIELDS)}.")
    flow = Flow(name=_header(parser, "name", str, "") or filename.rsplit("/", 1)[-1])
    flow.app = _header(parser, "app", str, "")
    if flow.app and not PACKAGE_RE.match(flow.app):
        parser.error(
            _key_node(root, "app") or root, "'app' is not a valid Android package name (like com.example.app)."
        )
    tags = _header(parser, "tags", list, [])
    if not all(isinstance(t, str) for t in tags):
        parser.error(_key_node(root, "tags") or root, "'tags' must be a list of strings.")
    flow.tags = [str(t) for t in tags]
    variables = _header(parser, "env", dict, {})
    for key, value in variables.items():
        if not isinstance(key, str) or not VAR_RE.fullmatch(f"${{{key}}}") or isinstance(value, dict | list):
            parser.error(
                _key_node(root, "env") or root, f"env '{key}': names are letters, digits and _; values are scalars."
            )
    flow.env = {str(k): "" if v is None else str(v) for k, v in variables.items()}
    parser.env = {**flow.env, **(env or {})}

    subflows = _header(parser, "flows", dict, {})
    flows_node = _key_node(root, "flows")
    if isinstance(flows_node, MappingNode):
        for key, value_node in flows_node.value:
            if not NAME_RE.match(str(key.value)):
                parser.error(key, f"sub-flow name '{key.value}' must be letters, digits, _, - or .")
            parser.subflows[str(key.value)] = (value_node, subflows.get(key.value))

    steps_node = _key_node(root, "steps")
    if steps_node is None:
        parser.error(root, "'steps' is required: the list of steps to run.")
    elif not data.get("steps"):
        parser.error(steps_node, "'steps' must be a non-empty list of steps.")
    else:
        parser.expand(steps_node, data["steps"], "steps", ())
    if parser.errors:
        raise FlowInvalid(filename, sorted(set(parser.errors), key=lambda e: (e.line, e.message)))
    flow.steps = parser.steps
    return flow
