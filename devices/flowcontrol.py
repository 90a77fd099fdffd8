"""Control flow on the device's worker: `repeat`, `retry` and `run_flow … when:` run their inner steps
here, one after another, as one step of the session (written on `devices.actions.perform`).

    repeat    {times?, while?: condition, steps}   at least one of times / while
    retry     {max_attempts, steps}                 the block again until it passes
    run_flow  {when: condition, steps}              the block once, if the screen says so

A condition is `{visible: selector}`, `{not_visible: selector}`, or both (both must hold).

Every inner step's outcome goes into the compound step's result, in order, with its round and time:
`{"rounds": n, "ran": bool, "steps": [{"index", "round", "action", "status": passed|failed,
"optional", "duration_ms", "error"?, "result"?}]}` (a nested compound step's own `steps` are in its
`result`). An inner step marked `optional: true` may fail without failing the block. When the block
fails, `CompoundFailed` carries the inner error's code, a message naming the round and step, and the
inner results so far in `details["steps"]`. A transport fault after an inner step changed the device
is not retryable (running the block again would apply that change twice).

A block keeps a journal of what it did (`Progress`): each inner step's outcome and each condition's answer, in
the order it met them, saved by the caller after each inner step. A block run again with the journal its
killed predecessor saved replays it — the same rounds and branches, the recorded outcomes, nothing sent to the
device — and goes on live from the inner step after the last one saved (docs/durability.md).

Conditions read the settled screen once (one read of the UI tree, which the driver takes only once the
screen is idle; the tree the previous inner step read after its input serves when the driver keeps
it); they do not wait for an element to come or go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.steps import BLOCK_ACTIONS, CONDITION_KINDS, MAX_WHILE_ROUNDS, StepInvalid, step_parse
from devices import actions
from devices.drivers.base import ActionOutcome, ActionTimeout, DeviceDriver, DeviceError
from devices.uitree import describe_selector, find_nodes

COMPOUND = BLOCK_ACTIONS  # repeat, retry, run_flow
FLOW_FIELDS = ("optional", "name")  # fields of an inner step that are not its request's own

Perform = Callable[..., ActionOutcome]


class CompoundFailed(DeviceError):
    """An inner step failed (and was not optional): the block fails with its code."""

    def __init__(self, *, code: str, retryable: bool, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, details=details)
        self.code = code
        self.retryable = retryable


class _Recorded(DeviceError):
    """An inner step's failure, replayed from the journal."""

    def __init__(self, *, code: str, retryable: bool, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass
class Progress:
    """A block's journal: `{"seen": bool}` per condition read, `{"row": …, "effect"?, "state"?}` per simple inner
    step, in order. `entries` starts as what an earlier attempt saved, which the block replays before it runs
    anything. `save` writes the journal durably after each simple inner step (it may raise to stop the block:
    the step is no longer this worker's)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    save: Callable[[list[dict[str, Any]]], None] | None = None
    position: int = 0  # the entries before it were replayed or written by this attempt

    def replay(self) -> dict[str, Any] | None:
        if self.position == len(self.entries):
            return None
        self.position += 1
        return self.entries[self.position - 1]

    def record(self, entry: dict[str, Any], *, save: bool = True) -> None:
        self.entries.append(entry)
        self.position += 1
        if save and self.save is not None:
            self.save(self.entries)


class _Runner:
    def __init__(self, driver: DeviceDriver, deadline: float, perform: Perform, progress: Progress) -> None:
        self.driver, self.deadline, self.perform, self.progress = driver, deadline, perform, progress
        self.effects: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.screenshot: bytes | None = None
        self.changed = False  # an inner step has run on the device
        self.rows: list[dict[str, Any]] = []  # every inner step's outcome so far

    def visible(self, selector: Mapping[str, Any]) -> bool:
        """Whether the element is on the settled screen: one read of the tree."""
        try:
            nodes = actions.settled_nodes(self.driver, deadline=self.deadline, doing="checking the condition")
        except DeviceError as exc:  # after an inner step changed the device, running the block again is wrong
            raise CompoundFailed(
                code=exc.code,
                retryable=exc.retryable and not self.changed,
                message=f"Checking the condition on {describe_selector(selector)}: {exc.message}",
                details={"steps": self.rows},
            ) from exc
        return bool(find_nodes(nodes, dict(selector)))

    def holds(self, condition: Mapping[str, Any]) -> bool:
        """Whether each part of the condition holds (`visible`, then `not_visible`), read in that order."""
        return all(self._holds(kind, condition[kind]) for kind in CONDITION_KINDS if kind in condition)

    def _holds(self, kind: str, selector: Mapping[str, Any]) -> bool:
        if (entry := self.progress.replay()) is not None:
            seen = bool(entry["seen"])
        else:  # saved with the next inner step's entry: an attempt killed before it reads the screen again
            seen = self.visible(selector)
            self.progress.record({"seen": seen}, save=False)
        return seen if kind == "visible" else not seen

    def block(self, steps: list[dict[str, Any]], round_: int, rows: list[dict[str, Any]], *, looped: bool) -> None:
        """Run the steps in order; raise CompoundFailed at the first that fails and is not optional."""
        for index, request in enumerate(steps):
            optional = bool(request.get("optional", False))
            data = {k: v for k, v in request.items() if k not in FLOW_FIELDS}
            row: dict[str, Any] = {"index": index, "round": round_, "action": data.get("action"), "optional": optional}
            try:
                outcome = self.step(data, row)
            except DeviceError as exc:
                row.update(status="failed", error={"code": exc.code, "message": exc.message})
                inner = exc.details.get("steps") if isinstance(exc, CompoundFailed) else None
                if inner is not None:
                    row["result"] = {"steps": inner}
                rows.append(row)
                if optional:
                    continue
                where = f"round {round_}, step {index + 1}" if looped else f"step {index + 1}"
                raise CompoundFailed(
                    code=exc.code,
                    retryable=exc.retryable and not self.changed,
                    message=f"{where} ({data.get('action')}): {exc.message}",
                    details={"steps": rows, "path": [index]},
                ) from exc
            self.changed = True
            row.update(status="passed", result=outcome.result)
            rows.append(row)
            self.effects.append(outcome.effect)
            self.state = outcome.state
            self.screenshot = outcome.screenshot or self.screenshot

    def step(self, data: dict[str, Any], row: dict[str, Any]) -> ActionOutcome:
        """An inner step's outcome, its time put in `row` (also when it raises DeviceError): replayed from the
        journal when an earlier attempt saved it, else from the device, then journaled. A nested block journals
        its own inner steps."""
        simple = data.get("action") not in COMPOUND
        if simple and (entry := self.progress.replay()) is not None:
            done = entry["row"]
            row["duration_ms"] = done["duration_ms"]
            if done["status"] == "failed":
                raise _Recorded(**done["error"])
            return ActionOutcome(done["result"], entry["effect"], entry["state"], None)
        started = time.monotonic()
        try:
            outcome = self.one(data)
        except DeviceError as exc:
            row["duration_ms"] = _ms(started)
            if simple:
                error = {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
                self.progress.record({"row": {"status": "failed", "duration_ms": row["duration_ms"], "error": error}})
            raise
        row["duration_ms"] = _ms(started)
        if simple:
            done = {"status": "passed", "duration_ms": row["duration_ms"], "result": outcome.result}
            self.progress.record({"row": done, "effect": outcome.effect, "state": outcome.state})
        return outcome

    def one(self, data: dict[str, Any]) -> ActionOutcome:
        now = time.monotonic()
        if now >= self.deadline:
            raise ActionTimeout(f"The block ran out of time before its {data.get('action')} step.")
        if data.get("action") in COMPOUND:  # a nested block: within this one's time, or its own limit
            limit = data.get("timeout_ms")
            inner_deadline = min(self.deadline, now + limit / 1000) if isinstance(limit, int) else self.deadline
            params = {k: v for k, v in data.items() if k not in ("action", "timeout_ms")}
            return perform(
                self.driver,
                action=data["action"],
                params=params,
                deadline=inner_deadline,
                step=self.perform,
                progress=self.progress,
            )
        try:
            spec = step_parse(data)
        except StepInvalid as exc:  # validated before it was queued; a bad stored row must not crash the worker
            raise DeviceError(f"Invalid inner step: {exc.message}") from None
        inner_deadline = min(self.deadline, now + spec.timeout_ms / 1000)
        return self.perform(self.driver, action=spec.action, params=spec.params, deadline=inner_deadline)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def perform(
    driver: DeviceDriver,
    *,
    action: str,
    params: Mapping[str, Any],
    deadline: float,
    step: Perform = actions.perform,
    progress: Progress | None = None,
) -> ActionOutcome:
    """Run a compound step; `step` runs each simple inner step (`devices.actions.perform`); `progress`: its
    journal, to replay and extend (none: a journal kept only in memory)."""
    runner = _Runner(driver, deadline, step, progress or Progress())
    steps: list[dict[str, Any]] = list(params["steps"])
    rows = runner.rows
    rounds, ran = 0, True
    if action == "repeat":
        times = params.get("times")
        limit = int(times) if times is not None else MAX_WHILE_ROUNDS
        condition = params.get("while")
        while rounds < limit and (condition is None or runner.holds(condition)):
            rounds += 1
            runner.block(steps, rounds, rows, looped=True)
        if condition is not None and times is None and rounds == limit and runner.holds(condition):
            still = " and ".join(f"{k.replace('_', ' ')} {describe_selector(sel)}" for k, sel in condition.items())
            raise CompoundFailed(
                code="repeat_limit",
                retryable=False,
                message=f"Still {still} after {limit} rounds; give 'times' to allow more.",
                details={"steps": rows},
            )
    elif action == "retry":
        attempts = int(params["max_attempts"])
        while True:
            rounds += 1
            try:
                runner.block(steps, rounds, rows, looped=True)
                break
            except CompoundFailed as exc:
                if rounds >= attempts or time.monotonic() >= deadline:
                    raise CompoundFailed(
                        code=exc.code,
                        retryable=False,
                        message=f"All {rounds} attempts failed; the last: {exc.message}",
                        details={"steps": rows},
                    ) from exc
    elif action == "run_flow":
        ran = runner.holds(params["when"]) if params.get("when") else True
        if ran:
            rounds = 1
            runner.block(steps, 1, rows, looped=False)
    else:
        raise ValueError(f"Not a compound action: {action!r}.")
    state = runner.state or actions.device_state(driver)
    effect = {"action": action, "rounds": rounds, "ran": ran, "steps": runner.effects, **state}
    return ActionOutcome(
        result={"rounds": rounds, "ran": ran, "steps": rows},
        effect=effect,
        state=state,
        screenshot=runner.screenshot,
    )
