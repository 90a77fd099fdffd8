"""Celery interfaces of the session domain; both run on the device's own queue `device-<serial>`."""

from celery import shared_task
from celery.signals import worker_ready

from .lane import drain as lane
from .lane import logs  # noqa: F401  (a device's worker reads its device's log: the worker_ready receiver)
from .services import recording


@shared_task(name="sessions.setup")
def setup(*, session_id: str) -> None:
    lane.session_setup(session_id=session_id)


@shared_task(name="sessions.record")
def record(*, session_id: str) -> None:
    """Make the recording of a session that ended (on `control`; idempotent: a current one is kept)."""
    recording.recording_make(session_id=session_id)


@shared_task(name="sessions.drain")
def drain(*, session_id: str, linger: bool = True) -> None:
    lane.session_drain(session_id=session_id, linger=linger)


@worker_ready.connect
def recover_device_lanes(sender: object, **_: object) -> None:
    """A device's worker that starts takes back at once what its predecessor left running."""
    queues = getattr(getattr(sender, "app", None), "amqp", None)
    names = list(queues.queues.consume_from) if queues is not None else []
    for name in names:
        if name.startswith("device-"):
            lane.lane_recover(serial=name.removeprefix("device-"))
