"""Writes of the session domain: open, set up, append and run steps, answer input, stop."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from devices import actions
from devices.drivers.base import DeviceError
from devices.models import Device
from devices.services import driver_for

from .errors import (
    DeviceBusy,
    DeviceUnavailable,
    InputNotExpected,
    NoDeviceAvailable,
    NotFound,
    SessionClosed,
    SessionLimit,
)
from .events import event_append, session_status_event, step_event
from .jsonpatch import json_apply, json_diff
from .models import SessionEvent, Step, TestSession, UserQuota
from .steps import MAX_TEXT_BYTES, StepInvalid, step_parse

logger = logging.getLogger(__name__)
Status = TestSession.Status


def _locked(session_id: Any, *, owner: AbstractBaseUser | None = None) -> TestSession:
    """The session with its row locked for this transaction (its owner's only, when `owner` is given)."""
    sessions = TestSession.objects.select_for_update(of=("self",)).select_related("device")
    if owner is None:
        return sessions.get(pk=session_id)
    try:
        return sessions.get(pk=session_id, owner=owner)
    except TestSession.DoesNotExist:
        raise NotFound("No such session.") from None


def _set_status(session: TestSession, status: str, **fields: Any) -> None:
    session.status = status
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=["status", *fields])
    session_status_event(session=session)


def user_session_cap(*, user: AbstractBaseUser) -> int:
    quota = UserQuota.objects.filter(user=user).values_list("max_active_sessions", flat=True).first()
    return settings.MAX_ACTIVE_SESSIONS_PER_USER if quota is None else quota


def _claim_device(serial: str | None) -> Device:
    devices = Device.objects.select_for_update(skip_locked=serial is None)
    if serial is None:
        device = devices.filter(status=Device.Status.AVAILABLE).order_by("serial").first()
        if device is None:
            raise NoDeviceAvailable("No device is available right now; try again when a session ends.")
        return device
    device = devices.filter(serial=serial).first()
    if device is None:
        raise NotFound(f"There is no device '{serial}'. GET /api/devices/ lists them.")
    if device.status == Device.Status.BUSY:
        raise DeviceBusy(f"Device '{serial}' is in use by another session; pick another or try later.")
    if device.status != Device.Status.AVAILABLE:
        raise DeviceUnavailable(f"Device '{serial}' is {device.status}; pick another device.")
    return device


def session_open(
    *,
    owner: AbstractBaseUser,
    device_serial: str | None = None,
    name: str = "",
    app_package: str = "",
    source: str = TestSession.Source.API,
) -> TestSession:
    """Open a session on a device, within the owner's cap, and queue its setup on the device's worker."""
    from .tasks import setup_device

    with transaction.atomic():
        # Locking the owner's row serialises concurrent opens by one user: the cap is race-free.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        cap = user_session_cap(user=owner)
        active = TestSession.objects.filter(owner=owner, status__in=TestSession.ACTIVE).count()
        if active >= cap:
            raise SessionLimit(
                f"You have {active} active sessions, the most allowed is {cap}. Stop one to open another.",
                active=active,
                limit=cap,
            )
        device = _claim_device(device_serial)
        device.status = Device.Status.BUSY
        device.save(update_fields=["status"])
        session = TestSession.objects.create(
            owner=owner, device=device, name=name, app_package=app_package, source=source
        )
        session_status_event(session=session)
        transaction.on_commit(
            lambda: setup_device.apply_async(kwargs={"session_id": str(session.pk)}, queue=device.queue)
        )
    logger.info("session opened", extra={"session_id": str(session.pk), "trace_id": session.trace_id})
    return session


def _device_state(device: Device) -> dict[str, Any]:
    return {"device": actions.device_state(driver_for(device))}


def session_setup(*, session_id: Any) -> None:
    """Run on the device's worker: wake the device, open the app, record the initial state."""
    with transaction.atomic():
        session = _locked(session_id)
        if session.status != Status.PENDING:
            return
        _set_status(session, Status.SETTING_UP)
    try:
        driver = driver_for(session.device)
        driver.wake()
        if session.app_package:
            driver.launch_app(session.app_package)
        state = _device_state(session.device)
    except DeviceError as exc:
        with transaction.atomic():
            session = _locked(session_id)
            _release_device(session)
            _set_status(
                session,
                Status.FAILED,
                error={"code": exc.code, "message": f"Device setup failed: {exc.message}"},
                ended_at=timezone.now(),
            )
        return
    with transaction.atomic():
        session = _locked(session_id)
        if session.status != Status.SETTING_UP:
            return
        _set_status(session, Status.READY, initial_state=state, current_state=state, ready_at=timezone.now())


def _release_device(session: TestSession) -> None:
    if session.device_id is not None:
        Device.objects.filter(pk=session.device_id, status=Device.Status.BUSY).update(
            status=Device.Status.AVAILABLE
        )


def step_submit(*, session_id: Any, owner: AbstractBaseUser, data: Any) -> Step:
    """Validate a step request and append it to the owner's session (the REST and socket entry point)."""
    spec = step_parse(data)
    from .tasks import execute_step

    with transaction.atomic():
        session = _locked(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to run more steps.")
        last = session.steps.aggregate(last=Max("index"))["last"]
        step = Step.objects.create(
            session=session,
            index=0 if last is None else last + 1,
            action=spec.action,
            params=spec.params,
            timeout_ms=spec.timeout_ms,
            max_retries=spec.max_retries,
            backoff=spec.backoff,
        )
        step.session = session
        step_event(step=step)
        queue = session.device.queue
        transaction.on_commit(lambda: execute_step.apply_async(kwargs={"step_id": step.pk}, queue=queue))
    return step


def _claim_next(session_id: Any, upto: int) -> Step | None:
    """Claim the lowest queued step (index ≤ upto) if no step of the session is still running."""
    with transaction.atomic():
        session = _locked(session_id)
        if session.status in TestSession.TERMINAL:
            return None
        pending = (Step.Status.QUEUED, Step.Status.DEFERRED, Step.Status.RUNNING)
        step = session.steps.filter(status__in=pending).order_by("index").first()
        if step is None or step.status != Step.Status.QUEUED or step.index > upto:
            return None
        now = timezone.now()
        claimed = Step.objects.filter(pk=step.pk, status=Step.Status.QUEUED).update(
            status=Step.Status.RUNNING, attempt=step.attempt + 1, started_at=now
        )
        if not claimed:
            return None
        step.status, step.attempt, step.started_at, step.session = (
            Step.Status.RUNNING,
            step.attempt + 1,
            now,
            session,
        )
        if session.status == Status.READY:
            _set_status(session, Status.RUNNING)
        step_event(step=step)
        return step


def steps_run(*, step_id: int) -> None:
    """Run on the device's worker: execute the session's queued steps in order, up to this one."""
    target = Step.objects.filter(pk=step_id).values("session_id", "index", "session__status").first()
    if target is None:
        return
    if target["session__status"] == Status.PENDING:
        session_setup(session_id=target["session_id"])  # its own task was lost or has not run
    while (step := _claim_next(target["session_id"], target["index"])) is not None:
        _step_execute(step)
        if step.index == target["index"]:
            return


def backoff_delay_ms(*, backoff: dict[str, Any], attempt: int) -> int:
    """Delay before retry number `attempt` (1 = the first retry)."""
    base, cap = backoff.get("base_ms", 500), backoff.get("max_ms", 10_000)
    strategy = backoff.get("strategy", "exponential")
    delay = base * (
        2 ** (attempt - 1) if strategy == "exponential" else attempt if strategy == "linear" else 1
    )
    return int(min(delay, cap))


def _step_execute(step: Step) -> None:
    session = step.session
    if step.action == "ask_user":
        with transaction.atomic():
            session = _locked(session.pk)
            _set_status(session, Status.WAITING_INPUT)
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
    while True:
        try:
            outcome = actions.perform(
                driver_for(session.device),
                action=step.action,
                params=step.params,
                deadline=time.monotonic() + step.timeout_ms / 1000,
            )
            error = None
        except DeviceError as exc:
            outcome, error = None, {"code": exc.code, "message": exc.message, "retryable": exc.retryable}
        except Exception as exc:  # a bug must fail the step, not the worker
            logger.exception("step %s crashed", step.pk)
            outcome, error = (
                None,
                {"code": "internal_error", "message": f"CogniSim failed: {exc}", "retryable": False},
            )
        retries_done = step.attempt - 1
        if error is None or not error["retryable"] or retries_done >= step.max_retries:
            break
        delay = backoff_delay_ms(backoff=step.backoff, attempt=retries_done + 1)
        with transaction.atomic():
            session = _locked(session.pk)
            step.session = session
            Step.objects.filter(pk=step.pk).update(attempt=step.attempt + 1, error=error)
            step_event(step=step, status="RETRYING", error=error, delay_ms=delay)
            step.attempt += 1
        time.sleep(delay / 1000)
    _step_finish(step, outcome=outcome, error=error, duration_ms=int((time.monotonic() - started) * 1000))


def _canonical_hash(effect: dict[str, Any]) -> str:
    canonical = json.dumps(effect, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _step_finish(
    step: Step, *, outcome: actions.ActionOutcome | None, error: dict[str, Any] | None, duration_ms: int
) -> None:
    with transaction.atomic():
        session = _locked(step.session_id)
        step.session = session
        fields: dict[str, Any] = {
            "status": Step.Status.FAILED if error else Step.Status.COMPLETED,
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
                screenshot=outcome.screenshot,
            )
            session.current_state = after
        # Fenced on (status, attempt): a stale executor cannot overwrite a newer attempt's result.
        if not Step.objects.filter(pk=step.pk, status=Step.Status.RUNNING, attempt=step.attempt).update(
            **fields
        ):
            return
        for name, value in fields.items():
            setattr(step, name, value)
        session.last_activity_at = timezone.now()
        session.save(update_fields=["current_state", "last_activity_at"])
        if step.screenshot:
            url = f"/api/sessions/{session.pk}/steps/{step.pk}/screenshot.png"
            TestSession.objects.filter(pk=session.pk).update(screen_url=url)
            event_append(
                session=session, type=SessionEvent.Type.SCREEN, payload={"step_id": step.pk, "url": url}
            )
        step_event(step=step)


def session_input(*, session_id: Any, owner: AbstractBaseUser, input_id: Any, value: Any) -> Step:
    """Answer the session's pending `ask_user` step and let the steps behind it run."""
    from .tasks import execute_step

    if not isinstance(value, str) or len(value.encode()) > MAX_TEXT_BYTES:
        raise StepInvalid("value", f"'value' must be a string of at most {MAX_TEXT_BYTES} bytes.")
    with transaction.atomic():
        session = _locked(session_id, owner=owner)
        step_id = int(input_id) if str(input_id).isdigit() else None
        step = session.steps.filter(pk=step_id, action="ask_user").first() if step_id else None
        if step is None or step.status != Step.Status.RUNNING:
            raise InputNotExpected("This session is not waiting for that input.")
        after = {
            **session.current_state,
            "inputs": {**session.current_state.get("inputs", {}), str(step.index): value},
        }
        step.status, step.result, step.finished_at = Step.Status.COMPLETED, {"value": value}, timezone.now()
        step.state_patch = json_diff(session.current_state, after)
        step.duration_ms = (
            int((step.finished_at - step.started_at).total_seconds() * 1000) if step.started_at else 0
        )
        step.save(update_fields=["status", "result", "finished_at", "state_patch", "duration_ms"])
        step.session = session
        session.current_state, session.last_activity_at = after, timezone.now()
        session.save(update_fields=["current_state", "last_activity_at"])
        step_event(step=step)
        _set_status(session, Status.RUNNING)
        nxt = session.steps.filter(status=Step.Status.QUEUED).order_by("-index").first()
        if nxt is not None:
            queue = session.device.queue
            transaction.on_commit(lambda: execute_step.apply_async(kwargs={"step_id": nxt.pk}, queue=queue))
    return step


def session_stop(*, session_id: Any, owner: AbstractBaseUser) -> TestSession:
    """Cancel what has not run, release the device and close the session; stopping twice is harmless."""
    with transaction.atomic():
        session = _locked(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            return session
        pending = list(
            session.steps.filter(
                status__in=[Step.Status.QUEUED, Step.Status.DEFERRED, Step.Status.RUNNING]
            ).order_by("index")
        )
        cut_short = bool(pending)
        for step in pending:
            if step.status == Step.Status.RUNNING and step.action != "ask_user":
                continue  # finishes on the device; its result is still recorded
            step.status, step.finished_at = Step.Status.CANCELLED, timezone.now()
            step.save(update_fields=["status", "finished_at"])
            step.session = session
            step_event(step=step)
        _release_device(session)
        _set_status(session, Status.CANCELLED if cut_short else Status.COMPLETED, ended_at=timezone.now())
    return session


def state_rebuild(*, session: TestSession) -> dict[str, Any]:
    """The session state from its initial state plus every stored patch, in step order."""
    state = session.initial_state
    for patch in (
        session.steps.filter(status=Step.Status.COMPLETED)
        .order_by("index")
        .values_list("state_patch", flat=True)
    ):
        state = json_apply(state, patch)
    return state
