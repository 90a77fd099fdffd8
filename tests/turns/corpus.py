"""Instruction sets for the brains, and the judge that scores a brain on them by outcome.

Two files share one format (documented at the top of each): the training corpus
`corpus.yaml`, which the planner is tuned on, and the held-out set `heldout.yaml`, written by
someone who never saw the planner and never tuned on. A case names a screen (setup steps run
on a fresh simulated phone), an instruction, what must happen (`expect`: act, ask, refuse or
check_fails) and what the phone must look like afterwards (`then`).

The judge plays the turn pipeline: it plans the instruction against the phone's screen, runs
the steps on the phone, and plans what `remaining` is left against the new screen, up to the
pipeline's limit. A question ends the turn as "ask", a refusal as "refuse", a failed check
step as "check_fails"; any other failed step as "step_fails". Then it compares.

The training corpus also allows, for screens a phone cannot show, `{xml: …}` (a hand-written
dump) or null (no dump), and per case `steps` (the exact first plan) and `says` (words its
summary or refusal message must contain). The judge ignores them; the unit tests check them. A
training case may also give `answer`: what the user answers the first question the turn asks; the
judge then plans `answered(remaining, answer)` on the screen as it is, as the pipeline does, and
judges the turn's end.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.steps import StepInvalid, step_parse
from devices.actions import perform
from devices.drivers.base import DeviceError
from devices.drivers.sim import SimDriver, reset_sim_device
from devices.uitree import parse as parse_ui
from turns.brains import Brain, BrainError, Plan, answered

HERE = Path(__file__).parent
TRAINING = HERE / "corpus.yaml"
HELDOUT = HERE / "heldout.yaml"

MAX_ROUNDS = 5
"""Plans per turn, as in the turn pipeline (`turns.services.MAX_REPLANS`)."""
WAIT_CAP_MS = 1000
"""Longest wait of a check (assert_visible, assert_not_visible, wait_for): the simulated phone changes only when a
step acts on it, so what a check does not see at once never comes."""
CHECKS = ("assert_visible", "assert_not_visible", "wait_for")
EXPECTS = ("act", "ask", "refuse", "check_fails")
CODES = ("not_understood", "not_on_screen", "unsupported", "needs_value")
SERIAL = "judge"


@dataclass(frozen=True)
class Case:
    number: int
    screen: str
    text: str
    style: str
    expect: str
    then: dict[str, Any]
    code: str | None = None
    steps: list[dict[str, Any]] | None = None
    """Training only: the exact steps of the first plan."""
    says: str | None = None
    """Training only: words the first plan's summary (or the refusal's message) contains."""
    answer: str | None = None
    """Training only: the user's answer to the turn's first question."""

    @property
    def id(self) -> str:
        return f"{self.number:03d}-{self.screen}-{self.text[:48]}"


@dataclass
class Suite:
    name: str
    cases: list[Case]
    specs: dict[str, Any]
    """Screen name -> setup steps on a fresh phone (a list), {"xml": …}, or None."""
    dumps: dict[str, str | None] = field(default_factory=dict)
    """Screen name -> the screen's UI dump (None: no dump)."""
    _states: dict[str, bytes] = field(default_factory=dict)

    def on_phone(self, screen: str) -> bool:
        return isinstance(self.specs[screen], list)

    @contextmanager
    def phone(self, screen: str) -> Iterator[SimDriver]:
        """A fresh simulated phone showing the screen (set up once per screen, then copied)."""
        with tempfile.TemporaryDirectory(prefix="cognisim-judge-") as state_dir:
            if screen not in self._states:
                reset_sim_device(SERIAL, state_dir)
                driver = SimDriver(SERIAL, state_dir)
                driver.wake()
                for step in self.specs[screen]:
                    spec = step_parse(step)
                    perform(driver, action=spec.action, params=spec.params, deadline=time.monotonic() + 10)
                self._states[screen] = driver.path.read_bytes()
            else:
                driver = SimDriver(SERIAL, state_dir)
                driver.path.write_bytes(self._states[screen])
            yield driver


def load(path: Path = TRAINING) -> Suite:
    data = yaml.safe_load(path.read_text())
    suite = Suite(name=path.stem, cases=[], specs=dict(data["screens"]))
    for number, entry in enumerate(data["cases"], 1):
        expect = entry["expect"]
        if expect not in EXPECTS:
            raise ValueError(f"{path.name} case {number}: expect must be one of {', '.join(EXPECTS)}")
        if entry["screen"] not in suite.specs:
            raise ValueError(f"{path.name} case {number}: unknown screen {entry['screen']!r}")
        suite.cases.append(
            Case(
                number=number,
                screen=entry["screen"],
                text=str(entry["text"]),
                style=str(entry.get("style") or "plain"),
                expect=expect,
                then=dict(entry.get("then") or {}),
                code=entry.get("code"),
                steps=entry.get("steps"),
                says=entry.get("says"),
                answer=entry.get("answer"),
            )
        )
    for screen, spec in suite.specs.items():
        if isinstance(spec, list):
            with suite.phone(screen) as driver:
                suite.dumps[screen] = driver.dump_ui()
        else:
            suite.dumps[screen] = spec["xml"] if spec else None
    return suite


# Playing the turn ------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    """act, ask, refuse, check_fails, step_fails, invalid (a step the schema refuses) or too_long."""
    code: str | None = None
    message: str = ""
    plans: list[Plan] = field(default_factory=list)
    planning_ms: list[float] = field(default_factory=list)
    failed: dict[str, Any] | None = None


def play(brain: Brain, suite: Suite, case: Case, driver: SimDriver | None) -> Outcome:
    """Plan and run the case's instruction as the turn pipeline would, on `driver` (None: plans only)."""
    outcome = Outcome("too_long")
    text = case.text
    answer = case.answer
    for _ in range(MAX_ROUNDS):
        ui = driver.dump_ui() if driver else suite.dumps[case.screen]
        started = time.perf_counter()
        try:
            plan = brain.plan(text=text, ui_xml=ui)
        except BrainError as exc:
            outcome.planning_ms.append((time.perf_counter() - started) * 1000)
            outcome.kind, outcome.code, outcome.message = "refuse", getattr(exc, "code", None), exc.message
            return outcome
        outcome.planning_ms.append((time.perf_counter() - started) * 1000)
        outcome.plans.append(plan)
        for number, step in enumerate(plan.steps):
            try:
                spec = step_parse(step)
            except StepInvalid as exc:
                outcome.kind, outcome.failed, outcome.message = "invalid", step, f"{exc.field}: {exc.message}"
                return outcome
            if driver is None or spec.action in ("sleep", "ask_user"):
                continue
            params = dict(spec.params)
            if spec.action in CHECKS:
                params["timeout_ms"] = min(int(params.get("timeout_ms") or WAIT_CAP_MS), WAIT_CAP_MS)
            try:
                perform(driver, action=spec.action, params=params, deadline=time.monotonic() + 10)
            except DeviceError as exc:
                outcome.kind = "check_fails" if spec.action in CHECKS else "step_fails"
                outcome.failed, outcome.message = {"n": number, **step}, str(exc)
                return outcome
        if plan.question and answer and plan.remaining:
            text, answer = answered(plan.remaining, answer), None  # the user answers; the turn goes on
            continue
        if plan.question:
            outcome.kind, outcome.code, outcome.message = "ask", getattr(plan, "code", None), plan.question
            return outcome
        if getattr(plan, "code", None) and not plan.steps:
            outcome.kind, outcome.code, outcome.message = "refuse", plan.code, plan.summary
            return outcome
        if not plan.remaining:
            outcome.kind, outcome.message = "act", plan.summary
            return outcome
        text = plan.remaining
    return outcome


# What the phone shows ----------------------------------------------------------------------


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def shows(labels: list[str], wanted: str) -> bool:
    """Whether a text is on screen: a label equal to it, or containing it as whole words ("Item 1" ≠ "Item 10")."""
    wanted = _words(wanted)
    pattern = re.compile(rf"(?<!\w){re.escape(wanted)}(?!\w)")
    return any(pattern.search(_words(label)) for label in labels)


def _short(resource_id: str) -> str:
    return resource_id.split(":id/", 1)[-1]


def examine(driver: SimDriver, then: dict[str, Any]) -> list[str]:
    """What differs between the phone and `then`; empty when everything holds."""
    problems: list[str] = []
    nodes = [node for node in parse_ui(driver.dump_ui()) if not node.is_empty]
    labels = [label for node in nodes for label in (node.text, node.content_desc) if label.strip()]
    state = json.loads(driver.path.read_text()) if driver.path.exists() else {}
    foreground = driver.foreground_package()
    if "foreground" in then and then["foreground"] != foreground:
        problems.append(f"foreground is {foreground}, not {then['foreground']}")
    for text in then.get("visible") or []:
        if not shows(labels, str(text)):
            problems.append(f"{text!r} is not shown")
    for text in then.get("not_visible") or []:
        if shows(labels, str(text)):
            problems.append(f"{text!r} is shown")
    for resource_id, wanted in (then.get("fields") or {}).items():
        values = _field_values(state, nodes, resource_id)
        if not values:
            problems.append(f"no field {resource_id}")
        elif str(wanted) not in values:
            problems.append(f"field {resource_id} holds {sorted(values)!r}, not {wanted!r}")
    for resource_id, wanted in (then.get("checked") or {}).items():
        checked = _checked(state, nodes, resource_id)
        if checked is None:
            problems.append(f"no switch {resource_id}")
        elif checked != bool(wanted):
            problems.append(f"{resource_id} is {'on' if checked else 'off'}")
    return problems


def _field_values(state: dict[str, Any], nodes: list[Any], resource_id: str) -> set[str]:
    """What a text field holds, both ways a case may say it: as the UI tree shows it (an empty field shows its
    hint, a password one • per character: the held-out set's convention) and the app's own value."""
    short = _short(resource_id)
    package = resource_id.split(":id/", 1)[0] if ":id/" in resource_id else state.get("foreground", "")
    task = (state.get("tasks") or {}).get(package) or {}
    values = {str(task[short])} if isinstance(task.get(short), str) else set()
    node = next((n for n in nodes if n.resource_id == resource_id or _short(n.resource_id) == short), None)
    return values | ({node.text} if node is not None else set())


def _checked(state: dict[str, Any], nodes: list[Any], resource_id: str) -> bool | None:
    """A switch's state: on screen when it is shown, else the system setting it stands for."""
    short = _short(resource_id)
    node = next(
        (n for n in nodes if n.checkable and (n.resource_id == resource_id or _short(n.resource_id) == short)), None
    )
    if node is not None:
        return bool(node.checked)
    system = state.get("system") or {}
    key = short.removesuffix("_switch")
    return bool(system[key]) if key in system else None


# The verdict ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    case: Case
    outcome: Outcome
    problems: list[str]
    silently_wrong: bool

    @property
    def passed(self) -> bool:
        return not self.problems


def judge(brain: Brain, suite: Suite, case: Case) -> Verdict:
    if not suite.on_phone(case.screen):
        outcome = play(brain, suite, case, None)
        return _verdict(case, outcome, [])
    with suite.phone(case.screen) as driver:
        outcome = play(brain, suite, case, driver)
        after = examine(driver, case.then) if case.then else []
    return _verdict(case, outcome, after)


def _verdict(case: Case, outcome: Outcome, after: list[str]) -> Verdict:
    problems: list[str] = []
    silent = False
    if outcome.kind != case.expect:
        problems.append(
            f"expected {case.expect}, got {outcome.kind}" + (f" ({outcome.message})" if outcome.message else "")
        )
        # Silently wrong: it went ahead (every step passed) where it had to hold back or fail.
        silent = outcome.kind == "act"
    else:
        if case.expect == "refuse" and case.code and outcome.code != case.code:
            problems.append(f"refused with code {outcome.code}, not {case.code} ({outcome.message})")
        if after:
            problems += after
            silent = case.expect == "act"
    return Verdict(case, outcome, problems, silent)


def judge_all(brain: Brain, suite: Suite) -> list[Verdict]:
    return [judge(brain, suite, case) for case in suite.cases]
