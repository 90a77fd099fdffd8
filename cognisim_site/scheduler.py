"""The recovery sweeper: every layer's idempotent duties, one pass every SWEEP_INTERVAL_SECONDS.

It lives at the top so that it may call every layer; each layer owns its duties.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from devices.services import devices_mark_stale
from runs.services import flows_schedule_due
from sessions.recovery import DUTIES as SESSION_DUTIES
from sessions.services.artifacts import artifacts_retention
from turns.services import turns_recover

logger = logging.getLogger("cognisim.scheduler")


def flows_start_scheduled() -> int:
    """Saved flows whose cron expression matches this minute start a run (once per minute)."""
    return len(flows_schedule_due())


DUTIES: tuple[Callable[[], int], ...] = (
    devices_mark_stale,
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
