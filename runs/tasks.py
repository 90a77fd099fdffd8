"""Celery interfaces of runs; `runs.check` is queued on the device's queue right behind a run's step."""

from celery import shared_task

from . import services


@shared_task(name="runs.check")
def check(*, run_id: str, index: int) -> None:
    services.run_advance(run_id=run_id)


@shared_task(name="runs.scheduled_tick")
def scheduled_tick() -> None:
    """Start the saved flows whose cron expression names this minute (idempotent within a minute)."""
    services.flows_schedule_due()
