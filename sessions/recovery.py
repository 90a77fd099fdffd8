"""The recovery sweeper: the database says what still has to run; Redis and the broker may have forgotten.

`sweep()` runs every SWEEP_INTERVAL_SECONDS in `cognisim scheduler` (which `cognisim up` starts).
Each pass is idempotent and safe to run from several processes at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from devices.leases import lease_current, redis_client
from devices.services import devices_mark_stale

from .dispatch import dispatch_setup, dispatch_step, dispatch_step_on_commit
from .events import step_event
from .models import Decision, Step, TestSession
from .services import locked_session, session_hibernate, sessions_admit

logger = logging.getLogger(__name__)
Status = TestSession.Status


def _throttled(key: str) -> bool:
    """True if this key fired within REDISPATCH_AFTER_SECONDS (so a lost task is sent again at that pace)."""
    return not redis_client().set(
        f"{settings.CHANNEL_PREFIX}:redispatch:{key}", 1, nx=True, ex=settings.REDISPATCH_AFTER_SECONDS
    )


def steps_recover_orphans() -> int:
    """Steps RUNNING on a worker whose device lease lapsed (the worker died): queue them again."""
    recovered = 0
    running = Step.objects.filter(status=Step.Status.RUNNING).exclude(action="ask_user")
    for step_id, serial, token in running.values_list("pk", "session__device__serial", "lease_token"):
        current = lease_current(serial=serial) if serial else None
        if current is not None and current.endswith(f":{token}"):
            continue
        with transaction.atomic():
            step = Step.objects.select_related("session").filter(pk=step_id, status=Step.Status.RUNNING).first()
            if step is None or step.lease_token != token:
                continue
            session = locked_session(step.session_id)
            step.session = session
            error = {
                "code": "worker_lost",
                "message": "The device's worker stopped during this step.",
                "retryable": True,
            }
            if step.attempt > step.max_retries or session.status in TestSession.TERMINAL:
                Step.objects.filter(pk=step.pk).update(
                    status=Step.Status.FAILED, error=error, finished_at=timezone.now()
                )
                step.status, step.error = Step.Status.FAILED, error
                step_event(step=step)
            else:
                Step.objects.filter(pk=step.pk).update(status=Step.Status.QUEUED, error=error)
                step_event(step=step, status="RETRYING", error=error, delay_ms=0)
                step.status = Step.Status.QUEUED
                if session.device is not None:
                    dispatch_step_on_commit(step_id=step.pk, queue=session.device.queue)
            recovered += 1
            logger.warning("recovered step %s of session %s (worker lost)", step.pk, session.pk)
    return recovered


def steps_promote_deferred() -> int:
    """DEFERRED steps whose time has come become QUEUED and are dispatched."""
    promoted = 0
    due = Step.objects.filter(status=Step.Status.DEFERRED, scheduled_at__lte=timezone.now())
    for step_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            step = Step.objects.filter(pk=step_id, status=Step.Status.DEFERRED).first()
            if step is None:
                continue
            session = locked_session(step.session_id)
            step.session, step.status = session, Step.Status.QUEUED
            step.save(update_fields=["status"])
            Decision.objects.create(session=session, step=step, kind=Decision.Kind.INVOKE, reason="window_open")
            step_event(step=step)
            if session.device is not None:
                dispatch_step_on_commit(step_id=step.pk, queue=session.device.queue)
            promoted += 1
    return promoted


def work_redispatch() -> int:
    """Send again the tasks the broker may have lost: setups of admitted sessions, and queued steps."""
    stale = timezone.now() - timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    sent = 0
    pending_setup = TestSession.objects.filter(status=Status.PENDING, device__isnull=False, last_activity_at__lt=stale)
    for session_id, serial in pending_setup.values_list("pk", "device__serial"):
        if not _throttled(f"setup:{session_id}"):
            dispatch_setup(session_id=session_id, queue=f"device-{serial}")
            sent += 1
    waiting: Any = (
        Step.objects.filter(status=Step.Status.QUEUED, session__device__isnull=False)
        .exclude(session__status__in=[*TestSession.TERMINAL, Status.IDLE, Status.WAITING_INPUT])
        .values("session_id", "session__device__serial")
        .annotate(oldest=Min("queued_at"))
        .filter(oldest__lt=stale)
    )
    for row in waiting:
        if Step.objects.filter(session_id=row["session_id"], status=Step.Status.RUNNING).exists():
            continue
        if _throttled(f"steps:{row['session_id']}"):
            continue
        last = Step.objects.filter(session_id=row["session_id"], status=Step.Status.QUEUED).order_by("-index").first()
        if last is not None:
            dispatch_step(step_id=last.pk, queue=f"device-{row['session__device__serial']}")
            sent += 1
    return sent


def sessions_hibernate_idle() -> int:
    idle_since = timezone.now() - timedelta(seconds=settings.SESSION_IDLE_SECONDS)
    candidates = TestSession.objects.filter(status__in=[Status.READY, Status.RUNNING], last_activity_at__lt=idle_since)
    return sum(session_hibernate(session_id=pk) for pk in candidates.values_list("pk", flat=True))


def runs_advance_open() -> int:
    """CI runs stop at their first failure and get their verdict even when no client is polling."""
    from runs.models import Run
    from runs.services import run_advance

    open_runs = Run.objects.filter(status=Run.Status.RUNNING).values_list("pk", flat=True)
    return sum(run_advance(run_id=run_id).status != Run.Status.RUNNING for run_id in list(open_runs))


def flows_start_scheduled() -> int:
    """Saved flows whose cron expression matches this minute start a run (once per minute)."""
    from runs.services import flows_schedule_due

    return len(flows_schedule_due())


def sweep() -> dict[str, int]:
    """One pass of every recovery duty; what it did, by duty."""
    done: dict[str, int] = {}
    for duty in (
        devices_mark_stale,
        steps_recover_orphans,
        steps_promote_deferred,
        work_redispatch,
        sessions_admit,
        sessions_hibernate_idle,
        runs_advance_open,
        flows_start_scheduled,
    ):
        try:
            done[duty.__name__] = duty()
        except Exception as exc:  # Redis or the broker away, a lock timeout: the next pass retries
            logger.warning("%s failed (%s: %s); the next pass retries", duty.__name__, type(exc).__name__, exc)
    return done
