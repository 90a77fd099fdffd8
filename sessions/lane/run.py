"""One step on the device's worker: claim it, run it (with retries), record its outcome, then read the screen.

The hot path is three short transactions — claim (STARTED), finish (COMPLETED or ERROR) and, off the
step's critical path, the screen it led to (read on a thread of its own while the lane listens for the
next step, so a slow phone's read never holds a STARTED back) — each a conditional update of the step, one
`session_bump` that numbers the event (and sets the session's fields) and the event itself. The
worker is the only writer of the session's state while it drains, so it keeps that state in memory
(`Lane`) instead of reading the session row before every write.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import metrics
from core.rows import rows_update
from core.sealed import Unreadable
from core.storage import artifact_name, artifact_save
from devices import actions, flowcontrol
from devices.drivers.base import DeviceDriver, DeviceError, StepStopped, TransportError
from devices.leases import Lease, lane_lease_lost, lease_holds
from devices.models import Device
from devices.services import device_mark_offline, driver_for
from devices.uitree import ui_hash

from ..dispatch import lane_bell
from ..events import (
    event_append,
    screen_save,
    screen_store,
    session_bump,
    step_event,
    step_payload,
    step_transition,
)
from ..jsonpatch import json_diff
from ..models import JournalEntry, SessionEvent, Step, TestSession
from ..secrets import secrets_mask, secrets_mask_png, secrets_mask_xml, secrets_named, secrets_resolve
from ..services.artifacts import failure_log_store
from ..services.base import locked_session, set_status
from ..services.lifecycle import session_pause_offline
from .logs import session_lines

logger = logging.getLogger(__name__)
Status = TestSession.Status
OBSERVE_S = 10
FAILURE_LOG_LINES = 200
SECRETS_UNREADABLE: dict[str, Any] = {
    "code": "secrets_unreadable",
    "message": "This device's worker cannot read the session's secrets: its SECRET_KEY is not the web "
    "server's. Give every process the same SECRET_KEY (docs/deploy.md) and run the step again.",
    "retryable": False,
}


@dataclass
class Lane:
    """What a drain knows of its session. While the worker drains, it is the only writer of the session's
    state; everything else a request may change (a stop, a pause) is checked by the conditional updates."""

    session_id: Any
    device: Device
    lease: Lease
    state: dict[str, Any]
    secrets: dict[str, str]
    status: str
    stop_on_failure: bool
    end_when_drained: bool
    failed: bool = False
    """A step of the session that is not optional has failed."""
    driver: DeviceDriver = field(init=False)
    shown: str | None = field(init=False)
    """The screen whose picture the IDE was sent last."""
    reading: ScreenRead | None = None
    """The screen read under way after the last step."""

    def __post_init__(self) -> None:
        self.driver = driver_for(self.device)
        self.shown = self.screen

    @property
    def screen(self) -> str | None:
        return self.state.get("device", {}).get("screen")


def backoff_delay_ms(*, backoff: dict[str, Any], attempt: int) -> int:
    """Delay before retry number `attempt` (1 = the first retry)."""
    base, cap = backoff.get("base_ms", 500), backoff.get("max_ms", 10_000)
    strategy = backoff.get("strategy", "exponential")
    delay = base * (2 ** (attempt - 1) if strategy == "exponential" else attempt if strategy == "linear" else 1)
    return int(min(delay, cap))


def effect_hash(effect: dict[str, Any]) -> str:
    canonical = json.dumps(effect, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- claim ------------------------------------------------------------------------------------------


def step_claim(lane: Lane, step: Step) -> bool:
    """QUEUED → RUNNING, with its STARTED event, if the step is still queued and its session still runs
    steps (not stopped, paused or hibernated meanwhile). One conditional update decides it."""
    now = timezone.now()
    timings = {**step.timings, "queue_ms": max(0, int((now - step.queued_at).total_seconds() * 1000))}
    fields = {"status": Step.Status.RUNNING, "started_at": now, "lease_token": lane.lease.token, "timings": timings}
    seq = step_transition(
        session_id=lane.session_id,
        step_id=step.pk,
        step_where={"status": Step.Status.QUEUED},
        step_fields=fields,
        step_add={"attempt": 1},
        session_where={"status": Status.RUNNING},
        session_fields={},
        payload=step_payload(step, "STARTED", attempt=step.attempt + 1),
    )
    if seq is None:
        return False
    step.status, step.attempt, step.started_at, step.timings = Step.Status.RUNNING, step.attempt + 1, now, timings
    step.lease_token = lane.lease.token
    return True


# --- run ----------------------------------------------------------------------------------------------


def step_run(lane: Lane, step: Step) -> None:
    """Run a claimed step on the device and record its outcome; then start reading the screen it led to
    (`screen_read_finish`). The read after the previous step is recorded first."""
    screen_read_finish(lane)
    if step.action == "ask_user":
        _ask(lane, step)
        return
    named = secrets_named(step.params)
    if not named <= lane.secrets.keys():  # typed into a password field after the drain began
        lane.secrets = TestSession.objects.values_list("secrets", flat=True).get(pk=lane.session_id)
    started = time.monotonic()
    outcome: actions.StepOutcome | None
    error: dict[str, Any] | None
    if named and isinstance(lane.secrets, Unreadable):
        outcome, error = None, SECRETS_UNREADABLE
    else:
        outcome, error = _attempts(lane, step, secrets_resolve(step.params, lane.secrets) if named else step.params)
    device_ms = int((time.monotonic() - started) * 1000)
    if named & lane.secrets.keys():
        _residue_add(lane, _foreground(lane))
    elif step.action == "launch_app":
        _residue_add(lane, step.params.get("package"))
    if error is not None and error["code"] == TransportError.code and _pause_unreachable(lane, step, error):
        return
    if _finish(lane, step, outcome=outcome, error=error, device_ms=device_ms):
        if outcome is not None and outcome.screenshot:
            _keep_screenshot(lane, step, outcome.screenshot)
        _read_start(lane, step, outcome)
        if step.status == Step.Status.FAILED:
            _keep_failure_log(lane, step)


def _attempts(lane: Lane, step: Step, params: Any) -> tuple[actions.StepOutcome | None, dict[str, Any] | None]:
    """Perform the step, and again after a retryable error while its retries last and the session runs."""
    while True:
        outcome, error = _perform(lane, step, params)
        retries_done = step.attempt - 1
        if error is None or not error["retryable"] or retries_done >= step.max_retries:
            return outcome, error
        delay = backoff_delay_ms(backoff=step.backoff, attempt=retries_done + 1)
        if not _retrying(lane, step, error, delay) or _wait_unless_stopped(lane.session_id, delay / 1000):
            return outcome, error


class _Fenced(Exception):
    """The step is no longer this worker's (its lease passed on): the block stops driving the device."""


def _perform(lane: Lane, step: Step, params: Any) -> tuple[actions.StepOutcome | None, dict[str, Any] | None]:
    deadline = time.monotonic() + step.timeout_ms / 1000
    try:
        with actions.stoppable(partial(_session_stopped, lane.session_id)):
            if step.action in flowcontrol.COMPOUND:
                entries = list(step.journal.order_by("position").values_list("entry", flat=True))
                progress = flowcontrol.Progress(entries=entries, save=_JournalSave(lane, step, saved=len(entries)))
                return flowcontrol.perform(
                    lane.driver, action=step.action, params=params, deadline=deadline, progress=progress
                ), None
            return actions.perform(
                lane.driver, action=step.action, params=params, deadline=deadline, observe=False
            ), None
    except _Fenced:
        return None, {"code": "lease_lost", "message": "Another worker took the step over.", "retryable": False}
    except DeviceError as exc:
        error = {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
        if exc.details:
            error["details"] = exc.details
        return None, error
    except Exception as exc:  # a bug must fail the step, not the worker
        logger.exception("step %s crashed", step.pk)
        return None, {"code": "internal_error", "message": f"CogniSim failed: {exc}", "retryable": False}


@dataclass
class _JournalSave:
    """Append a block's new journal entries after an inner step, fenced as the step's result is (`_finish`)."""

    lane: Lane
    step: Step
    saved: int

    def __call__(self, entries: list[dict[str, Any]]) -> None:
        step, lease = self.step, self.lane.lease
        fence = {"id": step.pk, "status": Step.Status.RUNNING, "attempt": step.attempt, "lease_token": lease.token}
        new = [
            JournalEntry(step_id=step.pk, position=position, entry=secrets_mask(entry, self.lane.secrets))
            for position, entry in enumerate(entries[self.saved :], start=self.saved)
        ]
        with transaction.atomic():
            if not rows_update(Step, where=fence, fields={"lease_token": lease.token}):  # locks the row till commit
                raise _Fenced
            JournalEntry.objects.bulk_create(new)
        self.saved = len(entries)


def _foreground(lane: Lane) -> str | None:
    try:
        return lane.driver.foreground_package()
    except DeviceError:
        logger.warning("device %s: no foreground app to note after a step with a secret", lane.device.serial)
        return None


def _residue_add(lane: Lane, package: str | None) -> None:
    """Note an app the session used (`Device.residue`): the next session's setup clears its data, so what was
    done there (signed in, typed a secret) is not on the screens another session is shown."""
    residue = lane.device.residue
    if residue.get("session") != str(lane.session_id):
        residue = {"session": str(lane.session_id), "packages": []}
    if package and package not in residue["packages"]:
        lane.device.residue = {**residue, "packages": [*residue["packages"], package]}
        Device.objects.filter(pk=lane.device.pk).update(residue=lane.device.residue)


def _retrying(lane: Lane, step: Step, error: dict[str, Any], delay: int) -> bool:
    """Record a RETRYING event before the next attempt; False when the session stopped or the lease lapsed."""
    with transaction.atomic():
        session = locked_session(lane.session_id)
        if session.status in TestSession.TERMINAL or not lease_holds(lease=lane.lease):
            return False
        step.session = session
        step.attempt += 1
        masked = secrets_mask(error, lane.secrets)
        Step.objects.filter(pk=step.pk).update(attempt=step.attempt, error=masked)
        if step.action in flowcontrol.COMPOUND:  # retried only when nothing was done on the device: it starts over
            JournalEntry.objects.filter(step_id=step.pk).delete()
        event_append(
            session=session,
            type=SessionEvent.Type.STEP_STATUS,
            payload=step_payload(step, "RETRYING", error=masked, delay_ms=delay),
        )
    return True


def _session_stopped(session_id: Any) -> bool:
    return TestSession.objects.filter(pk=session_id, status__in=TestSession.TERMINAL).exists()


def _wait_unless_stopped(session_id: Any, seconds: float) -> bool:
    """Sleep up to `seconds`; True if the session was stopped meanwhile (a safe point)."""
    stopped = partial(_session_stopped, session_id)
    try:
        with actions.stoppable(stopped):
            actions.stoppable_sleep(seconds)
    except StepStopped:
        return True
    return stopped()


def _ask(lane: Lane, step: Step) -> None:
    """Wait for the user's answer; a session stopped (or a lease lapsed) before the worker got here stays as it is."""
    with transaction.atomic():
        session = locked_session(lane.session_id)
        if session.status in TestSession.TERMINAL or not lease_holds(lease=lane.lease):
            return
        set_status(session, Status.WAITING_INPUT)
        payload = {"input_id": step.pk, "step_id": step.pk, "step_index": step.index, "prompt": step.params["prompt"]}
        if step.params.get("choices"):
            payload["choices"] = step.params["choices"]
        if step.params.get("secret"):
            payload["secret"] = True
        event_append(session=session, type=SessionEvent.Type.USER_INPUT_REQUIRED, payload=payload)


def _pause_unreachable(lane: Lane, step: Step, error: dict[str, Any]) -> bool:
    """The device did not answer through every retry of the step: a fault of the device's transport (unplugged,
    its adb connection gone), not of the app under test, so the step does not fail. It goes back to the queue
    with its retries anew, and the session pauses as for a device gone offline (`session_pause_offline`); an
    adb device is taken offline too (its agent's next heartbeat brings it back if it is still attached).
    False when the step is no longer this attempt's (stopped, or fenced out): `_finish` then drops it too."""
    if not lease_holds(lease=lane.lease):
        return False
    masked = secrets_mask(error, lane.secrets)
    serial = lane.device.serial
    reason = f"Device {serial} stopped answering ({masked['message']})."
    fence = {"id": step.pk, "status": Step.Status.RUNNING, "attempt": step.attempt, "lease_token": lane.lease.token}
    with transaction.atomic():
        session = locked_session(lane.session_id)
        if session.status in TestSession.TERMINAL:
            return False
        if not rows_update(Step, where=fence, fields={"status": Step.Status.QUEUED, "attempt": 0, "error": masked}):
            return False
        step.session, step.status, step.attempt, step.error = session, Step.Status.QUEUED, 0, masked
        step_event(step=step, error=masked)
        if lane.device.transport == Device.Transport.ADB:
            device_mark_offline(serial=serial, reason=reason)  # pauses its sessions (a signal), this one too
        session.refresh_from_db(fields=["status"])
        if session.status in TestSession.HOLDING_DEVICE:
            session_pause_offline(session=session, reason=reason)
    lane.status = Status.IDLE
    logger.warning("step %s of session %s: device %s unreachable; the session is paused", step.pk, session.pk, serial)
    return True


# --- finish -------------------------------------------------------------------------------------------


def _finish(
    lane: Lane, step: Step, *, outcome: actions.StepOutcome | None, error: dict[str, Any] | None, device_ms: int
) -> bool:
    """Record the outcome, fenced by the lease token; True if it was recorded."""
    if not lease_holds(lease=lane.lease):
        logger.warning("step %s: lease %s lapsed; its result is dropped", step.pk, lane.lease.token)
        lane_lease_lost(lease=lane.lease)
        return False
    fields: dict[str, Any] = {
        "status": Step.Status.FAILED if error else Step.Status.COMPLETED,
        "error": secrets_mask(error, lane.secrets) if error else None,
        "finished_at": timezone.now(),
        "duration_ms": device_ms,
        "timings": {**step.timings, "device_ms": device_ms},
    }
    after = lane.state
    if outcome is not None:
        effect = secrets_mask(outcome.effect, lane.secrets)
        fields.update(
            result=secrets_mask(outcome.result, lane.secrets),
            effect=effect,
            effect_hash=effect_hash(effect),
        )
        if outcome.state is not None:  # the step read the screen after its input: its state is known now
            after = {**lane.state, "device": outcome.state}
            fields.update(state_patch=json_diff(lane.state, after), screen_hash=outcome.state["screen"])
    session_fields: dict[str, Any] = {"last_activity_at": fields["finished_at"]}
    if after is not lane.state:
        session_fields["current_state"] = after
    fence = {"status": Step.Status.RUNNING, "attempt": step.attempt, "lease_token": lane.lease.token}
    done = copy.copy(step)
    for name, value in fields.items():
        setattr(done, name, value)
    seq = step_transition(  # None: the step is not this attempt's any more (a stop cancelled it, or a worker took it)
        session_id=lane.session_id,
        step_id=step.pk,
        step_where=fence,
        step_fields=fields,
        session_fields=session_fields,
        payload=step_payload(done),
    )
    if seq is None:
        return False
    for name, value in fields.items():
        setattr(step, name, value)
    metrics.step_finished(step=step)
    lane.state = after
    if step.status == Step.Status.FAILED and not step.optional:
        lane.failed = True
    return True


# --- the screen after the step ------------------------------------------------------------------------


def _keep_failure_log(lane: Lane, step: Step) -> None:
    """A failed step's evidence besides its screen: the device's last FAILURE_LOG_LINES log lines, read once
    its outcome is out (while its screen is read)."""
    try:
        lines = lane.driver.log_tail(FAILURE_LOG_LINES)
    except DeviceError as exc:
        logger.warning("could not read the log of %s when step %s failed: %s", lane.device.serial, step.pk, exc.message)
        return
    lines = session_lines(serial=lane.device.serial, session_id=lane.session_id, lines=lines)
    failure_log_store(session_id=lane.session_id, step_id=step.pk, lines=secrets_mask(lines, lane.secrets))


def _keep_screenshot(lane: Lane, step: Step, png: bytes) -> None:
    """A `screenshot` step's picture, into the artifact storage once its outcome is out (a file written
    before COMPLETED would sit on the step's critical path). In a session with secrets, the UI tree is read
    for it (the step sent no input since its picture) and what shows a secret is blacked out."""
    if lane.secrets:
        png = secrets_mask_png(png, ui_xml=_tree_now(lane), secrets=lane.secrets)
    name = artifact_save(name=artifact_name(lane.session_id, "steps", f"{step.pk}-screenshot.png"), content=png)
    Step.objects.filter(pk=step.pk).update(screenshot=name)


def _tree_now(lane: Lane) -> str | None:
    """The screen's UI tree for a picture that came without one; None when it cannot be read."""
    try:
        return actions.observe(lane.driver, deadline=time.monotonic() + OBSERVE_S, picture=lambda: False).ui_xml
    except DeviceError as exc:
        logger.warning("could not read the UI tree of %s to mask a picture: %s", lane.device.serial, exc.message)
        return None


@dataclass
class ScreenRead:
    """The screen after a step, read on a thread of its own (device calls, and blacking out the session's
    secrets on its picture: the lane's thread records it), so the lane can claim a step sent meanwhile.
    `hurry`: a step waits, leave the picture out."""

    step: Step
    outcome: actions.StepOutcome | None
    started: float = field(default_factory=time.monotonic)
    hurry: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    seen: actions.Observation | None = None
    error: str | None = None

    @property
    def give_up(self) -> float:
        """The read has its own deadline (OBSERVE_S); one that is not over well after it hangs, and the lane
        goes on without it."""
        return self.started + OBSERVE_S * 2


def _read_start(lane: Lane, step: Step, outcome: actions.StepOutcome | None) -> None:
    """After the outcome is out: start reading the screen the step led to (`screen_read_finish` records it)."""
    if outcome is not None and outcome.state is not None and outcome.state["screen"] == lane.screen == lane.shown:
        return  # the step read the screen itself, it did not change, and the IDE has its picture
    read = lane.reading = ScreenRead(step=step, outcome=outcome)
    hurried = None if outcome is None else (lambda: not read.hurry.is_set())  # a failed step's screen is kept
    driver, session_id, serial, secrets = lane.driver, lane.session_id, lane.device.serial, lane.secrets

    def reading() -> None:
        try:  # a tree read moments ago, with no input since, serves: then this is only the picture
            seen = actions.observe(driver, deadline=time.monotonic() + OBSERVE_S, picture=hurried)
            if secrets and seen.png:  # masked here, off the next step's way
                seen = replace(seen, png=secrets_mask_png(seen.png, ui_xml=seen.ui_xml, secrets=secrets))
            read.seen = seen
        except DeviceError as exc:
            read.error = exc.message
        except Exception as exc:  # a bug costs the screen, not the lane
            logger.exception("reading the screen of %s after step %s crashed", serial, step.pk)
            read.error = str(exc)
        finally:
            read.done.set()
            lane_bell(session_id=session_id, what="read")

    threading.Thread(target=reading, name=f"screen-read-{serial}", daemon=True).start()


def screen_read_hurry(lane: Lane) -> None:
    """A step runs next: the read under way leaves the picture out if it has not taken it yet (the next
    step's read brings the IDE its screen); its tree and state are still recorded."""
    if lane.reading is not None:
        lane.reading.hurry.set()


def screen_read_finish(lane: Lane) -> None:
    """Wait for the screen read after the last step, if one is under way, and record it: its state into
    the step's effect and the session's state when the step did not read it itself, its picture and UI
    tree for the IDE when it changed, and for a failed step the screen at the moment of failure. A failed
    read costs only that."""
    read, lane.reading = lane.reading, None
    if read is None:
        return
    if not read.done.wait(max(0.0, read.give_up - time.monotonic())):
        logger.warning("the screen read of %s after step %s did not end", lane.device.serial, read.step.pk)
        return
    if read.seen is None:
        logger.warning(
            "could not read the screen of %s after step %s: %s", lane.device.serial, read.step.pk, read.error
        )
        return
    _observed(lane, read)


def _observed(lane: Lane, read: ScreenRead) -> None:
    step, outcome, seen = read.step, read.outcome, read.seen
    assert seen is not None
    state, ui_xml, png = seen.state, seen.ui_xml, seen.png
    record_ms = int((time.monotonic() - read.started) * 1000)
    screen = state.get("screen") or ui_hash(ui_xml)
    fields: dict[str, Any] = {"screen_hash": screen, "timings": {**step.timings, "record_ms": record_ms}}
    after = lane.state
    if outcome is not None and outcome.state is None:
        full = actions.observed(outcome, seen)
        effect = secrets_mask(full.effect, lane.secrets)
        after = {**lane.state, "device": state}
        fields.update(effect=effect, effect_hash=effect_hash(effect), state_patch=json_diff(lane.state, after))
    keep = png is not None and (screen != lane.shown or outcome is None)
    picture = screen_save(session_id=lane.session_id, screen_hash=screen, png=png) if keep and png else None
    alone = after == lane.state and picture is None  # one statement needs no transaction (two round trips fewer)
    with nullcontext() if alone else transaction.atomic():
        rows_update(Step, where={"id": step.pk}, fields=fields)
        if after != lane.state:
            session_bump(session_id=lane.session_id, seqs=0, current_state=after)
        if picture is not None:
            screen_store(
                session_id=lane.session_id,
                picture=picture,
                screen_hash=screen,
                ui_xml=secrets_mask_xml(ui_xml, lane.secrets),
                step=step,
                record_ms=record_ms,
            )
    lane.state = after
    if picture is not None:
        lane.shown = screen
