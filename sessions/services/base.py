"""Shared pieces of the session services: row locks, status changes, caps, device claims."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core import metrics
from core.errors import NotFound
from core.rows import row_values
from devices.live import device_changed_on_commit
from devices.models import Device
from devices.workers import workers_alive

from ..dispatch import recording_request_on_commit
from ..errors import (
    DeviceBusy,
    DeviceUnavailable,
    NoDeviceAvailable,
)
from ..events import events_insert, session_bump, session_status_event, step_payload
from ..jsonpatch import json_apply
from ..models import Decision, SessionEvent, Step, TestSession, UserQuota
from ..signals import session_ended

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
DEADLOCK_RETRIES = 3
Status = TestSession.Status
# Admitted and open: holds a slot of its owner's cap. A PENDING session without a device is
# waiting for a slot (queue mode) and holds none.
HOLDING_SLOT = Q(status__in=TestSession.ACTIVE) & ~Q(status=Status.PENDING, device__isnull=True)


def retry_on_deadlock(service: Callable[P, R]) -> Callable[P, R]:
    """Run the service's transaction again when PostgreSQL breaks a deadlock by aborting it.

    Requests lock the owner's row (cap, rate limit), then a device or session row, while workers
    lock session rows; PostgreSQL checks foreign keys at commit, which can close a cycle between
    them. The aborted transaction changed nothing, so running it again is safe (PostgreSQL's own
    advice for deadlocks).
    """

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if transaction.get_connection().in_atomic_block:
            return service(*args, **kwargs)  # the caller's transaction is the one to run again
        for attempt in range(DEADLOCK_RETRIES):
            try:
                return service(*args, **kwargs)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != "40P01" or attempt == DEADLOCK_RETRIES - 1:
                    raise
                logger.warning("%s: deadlock, running it again", service.__name__)
        raise AssertionError("not reached")

    return run


def locked_session(session_id: Any, *, owner: AbstractBaseUser | None = None) -> TestSession:
    """The session with its row locked for this transaction (its owner's only, when `owner` is given).

    Locks here are FOR NO KEY UPDATE (on PostgreSQL): they serialize the writers of a row, and leave alone the
    foreign-key checks of rows that refer to it (a step, an event), which take FOR KEY SHARE at commit: with
    FOR UPDATE, such a check waiting on a lock held by a transaction that waits on ours was a deadlock."""
    sessions = TestSession.objects.select_for_update(of=("self",), no_key=True).select_related("device")
    if owner is None:
        return sessions.get(pk=session_id)
    try:
        return sessions.get(pk=session_id, owner=owner)
    except (TestSession.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such session.") from None


def set_status(session: TestSession, status: str, **fields: Any) -> None:
    """Change a locked session's status and record the event; an ending session tells the layers above.

    An ending session runs nothing more, so its secrets (a CI run's `--secret` values, typed passwords)
    are deleted with the same write."""
    if status in TestSession.TERMINAL and session.secrets:
        fields = {**fields, "secrets": {}}
    session.status = status
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=["status", *fields])
    session_status_event(session=session)
    if status in TestSession.TERMINAL:
        session_ended.send(sender=TestSession, session=session)
        if session.source in (TestSession.Source.CI, TestSession.Source.REPLAY):  # linked from JUnit at once
            recording_request_on_commit(session_id=session.pk)


def user_quota(user: AbstractBaseUser) -> UserQuota | None:
    """The user's quota, if an admin set one (asked before every step: one plain SELECT)."""
    columns = ("id", "max_active_sessions", "steps_per_window")
    row = row_values(UserQuota, columns=columns, where={"user": user.pk})
    return None if row is None else UserQuota(user_id=user.pk, **dict(zip(columns, row, strict=True)))


def user_session_cap(*, user: AbstractBaseUser) -> int:
    quota = user_quota(user)
    if quota is None or quota.max_active_sessions is None:
        return int(settings.MAX_ACTIVE_SESSIONS_PER_USER)
    return quota.max_active_sessions


def device_not_found(serial: str) -> NotFound:
    return NotFound(f"There is no device '{serial}'. GET /api/devices/ lists them.")


def _served_first(serials: list[str]) -> list[str]:
    """Devices whose worker beats first: a device a host lists but no worker serves would hold the session
    until the sweeper takes it offline. In their order otherwise, and as they are when Redis is away."""
    try:
        alive = workers_alive([f"device-{serial}" for serial in serials]) if serials else {}
    except redis.RedisError:
        return serials
    return sorted(serials, key=lambda serial: not alive[f"device-{serial}"])


def claim_device(serial: str | None) -> Device:
    devices = Device.objects.select_for_update(skip_locked=serial is None)
    if serial is None:
        free = Device.objects.filter(status=Device.Status.AVAILABLE).order_by("serial").values_list("serial", flat=True)
        lockable = (devices.filter(serial=s, status=Device.Status.AVAILABLE).first() for s in _served_first(list(free)))
        device = next((d for d in lockable if d is not None), None)
        if device is None:
            raise NoDeviceAvailable("No device is available right now; try again when a session ends.")
    else:
        device = devices.filter(serial=serial).first()
        if device is None:
            raise device_not_found(serial)
        if device.status == Device.Status.BUSY:
            raise DeviceBusy(f"Device '{serial}' is in use by another session; pick another or try later.")
        if device.status != Device.Status.AVAILABLE:
            raise DeviceUnavailable(f"Device '{serial}' is {device.status}; pick another device.")
    device.status = Device.Status.BUSY
    device.save(update_fields=["status"])
    device_changed_on_commit(serial=device.serial)
    return device


def release_device(session: TestSession) -> None:
    if session.device_id is None:
        return
    if Device.objects.filter(pk=session.device_id, status=Device.Status.BUSY).update(status=Device.Status.AVAILABLE):
        device_changed_on_commit(serial=session.device.serial)


def state_rebuild(*, session: TestSession) -> dict[str, Any]:
    """The session state from its initial state plus every stored patch, in step order."""
    state = session.initial_state
    patches = session.steps.filter(status=Step.Status.COMPLETED).order_by("index").values_list("state_patch", flat=True)
    for patch in patches:
        state = json_apply(state, patch)
    return state


def steps_cancel_pending(session: TestSession, *, reason: str) -> int:
    """Cancel every step of the locked session that is not over, as it ends: each gets its CANCELLED event,
    with the reason, before the session's terminal status — a few statements however many steps there are (a
    1,000-step run stopped or failed early).

    A step the device is running ends here too, so no read shows an ended session with a step running: its
    worker's result then finds it over and is dropped (`_finish`), as a fenced-out one is. It keeps its
    INVOKE decision; the steps that never ran (and a question waiting for its answer) get a SKIP.
    """
    pending = session.steps.exclude(status__in=Step.TERMINAL)
    return steps_cancel(session, pending, reason=reason)


def steps_cancel(session: TestSession, pending: QuerySet[Step], *, reason: str) -> int:
    """Cancel these steps of the locked session, as `steps_cancel_pending` does (a running one keeps its INVOKE
    decision)."""
    steps = list(pending.order_by("index"))
    if not steps:
        return 0
    now = timezone.now()
    pending.update(status=Step.Status.CANCELLED, finished_at=now)
    skipped = [step for step in steps if step.status != Step.Status.RUNNING or step.action == "ask_user"]
    for step in steps:
        step.status, step.finished_at, step.session = Step.Status.CANCELLED, now, session
    Decision.objects.bulk_create(
        Decision(session=session, step=step, kind=Decision.Kind.SKIP, reason=reason) for step in skipped
    )
    bumped = session_bump(session_id=session.pk, seqs=len(steps))
    assert bumped is not None, f"session {session.pk} is gone"
    session.last_seq = bumped[0]
    events_insert(
        session_id=session.pk,
        first_seq=bumped[0] - len(steps) + 1,
        events=[(SessionEvent.Type.STEP_STATUS, step_payload(step, reason=reason)) for step in steps],
    )
    for step in steps:
        transaction.on_commit(functools.partial(metrics.step_finished, step=step))
    return len(steps)
