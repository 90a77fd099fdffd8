"""The recovery sweeper: every layer's idempotent duties, one pass every SWEEP_INTERVAL_SECONDS.

It lives at the top so that it may call every layer; each layer owns its duties.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from django.db.models import Q

from core.locks import lock_key, redis_client
from devices.models import Device
from devices.services import device_mark_available, device_mark_offline, devices_mark_stale
from devices.workers import workers_alive
from runs.services import flows_schedule_due
from sessions.models import Step, TestSession
from sessions.recovery import DUTIES as SESSION_DUTIES
from sessions.services.artifacts import artifacts_retention
from turns.services import turns_recover

logger = logging.getLogger("cognisim.scheduler")


WAITING_STEP = (Step.Status.QUEUED, Step.Status.RUNNING)
WORKER_LOST_SECONDS = 120
"""How long a device with work waiting may go without a live worker (no heartbeat: hung, stopped, or its host
gone without a word) before it is treated as unplugged. Well above a worker's restart on a loaded machine (60 s
seen at load 30)."""
TAKEN_OFFLINE = "devices-without-worker"
"""The devices this duty took offline, brought back when a worker beats on their queue again."""


def devices_without_worker() -> int:
    """A device with work waiting (a setup, a queued or running step) whose worker has not beaten for
    WORKER_LOST_SECONDS goes offline, as an unplugged one does: its sessions pause and resume on another free
    device, or on this one once a worker beats on its queue again (then it is available again). Its step left
    running was already put back in the queue (`steps_recover_orphans`) when its lease lapsed; a hung worker
    that wakes up later is fenced out by that lease."""
    client = redis_client()
    waiting = (
        TestSession.objects.filter(device__isnull=False)
        .exclude(device__status=Device.Status.OFFLINE)
        .filter(
            Q(status__in=[TestSession.Status.PENDING, TestSession.Status.SETTING_UP])
            | Q(status__in=[TestSession.Status.READY, TestSession.Status.RUNNING], steps__status__in=WAITING_STEP)
        )
    )
    serials = sorted(set(waiting.values_list("device__serial", flat=True)))
    taken_offline = _taken_offline(client)
    gone = Device.objects.filter(status=Device.Status.OFFLINE, serial__in=taken_offline)
    back = list(gone.values_list("serial", flat=True))
    if returned := set(taken_offline) - set(back):  # back already (its agent's heartbeat): forget it
        client.srem(lock_key(TAKEN_OFFLINE), *returned)
    alive = workers_alive([f"device-{serial}" for serial in serials + back]) if serials or back else {}
    now, taken = time.time(), 0
    for serial in back:
        if alive[f"device-{serial}"]:
            client.srem(lock_key(TAKEN_OFFLINE), serial)
            device_mark_available(serial=serial)
    for serial in serials:
        since_key = lock_key(f"workerless:{serial}")
        if alive[f"device-{serial}"]:
            client.delete(since_key)
            continue
        client.set(since_key, now, nx=True)
        client.expire(since_key, WORKER_LOST_SECONDS)  # kept while watched, forgotten soon after
        silent = now - float(client.get(since_key) or now)
        if silent < WORKER_LOST_SECONDS:
            continue
        client.sadd(lock_key(TAKEN_OFFLINE), serial)
        device_mark_offline(serial=serial, reason=f"No worker has served device {serial} for {silent:.0f} s.")
        client.delete(since_key)
        taken += 1
    return taken


def _taken_offline(client: redis.Redis) -> list[str]:
    return sorted(str(serial) for serial in client.smembers(lock_key(TAKEN_OFFLINE)))


def flows_start_scheduled() -> int:
    """Saved flows whose cron expression matches this minute start a run (once per minute)."""
    return len(flows_schedule_due())


DUTIES: tuple[Callable[[], int], ...] = (
    devices_mark_stale,
    devices_without_worker,
    *SESSION_DUTIES,
    turns_recover,
    flows_start_scheduled,
    artifacts_retention,
)


def sweep() -> dict[str, int]:
    """One pass of every duty; what it did, by duty."""
    done: dict[str, int] = {}
    for duty in DUTIES:
        try:
            done[duty.__name__] = duty()
        except Exception as exc:  # Redis or the broker away, a lock timeout: the next pass retries
            logger.warning("%s failed (%s: %s); the next pass retries", duty.__name__, type(exc).__name__, exc)
    return done
