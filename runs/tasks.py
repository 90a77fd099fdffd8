"""Celery interfaces of runs."""

from celery import shared_task

from sessions.services.recording import recording_make

from . import services


@shared_task(name="runs.scheduled_tick")
def scheduled_tick() -> None:
    """Start the saved flows whose cron expression names this minute (idempotent within a minute)."""
    services.flows_schedule_due()


@shared_task(name="runs.record")
def record(*, session_id: str) -> None:
    """Make the recording of a run's session, which just ended (idempotent: a current one is kept)."""
    recording_make(session_id=session_id)
