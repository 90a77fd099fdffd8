from celery import shared_task

from . import services


@shared_task(name="turns.process_turns")
def process_turns(*, session_id: str) -> None:
    services.turns_process(session_id=session_id)
