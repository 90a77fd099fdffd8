"""Celery interfaces of the session domain; each runs on the device's own queue `device-<serial>`."""

from celery import shared_task

from . import execution, services


@shared_task(name="sessions.setup_device")
def setup_device(*, session_id: str) -> None:
    services.session_setup(session_id=session_id)


@shared_task(name="sessions.execute_step")
def execute_step(*, step_id: int) -> None:
    execution.steps_run(step_id=step_id)
