"""Prometheus metrics that code observes as things happen, in any process (web, workers, scheduler).

Every process writes its samples to files in PROMETHEUS_MULTIPROC_DIR (settings set it, under
COGNISIM_HOME unless given), and `/metrics` adds them up (prometheus_client's multiprocess mode).
Gauges that can be read at scrape time — sessions by status, devices by state, queue depth,
live workers — are not here: `cognisim_site/health.py` reads them from the database and Redis when
Prometheus scrapes, so they are right even when the process that changed them died.

Each observation is one call where the thing happens, e.g. `metrics.step_finished(step=step)`.
The full list, ready for Grafana, is in docs/deploy.md.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter, Histogram, values

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Files are named by this id. The pid alone collides when containers share the directory
    # (every container's first process is pid 1), so the host name goes with it.
    _identity = f"{socket.gethostname()}-{os.getpid()}".replace("_", "-")
    values.ValueClass = values.MultiProcessValue(lambda: _identity)

# Steps take from milliseconds (a simulated tap) to the 30 s default timeout and beyond (retries).
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
PLANNING_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60)

STEP_SECONDS = Histogram(
    "cognisim_step_seconds",
    "Time of a finished step by action and phase: queue_wait (queued → claimed by the worker), "
    "on_device (claimed → finished) and total (queued → finished).",
    ["action", "phase"],
    buckets=STEP_BUCKETS,
)
STEPS = Counter("cognisim_steps", "Steps that reached a final status, by action and status.", ["action", "status"])
RUN_VERDICTS = Counter(
    "cognisim_run_verdicts", "CI runs and replays that ended, by kind and verdict.", ["kind", "verdict"]
)
TURN_PLANNING_SECONDS = Histogram(
    "cognisim_turn_planning_seconds",
    "Time the agent's brain took to plan a chat turn into steps, by brain and outcome.",
    ["brain", "outcome"],
    buckets=PLANNING_BUCKETS,
)
SWEEPER_RECOVERIES = Counter(
    "cognisim_sweeper_recoveries",
    "Work the recovery sweeper did, by duty (steps_recover_orphans, work_redispatch, devices_mark_stale, …).",
    ["duty"],
)

PHASES = ("queue_wait", "on_device", "total")


class FinishedStep(Protocol):
    action: str
    status: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def step_finished(*, step: FinishedStep) -> None:
    """A step reached its final status: count it and observe its phases (those its timestamps give).

    A step cancelled or skipped before it ever ran has no start, so only `total` is observed for it
    when it has a finish time.
    """
    STEPS.labels(action=step.action, status=step.status).inc()
    phases = {
        "queue_wait": _seconds(step.queued_at, step.started_at),
        "on_device": _seconds(step.started_at, step.finished_at),
        "total": _seconds(step.queued_at, step.finished_at),
    }
    for phase, seconds in phases.items():
        if seconds is not None:
            STEP_SECONDS.labels(action=step.action, phase=phase).observe(seconds)


def run_ended(*, kind: str, verdict: str) -> None:
    RUN_VERDICTS.labels(kind=kind, verdict=verdict).inc()


def turn_planned(*, brain: str, outcome: str, seconds: float) -> None:
    TURN_PLANNING_SECONDS.labels(brain=brain, outcome=outcome).observe(seconds)


def sweeper_recovered(*, done: dict[str, int]) -> None:
    """One sweeper pass: what each duty did (duties that did nothing are not counted)."""
    for duty, count in done.items():
        if count:
            SWEEPER_RECOVERIES.labels(duty=duty).inc(count)
