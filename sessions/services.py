"""Writes of the session lifecycle: open, set up, append steps, answer input, stop, hibernate and resume."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from devices import actions
from devices.drivers.base import DeviceError
from devices.leases import LeaseKeeper, lease_acquire, lease_release
from devices.models import Device
from devices.services import driver_for

from .dispatch import dispatch_setup_on_commit, dispatch_step_on_commit
from .errors import (
    DeviceBusy,
    DeviceUnavailable,
    InputNotExpected,
    NoDeviceAvailable,
    NotFound,
    SessionClosed,
    SessionLimit,
)
from .events import screen_store, session_status_event, step_event
from .jsonpatch import json_apply, json_diff
from .models import Decision, Step, TestSession, UserQuota
from .steps import MAX_TEXT_BYTES, StepInvalid, step_parse

logger = logging.getLogger(__name__)
Status = TestSession.Status
# Admitted and open: holds a slot of its owner's cap. A PENDING session without a device is
# waiting for a slot (queue mode) and holds none.
HOLDING_SLOT = Q(status__in=TestSession.ACTIVE) & ~Q(status=Status.PENDING, device__isnull=True)


def locked_session(session_id: Any, *, owner: AbstractBaseUser | None = None) -> TestSession:
    """The session with its row locked for this transaction (its owner's only, when `owner` is given)."""
    sessions = TestSession.objects.select_for_update(of=("self",)).select_related("device")
    if owner is None:
        return sessions.get(pk=session_id)
    try:
        return sessions.get(pk=session_id, owner=owner)
    except (TestSession.DoesNotExist, ValueError):
        raise NotFound("No such session.") from None


def set_status(session: TestSession, status: str, **fields: Any) -> None:
    """Change a locked session's status and record the event."""
    session.status = status
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=["status", *fields])
    session_status_event(session=session)


def _quota(user: AbstractBaseUser) -> UserQuota | None:
    return UserQuota.objects.filter(user=user).first()


def user_session_cap(*, user: AbstractBaseUser) -> int:
    quota = _quota(user)
    if quota is None or quota.max_active_sessions is None:
        return int(settings.MAX_ACTIVE_SESSIONS_PER_USER)
    return quota.max_active_sessions


def _claim_device(serial: str | None) -> Device:
    devices = Device.objects.select_for_update(skip_locked=serial is None)
    if serial is None:
        device = devices.filter(status=Device.Status.AVAILABLE).order_by("serial").first()
        if device is None:
            raise NoDeviceAvailable("No device is available right now; try again when a session ends.")
    else:
        device = devices.filter(serial=serial).first()
        if device is None:
            raise NotFound(f"There is no device '{serial}'. GET /api/devices/ lists them.")
        if device.status == Device.Status.BUSY:
            raise DeviceBusy(f"Device '{serial}' is in use by another session; pick another or try later.")
        if device.status != Device.Status.AVAILABLE:
            raise DeviceUnavailable(f"Device '{serial}' is {device.status}; pick another device.")
    device.status = Device.Status.BUSY
    device.save(update_fields=["status"])
    return device


def _release_device(session: TestSession) -> None:
    if session.device_id is not None:
        Device.objects.filter(pk=session.device_id, status=Device.Status.BUSY).update(status=Device.Status.AVAILABLE)


def session_open(
    *,
    owner: AbstractBaseUser,
    device_serial: str | None = None,
    name: str = "",
    app_package: str = "",
    source: str = TestSession.Source.API,
    queue: bool = False,
) -> TestSession:
    """Open a session within the owner's cap and queue its setup on the device's worker.

    Over the cap (or with no device free) a `queue=True` request waits `PENDING` without a device
    and is admitted first come, first served (`sessions_admit`); otherwise it is refused.
    """
    with transaction.atomic():
        # Locking the owner's row serialises concurrent opens by one user: the cap is race-free.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        waiting = TestSession.objects.filter(owner=owner, status=Status.PENDING, device__isnull=True).exists()
        cap = user_session_cap(user=owner)
        active = TestSession.objects.filter(HOLDING_SLOT, owner=owner).count()
        device = None
        if active >= cap or (queue and waiting):
            if not queue:
                raise SessionLimit(
                    f"You have {active} active sessions, the most allowed is {cap}. Stop one to open another, "
                    'or ask to wait for a slot with "queue": true.',
                    active=active,
                    limit=cap,
                )
        else:
            try:
                device = _claim_device(device_serial)
            except (DeviceBusy, NoDeviceAvailable):
                if not queue:
                    raise
        session = TestSession.objects.create(
            owner=owner,
            device=device,
            name=name,
            app_package=app_package,
            source=source,
            requested_device=device_serial or "",
        )
        session_status_event(session=session, **({} if device else {"waiting": "slot"}))
        if device is not None:
            dispatch_setup_on_commit(session_id=session.pk, queue=device.queue)
    logger.info("session opened", extra={"session_id": str(session.pk), "trace_id": session.trace_id})
    return session


def sessions_admit() -> int:
    """Admit waiting sessions, oldest first, where their owner's cap and a free device allow."""
    admitted = 0
    for session_id, owner_id in (
        TestSession.objects.filter(status=Status.PENDING, device__isnull=True)
        .order_by("created_at")
        .values_list("pk", "owner_id")
    ):
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=owner_id).first()
            session = locked_session(session_id)
            if session.status != Status.PENDING or session.device_id is not None:
                continue
            if TestSession.objects.filter(HOLDING_SLOT, owner_id=owner_id).count() >= user_session_cap(
                user=session.owner
            ):
                continue
            if TestSession.objects.filter(
                owner_id=owner_id, status=Status.PENDING, device__isnull=True, created_at__lt=session.created_at
            ).exists():
                continue  # an older one of the same owner goes first
            try:
                session.device = _claim_device(session.requested_device or None)
            except (DeviceBusy, NoDeviceAvailable, DeviceUnavailable, NotFound):
                continue
            session.save(update_fields=["device"])
            session_status_event(session=session, admitted=True)
            dispatch_setup_on_commit(session_id=session.pk, queue=session.device.queue)
            admitted += 1
    return admitted


def _device_state(device: Device) -> dict[str, Any]:
    return {"device": actions.device_state(driver_for(device))}


def session_setup(*, session_id: Any) -> None:
    """Run on the device's worker: wake the device, open the app, and record or rebuild the session state."""
    session = TestSession.objects.select_related("device").get(pk=session_id)
    if session.status != Status.PENDING or session.device is None:
        return
    lease = lease_acquire(serial=session.device.serial, holder=str(session.pk))
    if lease is None:
        return  # another holder's lease is still live: the sweeper sends the setup again
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status != Status.PENDING or session.device is None:
            lease_release(lease=lease)
            return
        set_status(session, Status.SETTING_UP)
    try:
        with LeaseKeeper(lease):
            driver = driver_for(session.device)
            driver.wake()
            if session.app_package:
                driver.launch_app(session.app_package)
            device_state = _device_state(session.device)
            png, ui_xml = driver.screenshot(), driver.dump_ui()
    except DeviceError as exc:
        with transaction.atomic():
            session = locked_session(session_id)
            _release_device(session)
            error = {"code": exc.code, "message": f"Device setup failed: {exc.message}"}
            set_status(session, Status.FAILED, error=error, ended_at=timezone.now())
        return
    finally:
        lease_release(lease=lease)
    with transaction.atomic():
        session = locked_session(session_id)
        if session.status != Status.SETTING_UP:
            return
        if session.ready_at is None:
            state = device_state
            set_status(session, Status.READY, initial_state=state, current_state=state, ready_at=timezone.now())
        else:  # resuming after IDLE: the state is what the stored patches say, on the device as it is now
            state = {**state_rebuild(session=session), **device_state}
            has_run = session.steps.filter(status__in=Step.TERMINAL).exists()
            set_status(session, Status.RUNNING if has_run else Status.READY, current_state=state)
        screen_store(session=session, png=png, screen_hash=device_state["device"]["screen"], ui_xml=ui_xml)
        queued = session.steps.filter(status=Step.Status.QUEUED).order_by("-index").first()
        if queued is not None:  # steps that arrived while the session waited for a slot
            dispatch_step_on_commit(step_id=queued.pk, queue=session.device.queue)


def _rate_limit_slot(owner: AbstractBaseUser) -> Any:
    """When the owner's next step may run under the per-user rate limit (now, or later: deferred)."""
    quota = _quota(owner)
    limit = quota.steps_per_window if quota and quota.steps_per_window is not None else settings.RATE_LIMIT_STEPS
    now = timezone.now()
    if not limit:
        return now
    window = timedelta(seconds=settings.RATE_LIMIT_WINDOW_SECONDS)
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    recent = list(
        Step.objects.filter(session__owner=owner, scheduled_at__gt=now - window)
        .order_by("-scheduled_at")
        .values_list("scheduled_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return now
    return max(now, recent[-1] + window)


def step_submit(*, session_id: Any, owner: AbstractBaseUser, data: Any) -> Step:
    """Validate a step request and append it to the owner's session (the REST and socket entry point).

    The step is queued on the device's worker; a step over the rate limit is DEFERRED to the
    moment the window allows; a step for an IDLE session first sets its device up again.
    """
    spec = step_parse(data)
    with transaction.atomic():
        scheduled_at = _rate_limit_slot(owner)
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to run more steps.")
        if session.status == Status.IDLE:
            _session_wake(session)
        last = session.steps.aggregate(last=Max("index"))["last"]
        deferred = scheduled_at > timezone.now()
        step = Step.objects.create(
            session=session,
            index=0 if last is None else last + 1,
            action=spec.action,
            params=spec.params,
            timeout_ms=spec.timeout_ms,
            max_retries=spec.max_retries,
            backoff=spec.backoff,
            status=Step.Status.DEFERRED if deferred else Step.Status.QUEUED,
            scheduled_at=scheduled_at,
        )
        step.session = session
        session.last_activity_at = timezone.now()
        session.save(update_fields=["last_activity_at"])
        if deferred:
            Decision.objects.create(
                session=session, step=step, kind=Decision.Kind.DEFER, reason="rate_limit", schedule_at=scheduled_at
            )
            step_event(step=step, reason="rate_limit", schedule_at=scheduled_at.isoformat())
        else:
            Decision.objects.create(session=session, step=step, kind=Decision.Kind.INVOKE)
            step_event(step=step)
            if session.device is not None:  # a session still setting up runs it first: same queue
                dispatch_step_on_commit(step_id=step.pk, queue=session.device.queue)
    return step


def _session_wake(session: TestSession) -> None:
    """An IDLE session claims its device again (or any free one) and queues its setup."""
    serial = session.device.serial if session.device else None
    try:
        device = _claim_device(serial)
    except (DeviceBusy, DeviceUnavailable, NotFound):
        try:
            device = _claim_device(None)
        except NoDeviceAvailable:
            raise DeviceBusy(
                f"This session was idle and its device {serial} is now in use; no other device is free. "
                "Try again when a session ends."
            ) from None
    session.device = device
    session.save(update_fields=["device"])
    set_status(session, Status.PENDING, error=None)
    dispatch_setup_on_commit(session_id=session.pk, queue=device.queue)


def session_hibernate(*, session_id: Any) -> bool:
    """After SESSION_IDLE_SECONDS without activity: release the device and go IDLE."""
    with transaction.atomic():
        session = locked_session(session_id)
        idle_since = timezone.now() - timedelta(seconds=settings.SESSION_IDLE_SECONDS)
        if session.status not in (Status.READY, Status.RUNNING) or session.last_activity_at > idle_since:
            return False
        if session.steps.exclude(status__in=Step.TERMINAL).exists():
            return False
        _release_device(session)
        set_status(session, Status.IDLE)
        return True


def sessions_pause_on_device(*, device: Device, reason: str) -> int:
    """The device went away: its sessions pause (IDLE, with the reason); the next step resumes them
    on it when it is back, or on another free device."""
    paused = 0
    for session_id in TestSession.objects.filter(device=device, status__in=TestSession.HOLDING_DEVICE).values_list(
        "pk", flat=True
    ):
        session = locked_session(session_id)
        if session.status not in TestSession.HOLDING_DEVICE:
            continue
        error = {"code": "device_offline", "message": f"{reason} The session is paused; send a step to resume it."}
        set_status(session, Status.IDLE, error=error)
        paused += 1
    return paused


def session_input(*, session_id: Any, owner: AbstractBaseUser, input_id: Any, value: Any) -> Step:
    """Answer the session's pending `ask_user` step and let the steps behind it run."""
    if not isinstance(value, str) or len(value.encode()) > MAX_TEXT_BYTES:
        raise StepInvalid("value", f"'value' must be a string of at most {MAX_TEXT_BYTES} bytes.")
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        step_id = int(input_id) if str(input_id).isdigit() else None
        step = session.steps.filter(pk=step_id, action="ask_user").first() if step_id else None
        if step is None or step.status != Step.Status.RUNNING or session.status != Status.WAITING_INPUT:
            raise InputNotExpected("This session is not waiting for that input.")
        inputs = {**session.current_state.get("inputs", {}), str(step.index): value}
        after = {**session.current_state, "inputs": inputs}
        now = timezone.now()
        Step.objects.filter(pk=step.pk).update(
            status=Step.Status.COMPLETED,
            result={"value": value},
            finished_at=now,
            state_patch=json_diff(session.current_state, after),
            duration_ms=int((now - step.started_at).total_seconds() * 1000) if step.started_at else 0,
        )
        step.refresh_from_db()
        step.session = session
        session.current_state, session.last_activity_at = after, now
        session.save(update_fields=["current_state", "last_activity_at"])
        step_event(step=step)
        set_status(session, Status.RUNNING)
        nxt = session.steps.filter(status=Step.Status.QUEUED).order_by("-index").first()
        if nxt is not None and session.device is not None:
            dispatch_step_on_commit(step_id=nxt.pk, queue=session.device.queue)
        from turns.services import turn_dispatch_after_input

        turn_dispatch_after_input(session=session, step=step)
    return step


def session_stop(*, session_id: Any, owner: AbstractBaseUser) -> TestSession:
    """Cancel what has not run, release the device and close the session; stopping twice is harmless.

    A step running on the device stops at its next safe point (before a retry, during a backoff
    wait); its result, if it completes, is still recorded.
    """
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            return session
        pending = list(session.steps.exclude(status__in=Step.TERMINAL).order_by("index"))
        for step in pending:
            if step.status == Step.Status.RUNNING and step.action != "ask_user":
                continue
            step.status, step.finished_at, step.session = Step.Status.CANCELLED, timezone.now(), session
            step.save(update_fields=["status", "finished_at"])
            Decision.objects.create(session=session, step=step, kind=Decision.Kind.SKIP, reason="session_stopped")
            step_event(step=step)
        _release_device(session)
        set_status(session, Status.CANCELLED if pending else Status.COMPLETED, ended_at=timezone.now())
    return session


def state_rebuild(*, session: TestSession) -> dict[str, Any]:
    """The session state from its initial state plus every stored patch, in step order."""
    state = session.initial_state
    patches = session.steps.filter(status=Step.Status.COMPLETED).order_by("index").values_list("state_patch", flat=True)
    for patch in patches:
        state = json_apply(state, patch)
    return state
