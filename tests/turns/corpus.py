"""The planner corpus (`corpus.yaml`): its screens, dumped from a fresh simulated phone, and its checks.

Shared by `test_offline_planner.py` and `bench/agent.py`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devices.actions import perform
from devices.drivers.sim import SimDriver, reset_sim_device
from turns.brains import Brain, BrainError, Plan

CORPUS = Path(__file__).with_name("corpus.yaml")


@dataclass(frozen=True)
class Case:
    number: int
    screen: str
    text: str
    expected: list[dict[str, Any]] | None
    question: bool
    error: str | None
    remaining: str | None
    summary: str | None

    @property
    def id(self) -> str:
        return f"{self.number:03d}-{self.screen if len(self.screen) < 20 else 'steps'}-{self.text[:40]}"


@dataclass
class Corpus:
    cases: list[Case]
    specs: dict[str, Any]
    """Screen name -> how to reach it: steps, {"xml": ...} or None."""
    dumps: dict[str, str | None]
    """Screen name -> its UI dump (None for "no UI tree")."""

    def phone(self, screen: str, state_dir: str | Path) -> SimDriver | None:
        """A fresh simulated phone on the screen, or None when the screen is not a simulated one."""
        spec = self.specs[screen]
        if not isinstance(spec, list):
            return None
        reset_sim_device("corpus", state_dir)
        driver = SimDriver("corpus", state_dir)
        for step in spec:
            params = {key: value for key, value in step.items() if key != "action"}
            perform(driver, action=step["action"], params=params, deadline=time.monotonic() + 10)
        return driver


def load() -> Corpus:
    data = yaml.safe_load(CORPUS.read_text())
    corpus = Corpus(cases=[], specs=dict(data["screens"]), dumps={})
    for number, entry in enumerate(data["cases"], 1):
        screen = entry["screen"]
        if not isinstance(screen, str):
            screen = yaml.safe_dump(screen, default_flow_style=True).strip()
            corpus.specs[screen] = entry["screen"]
        corpus.cases.append(
            Case(
                number=number,
                screen=screen,
                text=entry["text"],
                expected=entry.get("expected"),
                question=bool(entry.get("question")),
                error=entry.get("error"),
                remaining=entry.get("remaining"),
                summary=entry.get("summary"),
            )
        )
    with tempfile.TemporaryDirectory() as state_dir:
        for screen, spec in corpus.specs.items():
            driver = corpus.phone(screen, state_dir)
            corpus.dumps[screen] = driver.dump_ui() if driver else (spec["xml"] if spec else None)
    return corpus


def run(brain: Brain, case: Case, ui_xml: str | None) -> list[str]:
    """What is wrong with the brain's answer to the case; empty when it is right."""
    try:
        plan = brain.plan(text=case.text, ui_xml=ui_xml)
    except BrainError as exc:
        if case.error is None:
            return [f"unexpected BrainError: {exc.message}"]
        return [] if case.error.lower() in exc.message.lower() else [f"error {exc.message!r} lacks {case.error!r}"]
    if case.error is not None:
        return [f"expected a BrainError ({case.error!r}), got steps {plan.steps}"]
    return check(case, plan)


def check(case: Case, plan: Plan) -> list[str]:
    problems = []
    steps = plan.steps
    if case.question:
        if not plan.question:
            problems.append(f"expected a question, got steps {steps}")
        elif steps[-1:] != [{"action": "ask_user", "prompt": plan.question}]:
            problems.append(f"a question must end the plan with its ask_user step: {steps}")
        steps = steps[:-1]
        if case.expected is not None and steps != case.expected:
            problems.append(f"steps before the question: expected {case.expected}, got {steps}")
    else:
        if plan.question:
            problems.append(f"unexpected question: {plan.question}")
        if steps != case.expected:
            problems.append(f"expected {case.expected}, got {steps}")
        if plan.remaining != case.remaining:
            problems.append(f"remaining: expected {case.remaining!r}, got {plan.remaining!r}")
    if case.question and case.remaining is not None and plan.remaining != case.remaining:
        problems.append(f"remaining: expected {case.remaining!r}, got {plan.remaining!r}")
    if case.summary and case.summary.lower() not in plan.summary.lower():
        problems.append(f"summary {plan.summary!r} lacks {case.summary!r}")
    return problems
