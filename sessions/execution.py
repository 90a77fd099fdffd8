"""The worker side of a step: claim it in order, run it on the device under the lease, record the outcome."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices import actions
from devices.drivers.base import DeviceDriver, DeviceError
from devices.leases import Lease, LeaseKeeper, lease_acquire, lease_holds, lease_release
from devices.services import driver_for

from .events import event_append, screen_store, step_event
from .jsonpatch import json_diff
from .models import SessionEvent, Step, TestSession
from .services import locked_session, session_setup, set_status

logger = logging.getLogger(__name__)
Status = TestSession.Status
PENDING_STEP = (Step.Status.QUEUED, Step.Status.DEFERRED, Step.Status.RUNNING)
STOP_POLL_S = 0.25


def steps_run(*, step_id: int) -> None:
    """Run on the device's worker: execute the session's queued steps in order, up to this one.

    The worker holds the device's lease while it works (renewed by a watchdog), so a worker that
    dies lets it lapse within the TTL and the recovery sweeper hands its step to the next worker.
    """
    target = Step.objects.filter(pk=step_id).values("session_id", "index", "session__status").first()
    if target is None:
        return
    if target["session__status"] == Status.PENDING:
        session_setup(session_id=target["session_id"])  # its own task was lost, or has not run yet
    session = TestSession.objects.select_related("device").get(pk=target["session_id"])
    if session.device is None or session.status in TestSession.TERMINAL:
        return
    lease = lease_acquire(serial=session.device.serial, holder=str(session.pk))
    if lease is None:
        return  # another session's work still holds the device; the sweeper dispatches again
    try:
        with LeaseKeeper(lease):
            while (step := _claim_next(target["session_id"], target["index"], lease)) is not None:
                _step_execute(step, lease)
                if step.index == target["index"]:
                    return
    finally:
        lease_release(lease=lease)


def _claim_next(session_id: Any, upto: int, lease: Lease) -> Step | None:
    """Claim the lowest unfinished step if it is queued (index ≤ upto) and nothing before it is pending."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status in TestSession.TERMINAL or session.status == Status.IDLE:
            return None
        step = session.steps.filter(status__in=PENDING_STEP).order_by("index").first()
        if step is None or step.status != Step.Status.QUEUED or step.index > upto:
            return None
        now = timezone.now()
        claimed = Step.objects.filter(pk=step.pk, status=Step.Status.QUEUED).update(
            status=Step.Status.RUNNING, attempt=step.attempt + 1, started_at=now, lease_token=lease.token
        )
        if not claimed:
            return None
        step.status, step.attempt, step.started_at, step.session = Step.Status.RUNNING, step.attempt + 1, now, session
        step.lease_token = lease.token
        if session.status == Status.READY:
            set_status(session, Status.RUNNING)
        step_event(step=step)
        return step


def backoff_delay_ms(*, backoff: dict[str, Any], attempt: int) -> int:
    """Delay before retry number `attempt` (1 = the first retry)."""
    base, cap = backoff.get("base_ms", 500), backoff.get("max_ms", 10_000)
    strategy = backoff.get("strategy", "exponential")
    delay = base * (2 ** (attempt - 1) if strategy == "exponential" else attempt if strategy == "linear" else 1)
    return int(min(delay, cap))


def _session_stopped(session_id: Any) -> bool:
    return TestSession.objects.filter(pk=session_id, status__in=TestSession.TERMINAL).exists()


def _wait_unless_stopped(session_id: Any, seconds: float) -> bool:
    """Sleep up to `seconds`; True if the session was stopped meanwhile (a safe point)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if _session_stopped(session_id):
            return True
        time.sleep(min(STOP_POLL_S, left))
    return _session_stopped(session_id)


def _step_execute(step: Step, lease: Lease) -> None:
    if step.action == "ask_user":
        with transaction.atomic():
            session = locked_session(step.session_id)
            set_status(session, Status.WAITING_INPUT)
            event_append(
                session=session,
                type=SessionEvent.Type.USER_INPUT_REQUIRED,
                payload={
                    "input_id": step.pk,
                    "step_id": step.pk,
                    "step_index": step.index,
                    "prompt": step.params["prompt"],
                },
            )
        return

    started = time.monotonic()
    ui_xml = ""
    while True:
        try:
            driver = driver_for(step.session.device)
            outcome = actions.perform(
                driver, action=step.action, params=step.params, deadline=time.monotonic() + step.timeout_ms / 1000
            )
            error = None
            if outcome.state["screen"] != _last_screen(step.session):
                screen = screen_capture(driver)
                if screen is not None:
                    outcome.screenshot = outcome.screenshot or screen[0]
                    ui_xml = screen[1]
        except DeviceError as exc:
            outcome, error = None, {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
        except Exception as exc:  # a bug must fail the step, not the worker
            logger.exception("step %s crashed", step.pk)
            outcome, error = None, {"code": "internal_error", "message": f"CogniSim failed: {exc}", "retryable": False}
        retries_done = step.attempt - 1
        if error is None or not error["retryable"] or retries_done >= step.max_retries:
            break
        delay = backoff_delay_ms(backoff=step.backoff, attempt=retries_done + 1)
        with transaction.atomic():
            session = locked_session(step.session_id)
            if session.status in TestSession.TERMINAL or not lease_holds(lease=lease):
                break
            step.session = session
            step.attempt += 1
            Step.objects.filter(pk=step.pk).update(attempt=step.attempt, error=error)
            step_event(step=step, status="RETRYING", error=error, delay_ms=delay)
        if _wait_unless_stopped(step.session_id, delay / 1000):
            break
    duration_ms = int((time.monotonic() - started) * 1000)
    _step_finish(step, outcome=outcome, error=error, duration_ms=duration_ms, lease=lease, ui_xml=ui_xml)


def _last_screen(session: TestSession) -> str | None:
    device: dict[str, Any] = session.current_state.get("device", {})
    return device.get("screen")


def screen_capture(driver: DeviceDriver) -> tuple[bytes, str] | None:
    """The screen (picture and UI tree) for the IDE after a step changed it; a failed capture costs nothing."""
    try:
        return driver.screenshot(), driver.dump_ui()
    except DeviceError:
        logger.warning("could not capture the screen of %s", driver.serial)
        return None


def _canonical_hash(effect: dict[str, Any]) -> str:
    canonical = json.dumps(effect, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _step_finish(
    step: Step,
    *,
    outcome: actions.ActionOutcome | None,
    error: dict[str, Any] | None,
    duration_ms: int,
    lease: Lease,
    ui_xml: str = "",
) -> None:
    with transaction.atomic():
        session = locked_session(step.session_id)
        step.session = session
        if not lease_holds(lease=lease):
            logger.warning("step %s: lease %s lapsed; its result is dropped", step.pk, lease.token)
            return
        stopped = error is not None and session.status in TestSession.TERMINAL
        fields: dict[str, Any] = {
            "status": Step.Status.CANCELLED if stopped else Step.Status.FAILED if error else Step.Status.COMPLETED,
            "error": error,
            "finished_at": timezone.now(),
            "duration_ms": duration_ms,
        }
        if outcome is not None:
            after = {**session.current_state, "device": outcome.state}
            fields.update(
                result=outcome.result,
                effect=outcome.effect,
                effect_hash=_canonical_hash(outcome.effect),
                state_patch=json_diff(session.current_state, after),
                screenshot=outcome.screenshot if step.action == "screenshot" else None,
            )
            session.current_state = after
        # Fenced on (status, attempt, lease token): a stale executor cannot overwrite a newer one's result.
        fence = {"status": Step.Status.RUNNING, "attempt": step.attempt, "lease_token": lease.token}
        if not Step.objects.filter(pk=step.pk, **fence).update(**fields):
            return
        for name, value in fields.items():
            setattr(step, name, value)
        session.last_activity_at = timezone.now()
        session.save(update_fields=["current_state", "last_activity_at"])
        if outcome is not None and outcome.screenshot:
            screen_store(
                session=session, png=outcome.screenshot, screen_hash=outcome.state["screen"], ui_xml=ui_xml, step=step
            )
        step_event(step=step)
