"""Celery interfaces of runs."""

from celery import shared_task

from . import services


@shared_task(name="runs.scheduled_tick")
def scheduled_tick() -> None:
    """Start the saved flows whose cron expression names this minute (idempotent within a minute)."""
    services.flows_schedule_due()

