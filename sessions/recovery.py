"""The recovery sweeper's session duties: the database says what still has to run; Redis and the broker
may have forgotten. A device's own worker takes back its orphaned step at once when it starts
(`lane.drain.lane_recover`); these duties are the fallback for everything else.

Each duty is idempotent and safe to run from several processes at once; `cognisim scheduler`
runs them with the other layers' duties (`cognisim_site/scheduler.py`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from core.locks import lock_key, redis_client
from devices.leases import lease_current

from .dispatch import lane_open, lane_ring, lane_ring_on_commit
from .errors import DeviceBusy
from .events import step_event
from .lane.drain import steps_requeue_lost
from .models import Decision, Step, TestSession
from .services.base import locked_session
from .services.lifecycle import session_hibernate, session_wake, sessions_admit

logger = logging.getLogger(__name__)
Status = TestSession.Status


def _throttled(key: str) -> bool:
    """True if this key fired within REDISPATCH_AFTER_SECONDS (so a lost message is sent again at that pace)."""
    return not redis_client().set(lock_key(f"redispatch:{key}"), 1, nx=True, ex=settings.REDISPATCH_AFTER_SECONDS)


def steps_recover_orphans() -> int:
    """Steps RUNNING on a worker whose device lease lapsed (the worker died and none took its place).

    A step claimed less than a lease's TTL ago is left alone: a worker that died holding it keeps its lease
    that long anyway, and a lease missing sooner was lost by Redis (restarted empty) under a live worker,
    which finishes the step or finds its lease gone."""
    recovered = 0
    claimed_before = timezone.now() - timedelta(seconds=settings.LEASE_TTL_SECONDS)
    running = Step.objects.filter(status=Step.Status.RUNNING, started_at__lt=claimed_before).exclude(action="ask_user")
    for step_id, serial, token in running.values_list("pk", "session__device__serial", "lease_token"):
        current = lease_current(serial=serial) if serial else None
        if current is not None and current.endswith(f":{token}"):
            continue
        with transaction.atomic():
            step = Step.objects.filter(pk=step_id, status=Step.Status.RUNNING, lease_token=token).first()
            if step is None:
                continue
            session = locked_session(step.session_id)
            step.session = session
            steps_requeue_lost(step)
            if session.device is not None:
                lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
            recovered += 1
    return recovered


def steps_promote_deferred() -> int:
    """DEFERRED steps whose time has come become QUEUED, and their lane is rung."""
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
            if session.device is not None and session.status != Status.PENDING:
                lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
            promoted += 1
    return promoted


def work_redispatch() -> int:
    """Ring again the lanes the broker may have forgotten: setups of admitted sessions, and queued steps."""
    stale = timezone.now() - timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    sent = 0
    pending_setup = TestSession.objects.filter(status=Status.PENDING, device__isnull=False, last_activity_at__lt=stale)
    for session_id, serial in pending_setup.values_list("pk", "device__serial"):
        if not _throttled(f"setup:{session_id}"):
            lane_open(session_id=session_id, queue=f"device-{serial}")
            sent += 1
    waiting = (
        Step.objects.filter(status=Step.Status.QUEUED, session__device__isnull=False)
        .filter(session__status__in=[Status.READY, Status.RUNNING])
        .values("session_id", "session__device__serial")
        .annotate(oldest=Min("queued_at"))
        .filter(oldest__lt=stale)
    )
    for row in waiting:
        if Step.objects.filter(session_id=row["session_id"], status=Step.Status.RUNNING).exists():
            continue
        if not _throttled(f"steps:{row['session_id']}"):
            queue = f"device-{row['session__device__serial']}"
            lane_ring(session_id=row["session_id"], queue=queue, always=True)  # not a drain's flag left behind
            sent += 1
    return sent


def sessions_hibernate_idle() -> int:
    idle_since = timezone.now() - timedelta(seconds=settings.SESSION_IDLE_SECONDS)
    candidates = TestSession.objects.filter(status__in=[Status.READY, Status.RUNNING], last_activity_at__lt=idle_since)
    return sum(session_hibernate(session_id=pk) for pk in candidates.values_list("pk", flat=True))


def sessions_resume_paused() -> int:
    """A session paused with work still queued (its device went away) resumes when a device is free:
    a CI run then finishes without anyone sending it a step."""
    resumed = 0
    paused = TestSession.objects.filter(status=Status.IDLE, steps__status=Step.Status.QUEUED).distinct()
    for session_id in paused.values_list("pk", flat=True):
        with transaction.atomic():
            session = locked_session(session_id)
            if session.status != Status.IDLE:
                continue
            try:
                session_wake(session)
            except DeviceBusy:
                continue
            resumed += 1
    return resumed


DUTIES = (
    steps_recover_orphans,
    steps_promote_deferred,
    work_redispatch,
    sessions_admit,
    sessions_hibernate_idle,
    sessions_resume_paused,
)
