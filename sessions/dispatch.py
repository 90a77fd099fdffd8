"""Work for a device's worker is sent to its own queue, after the transaction that recorded it commits."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def dispatch_setup(*, session_id: Any, queue: str) -> None:
    current_app.send_task("sessions.setup_device", kwargs={"session_id": str(session_id)}, queue=queue)


def dispatch_step(*, step_id: int, queue: str) -> None:
    current_app.send_task("sessions.execute_step", kwargs={"step_id": step_id}, queue=queue)


def dispatch_setup_on_commit(*, session_id: Any, queue: str) -> None:
    transaction.on_commit(lambda: dispatch_setup(session_id=session_id, queue=queue))


def dispatch_step_on_commit(*, step_id: int, queue: str) -> None:
    transaction.on_commit(lambda: dispatch_step(step_id=step_id, queue=queue))
