"""Sessions from open to stop: admission, setup, idle and pause, resume."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from core.errors import NotFound
from devices.models import Device

from ..dispatch import lane_open_on_commit
from ..errors import (
    DeviceBusy,
    DeviceUnavailable,
    NoDeviceAvailable,
    SessionLimit,
    WaitingLimit,
)
from ..events import session_status_event
from ..models import Step, TestSession
from .base import (
    HOLDING_SLOT,
    claim_device,
    device_not_found,
    locked_session,
    release_device,
    retry_on_deadlock,
    set_status,
    steps_cancel_pending,
    user_session_cap,
)

logger = logging.getLogger(__name__)
Status = TestSession.Status


@retry_on_deadlock
def session_open(
    *,
    owner: AbstractBaseUser,
    device_serial: str | None = None,
    name: str = "",
    app_package: str = "",
    source: str = TestSession.Source.API,
    queue: bool = False,
    stop_on_failure: bool = False,
    end_when_drained: bool = False,
    secrets: dict[str, str] | None = None,
) -> TestSession:
    """Open a session within the owner's cap and ring its device's lane: `chain(setup, drain)`.

    Over the cap (or with no device free) a `queue=True` request waits `PENDING` without a device
    and is admitted in turn with other users' (`sessions_admit`); otherwise it is refused.
    `stop_on_failure` and `end_when_drained` are the policy of a CI run; `secrets` are the values
    its steps refer to as `${NAME}`.
    """
    if device_serial and not Device.objects.filter(serial=device_serial).exists():
        raise device_not_found(device_serial)  # before the cap: a queued request would wait for it for ever
    with transaction.atomic():
        # Locking the owner's row serialises concurrent opens by one user: the cap is race-free.
        get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
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
                device = claim_device(device_serial)
            except (DeviceBusy, NoDeviceAvailable):
                if not queue:
                    raise
        if device is None:
            waiting_cap = int(settings.MAX_WAITING_SESSIONS_PER_USER)
            waiting_now = TestSession.objects.filter(owner=owner, status=Status.PENDING, device__isnull=True).count()
            if waiting_now >= waiting_cap:
                raise WaitingLimit(
                    f"You have {waiting_cap} sessions waiting for a device, the most allowed; "
                    "wait for one to start or stop one.",
                    limit=waiting_cap,
                )
        session = TestSession.objects.create(
            owner=owner,
            device=device,
            name=name,
            app_package=app_package,
            source=source,
            requested_device=device_serial or "",
            stop_on_failure=stop_on_failure,
            end_when_drained=end_when_drained,
            secrets=secrets or {},
        )
        session_status_event(session=session, **({} if device else {"waiting": "slot"}))
        if device is not None:
            lane_open_on_commit(session_id=session.pk, queue=device.queue)
    logger.info("session opened", extra={"session_id": str(session.pk), "trace_id": session.trace_id})
    return session


def sessions_admit() -> int:
    """Admit waiting sessions where their owner's cap and a free device allow, fairly between users.

    Each admission goes to the oldest waiting session of the owner holding the fewest sessions (then the
    oldest such session): a user who queued a burst gets a freed device in turn with everyone else, never
    ahead of another user's session that waits behind the burst. An owner's own sessions go oldest first.
    """
    admitted = 0
    while any(_admit(session_id) for session_id in _admission_order()):
        admitted += 1
    return admitted


def _admission_order() -> list[Any]:
    """The oldest waiting session of each owner, the owner holding the fewest sessions first."""
    oldest: dict[Any, tuple[Any, Any]] = {}
    for session_id, owner_id, created_at in (
        TestSession.objects.filter(status=Status.PENDING, device__isnull=True)
        .order_by("created_at")
        .values_list("pk", "owner_id", "created_at")
    ):
        oldest.setdefault(owner_id, (session_id, created_at))
    holding = dict(
        TestSession.objects.filter(HOLDING_SLOT, owner_id__in=oldest)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    ranked = sorted(oldest.items(), key=lambda item: (holding.get(item[0], 0), item[1][1]))
    return [session_id for _, (session_id, _) in ranked]


def _admit(session_id: Any) -> bool:
    """Give a waiting session its slot and a device, if its owner's cap and a free device allow."""
    with transaction.atomic():
        owner_id = TestSession.objects.filter(pk=session_id).values_list("owner_id", flat=True).first()
        get_user_model().objects.select_for_update(no_key=True).filter(pk=owner_id).first()
        session = locked_session(session_id)
        if session.status != Status.PENDING or session.device_id is not None:
            return False
        if TestSession.objects.filter(HOLDING_SLOT, owner_id=owner_id).count() >= user_session_cap(user=session.owner):
            return False
        if TestSession.objects.filter(
            owner_id=owner_id, status=Status.PENDING, device__isnull=True, created_at__lt=session.created_at
        ).exists():
            return False  # an older one of the same owner goes first
        try:
            session.device = claim_device(session.requested_device or None)
        except (DeviceBusy, NoDeviceAvailable, DeviceUnavailable, NotFound):
            return False
        session.save(update_fields=["device"])
        session_status_event(session=session, admitted=True)
        lane_open_on_commit(session_id=session.pk, queue=session.device.queue)
    return True


def session_wake(session: TestSession) -> None:
    """An IDLE session claims its device again (or any free one) and queues its setup.

    A session that named its device, and a CI run's, stay with theirs: another phone would be a choice the
    user did not make, and a run's later steps would meet a phone in another state (a failure that is not the
    app's). They wait until their device can be claimed again (DeviceBusy until then)."""
    serial = session.device.serial if session.device else None
    try:
        device = claim_device(serial)
    except (DeviceBusy, DeviceUnavailable, NotFound) as exc:
        if serial and (session.requested_device or session.end_when_drained):
            why = "it was asked for by name" if session.requested_device else "its run goes on on it"
            raise DeviceBusy(f"{exc} This session waits for its device {serial}: {why}.") from None
        try:
            device = claim_device(None)
        except NoDeviceAvailable:
            raise DeviceBusy(
                f"This session was idle and its device {serial} is now in use; no other device is free. "
                "Try again when a session ends."
            ) from None
    session.device = device
    session.save(update_fields=["device"])
    set_status(session, Status.PENDING, error=None)
    lane_open_on_commit(session_id=session.pk, queue=device.queue)


def session_hibernate(*, session_id: Any) -> bool:
    """After SESSION_IDLE_SECONDS without activity: release the device and go IDLE."""
    with transaction.atomic():
        session = locked_session(session_id)
        idle_since = timezone.now() - timedelta(seconds=settings.SESSION_IDLE_SECONDS)
        if session.status not in (Status.READY, Status.RUNNING) or session.last_activity_at > idle_since:
            return False
        if session.steps.exclude(status__in=Step.TERMINAL).exists():
            return False
        release_device(session)
        set_status(session, Status.IDLE)
        return True


def sessions_pause_on_device(*, device: Device, reason: str) -> int:
    """The device went away: its sessions pause (IDLE, with the reason); the next step resumes them
    on it when it is back, or on another free device (`session_wake`)."""
    paused = 0
    for session_id in TestSession.objects.filter(device=device, status__in=TestSession.HOLDING_DEVICE).values_list(
        "pk", flat=True
    ):
        session = locked_session(session_id)
        if session.status not in TestSession.HOLDING_DEVICE:
            continue
        session_pause_offline(session=session, reason=reason)
        paused += 1
    return paused


def session_pause_offline(*, session: TestSession, reason: str) -> None:
    """Pause a session (locked in this transaction) whose device cannot serve it: IDLE with
    `device_offline`, the device released. `sessions_resume_paused` resumes it, with its queued steps,
    on the device once it can be claimed again, or on another free one as `session_wake` allows; so does
    its next step."""
    resume = "it goes on by itself once its device is back" if session.end_when_drained else "send a step to resume it"
    error = {"code": "device_offline", "message": f"{reason} The session is paused; {resume}."}
    release_device(session)
    set_status(session, Status.IDLE, error=error)


@retry_on_deadlock
def session_stop(*, session_id: Any, owner: AbstractBaseUser, reason: str = "") -> TestSession:
    """Cancel what has not run, release the device and close the session; stopping twice is harmless.

    A step running on the device is cancelled with them, before the session's status: every step's end
    comes before the session's. Its worker stops at its next safe point (before a retry, during a
    backoff wait or a wait of the step's own, before a block's next inner step) and drops the result it
    may still get. `reason`
    (say, "the CI job was cancelled") is kept as the session's error.
    """
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            return session
        pending = session.steps.exclude(status__in=Step.TERMINAL).exists()
        steps_cancel_pending(session, reason="session_stopped")
        release_device(session)
        error = {"code": "stopped", "message": reason[:500]} if reason else session.error
        set_status(session, Status.CANCELLED if pending else Status.COMPLETED, ended_at=timezone.now(), error=error)
    return session
