"""The device lane: the worker side of a session, the one owner of its device's queue.

Request-side services only write rows and ring the lane (`sessions/dispatch.py`). On the device's
worker, `session_drain` takes the device's lease (held by this worker for as long as it lives,
`devices.leases.lane_lease`), sets the session up if it still has to be, then claims and runs its
steps strictly in index order, applying the session's policy before each one: a CI run stops at
its first failed step (every later step is cancelled before it starts) and ends when its steps are
done; a stopped session runs nothing more; a deferred step or an open question waits. A drain that
finds nothing to do costs a couple of queries: ringing twice is harmless.

After a step the worker publishes its outcome first and only then reads the new screen for the
IDE (picture and UI tree): the screen is off the step's critical path. A worker that starts seizes
its device's lease and takes back at once the step its predecessor left RUNNING
(`lane_recover`); the recovery sweeper is the fallback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices import actions
from devices.drivers.base import DeviceDriver, DeviceError
from devices.leases import Lease, lane_lease, lane_lease_lost, lease_holds
from devices.models import Device
from devices.services import driver_for
from devices.uitree import ui_hash

from .dispatch import lane_open, lane_ring, lane_ring_heard
from .events import event_append, screen_store, step_event
from .jsonpatch import json_diff
from .models import SessionEvent, Step, TestSession
from .services.base import locked_session, release_device, set_status, state_rebuild, steps_cancel_pending

logger = logging.getLogger(__name__)
Status = TestSession.Status
PENDING_STEP = (Step.Status.QUEUED, Step.Status.DEFERRED, Step.Status.RUNNING)
STOP_POLL_S = 0.25
SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
WORKER_LOST = {"code": "worker_lost", "message": "The device's worker stopped during this step.", "retryable": True}


def _session(session_id: Any) -> TestSession | None:
    return TestSession.objects.select_related("device").filter(pk=session_id).first()


def _lease(session: TestSession) -> Lease | None:
    assert session.device is not None
    lease = lane_lease(serial=session.device.serial)
    if lease is None:
        logger.warning("device %s: its lease is held by another process; not draining", session.device.serial)
    return lease


def session_setup(*, session_id: Any) -> None:
    """`sessions.setup`, first link of `chain(setup, drain)`: wake the device and open the app."""
    session = _session(session_id)
    if session is None or session.device is None or session.status != Status.PENDING:
        return
    lease = _lease(session)
    if lease is not None:
        _setup(session, lease)


def session_drain(*, session_id: Any) -> None:
    """`sessions.drain`: run the session's pending work in order — setup, then steps — under the lease."""
    lane_ring_heard(session_id=session_id)
    session = _session(session_id)
    if session is None or session.device is None or session.status in TestSession.TERMINAL:
        return
    lease = _lease(session)
    if lease is None:
        return
    if session.status == Status.PENDING and not _setup(session, lease):
        return
    while (step := _claim_next(session.pk, lease)) is not None:
        _step_execute(step, lease)


# --- setup ------------------------------------------------------------------------------------------


def _setup(session: TestSession, lease: Lease) -> bool:
    """Wake the device, open the app, and record (or, after IDLE, rebuild) the state. True when READY."""
    with transaction.atomic():
        session = locked_session(session.pk)
        if session.status != Status.PENDING or session.device is None:
            return session.status not in TestSession.TERMINAL
        set_status(session, Status.SETTING_UP)
    device = session.device
    assert device is not None
    try:
        driver = driver_for(device)
        driver.wake()
        if session.app_package:
            driver.launch_app(session.app_package)
        device_state = {"device": actions.device_state(driver)}
        png, ui_xml = driver.screenshot(), driver.dump_ui()
    except DeviceError as exc:
        with transaction.atomic():
            session = locked_session(session.pk)
            if session.status != Status.SETTING_UP:
                return False
            release_device(session)
            error = {"code": exc.code, "message": f"Device setup failed: {exc.message}"}
            steps_cancel_pending(session, reason="setup_failed")
            set_status(session, Status.FAILED, error=error, ended_at=timezone.now())
        return False
    with transaction.atomic():
        session = locked_session(session.pk)
        if session.status != Status.SETTING_UP or not lease_holds(lease=lease):
            return False
        if session.ready_at is None:
            state = device_state
            set_status(session, Status.READY, initial_state=state, current_state=state, ready_at=timezone.now())
        else:  # resuming after IDLE: the state is what the stored patches say, on the device as it is now
            state = {**state_rebuild(session=session), **device_state}
            has_run = session.steps.filter(status__in=Step.TERMINAL).exists()
            set_status(session, Status.RUNNING if has_run else Status.READY, current_state=state)
        screen_store(session=session, png=png, screen_hash=device_state["device"]["screen"], ui_xml=ui_xml)
    return True


# --- claiming, with the session's policy --------------------------------------------------------------


def _claim_next(session_id: Any, lease: Lease) -> Step | None:
    """Claim the session's next step if it may run now; end a CI run that is done or has failed."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status not in (Status.READY, Status.RUNNING):
            return None  # stopped, paused, hibernated, waiting for an answer, or not set up
        step = session.steps.filter(status__in=PENDING_STEP).order_by("index").first()
        if step is None:
            if session.end_when_drained:
                _end(session)
            return None
        if step.status != Step.Status.QUEUED:
            return None  # one is running (or asking), or the next one is deferred: it rings again
        if session.stop_on_failure and session.steps.filter(status=Step.Status.FAILED, optional=False).exists():
            steps_cancel_pending(session, reason="earlier_step_failed")
            _end(session)
            return None
        now = timezone.now()
        claimed = Step.objects.filter(pk=step.pk, status=Step.Status.QUEUED).update(
            status=Step.Status.RUNNING, attempt=step.attempt + 1, started_at=now, lease_token=lease.token
        )
        if not claimed:
            return None
        step.status, step.attempt, step.started_at, step.session = Step.Status.RUNNING, step.attempt + 1, now, session
        step.lease_token = lease.token
        step.timings = {**step.timings, "queue_ms": max(0, int((now - step.queued_at).total_seconds() * 1000))}
        if session.status == Status.READY:
            set_status(session, Status.RUNNING)
        step_event(step=step)
        return step


def _end(session: TestSession) -> None:
    """A CI run's session is done: COMPLETED, or FAILED at its first failed step; the device is freed."""
    failed = session.steps.filter(status=Step.Status.FAILED, optional=False).order_by("index").first()
    error = None
    if failed is not None:
        reason = (failed.error or {}).get("message", "")
        error = {"code": "step_failed", "step_index": failed.index, "message": f"Step {failed.index} failed: {reason}"}
    release_device(session)
    set_status(
        session, Status.FAILED if failed else Status.COMPLETED, error=error or session.error, ended_at=timezone.now()
    )


# --- running a step ---------------------------------------------------------------------------------


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


def secrets_resolve(value: Any, secrets: dict[str, str]) -> Any:
    """`${NAME}` → the secret's value, in every string of a step's params."""
    if isinstance(value, str):
        return SECRET_REF.sub(lambda m: secrets.get(m[1], m[0]), value) if "${" in value else value
    if isinstance(value, dict):
        return {key: secrets_resolve(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_resolve(inner, secrets) for inner in value]
    return value


def secrets_mask(value: Any, secrets: dict[str, str]) -> Any:
    """Every secret value → `${NAME}`, in every string of a result, an effect or an error."""
    if isinstance(value, str):
        for name, secret in secrets.items():
            if secret and secret in value:
                value = value.replace(secret, "${" + name + "}")
        return value
    if isinstance(value, dict):
        return {key: secrets_mask(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_mask(inner, secrets) for inner in value]
    return value


def _ask(step: Step) -> None:
    with transaction.atomic():
        session = locked_session(step.session_id)
        set_status(session, Status.WAITING_INPUT)
        payload = {"input_id": step.pk, "step_id": step.pk, "step_index": step.index, "prompt": step.params["prompt"]}
        if step.params.get("choices"):
            payload["choices"] = step.params["choices"]
        event_append(session=session, type=SessionEvent.Type.USER_INPUT_REQUIRED, payload=payload)


def _step_execute(step: Step, lease: Lease) -> None:
    if step.action == "ask_user":
        _ask(step)
        return
    session = step.session
    device = session.device
    assert device is not None
    params = secrets_resolve(step.params, session.secrets) if session.secrets else step.params
    screen_before = session.current_state.get("device", {}).get("screen")
    started = time.monotonic()
    while True:
        try:
            driver = driver_for(device)
            outcome = actions.perform(
                driver, action=step.action, params=params, deadline=time.monotonic() + step.timeout_ms / 1000
            )
            error = None
        except DeviceError as exc:
            outcome, error = None, {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
            if exc.details:
                error["details"] = exc.details
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
            masked = secrets_mask(error, session.secrets)
            Step.objects.filter(pk=step.pk).update(attempt=step.attempt, error=masked)
            step_event(step=step, status="RETRYING", error=masked, delay_ms=delay)
        if _wait_unless_stopped(step.session_id, delay / 1000):
            break
    device_ms = int((time.monotonic() - started) * 1000)
    if _step_finish(step, outcome=outcome, error=error, device_ms=device_ms, lease=lease):
        changed = outcome is not None and outcome.state["screen"] != screen_before
        _record_screen(step, driver_for(device), changed=changed)


def _canonical_hash(effect: dict[str, Any]) -> str:
    canonical = json.dumps(effect, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _step_finish(
    step: Step, *, outcome: actions.ActionOutcome | None, error: dict[str, Any] | None, device_ms: int, lease: Lease
) -> bool:
    """Record the outcome, fenced by the lease token; True if it was recorded."""
    with transaction.atomic():
        session = locked_session(step.session_id)
        before = session.current_state
        step.session = session
        if not lease_holds(lease=lease):
            logger.warning("step %s: lease %s lapsed; its result is dropped", step.pk, lease.token)
            lane_lease_lost(serial=lease.serial)
            return False
        secrets = session.secrets
        stopped = error is not None and session.status in TestSession.TERMINAL
        fields: dict[str, Any] = {
            "status": Step.Status.CANCELLED if stopped else Step.Status.FAILED if error else Step.Status.COMPLETED,
            "error": secrets_mask(error, secrets) if error else None,
            "finished_at": timezone.now(),
            "duration_ms": device_ms,
            "timings": {**step.timings, "device_ms": device_ms},
        }
        if outcome is not None:
            after = {**before, "device": outcome.state}
            effect = secrets_mask(outcome.effect, secrets)
            fields.update(
                result=secrets_mask(outcome.result, secrets),
                effect=effect,
                effect_hash=_canonical_hash(effect),
                state_patch=json_diff(before, after),
                screenshot=outcome.screenshot if step.action == "screenshot" else None,
                screen_hash=outcome.state["screen"],
            )
            session.current_state = after
        fence = {"status": Step.Status.RUNNING, "attempt": step.attempt, "lease_token": lease.token}
        if not Step.objects.filter(pk=step.pk, **fence).update(**fields):
            return False
        for name, value in fields.items():
            setattr(step, name, value)
        session.last_activity_at = timezone.now()
        session.save(update_fields=["current_state", "last_activity_at"])
        step_event(step=step)
    return True


def _record_screen(step: Step, driver: DeviceDriver, *, changed: bool) -> None:
    """After the outcome is out: keep the new screen (picture and UI tree) for the IDE, and for a failed
    step the screen at the moment of failure. A failed capture costs nothing but the picture."""
    if not changed and step.status != Step.Status.FAILED:
        return
    started = time.monotonic()
    try:
        png, ui_xml = driver.screenshot(), driver.dump_ui()
    except DeviceError:
        logger.warning("could not capture the screen of %s after step %s", driver.serial, step.pk)
        return
    screen = step.screen_hash or ui_hash(ui_xml)
    record_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        session = locked_session(step.session_id)
        timings = {**step.timings, "record_ms": record_ms}
        Step.objects.filter(pk=step.pk).update(screen_hash=screen, timings=timings)
        screen_store(session=session, png=png, screen_hash=screen, ui_xml=ui_xml, step=step, record_ms=record_ms)


# --- recovery when the worker starts --------------------------------------------------------------------


def lane_recover(*, serial: str) -> int:
    """Run by a device's worker when it starts: seize the device's lease and take back the step its
    predecessor left RUNNING (the fencing token keeps that predecessor out if it still lives), and the
    setup it left half done; then ring the lane of every session on the device with work."""
    device = Device.objects.filter(serial=serial).first()
    if device is None:
        return 0
    lease = lane_lease(serial=serial, seize=True)
    assert lease is not None
    recovered = 0
    open_sessions = TestSession.objects.filter(device=device, status__in=TestSession.HOLDING_DEVICE)
    for session_id in open_sessions.values_list("pk", flat=True):
        with transaction.atomic():
            session = locked_session(session_id)
            if session.status == Status.SETTING_UP:
                set_status(session, Status.PENDING)
            orphans = session.steps.filter(status=Step.Status.RUNNING).exclude(action="ask_user")
            for step in orphans.exclude(lease_token=lease.token):
                step.session = session
                steps_requeue_lost(step)
                recovered += 1
        lane_ring_heard(session_id=session_id)  # a mark left by the dead worker's last ring must not hold this one
        status = TestSession.objects.filter(pk=session_id).values_list("status", flat=True).first()
        (lane_open if status == Status.PENDING else lane_ring)(session_id=session_id, queue=device.queue)
    logger.info("device %s: this worker owns its lane (lease %s); %d step(s) back", serial, lease.token, recovered)
    return recovered


def steps_requeue_lost(step: Step) -> None:
    """A step whose worker died (its session locked in this transaction): run it again, or fail it when
    its retries are spent or its session ended. Its effect was never recorded, so it applies once."""
    session = step.session
    if step.attempt > step.max_retries or session.status in TestSession.TERMINAL:
        Step.objects.filter(pk=step.pk).update(status=Step.Status.FAILED, error=WORKER_LOST, finished_at=timezone.now())
        step.status, step.error = Step.Status.FAILED, WORKER_LOST
        step_event(step=step)
    else:
        Step.objects.filter(pk=step.pk).update(status=Step.Status.QUEUED, error=WORKER_LOST)
        step_event(step=step, status="RETRYING", error=WORKER_LOST, delay_ms=0)
        step.status = Step.Status.QUEUED
    logger.warning("step %s of session %s: its worker was lost; %s", step.pk, session.pk, step.status)
