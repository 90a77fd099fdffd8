"""Celery interfaces of a chat turn's chain (turns/services.py): accumulate and respond on `control`,
plan on `agents`. Each carries the turn's chain token: a task of a chain that no longer drives its turn
does nothing."""

from celery import Task, chain, shared_task

from core.queues import service_queue

from . import services


@shared_task(bind=True, name="turns.accumulate")
def accumulate(self: Task, *, turn_id: str, chain_token: str) -> None:
    wait_s = services.turn_accumulate(turn_id=turn_id, chain_token=chain_token)
    if wait_s is not None:  # not quiet long enough yet: look again then, keeping the rest of the chain
        again = accumulate.si(turn_id=turn_id, chain_token=chain_token)
        raise self.replace(again.set(queue=service_queue("control"), countdown=wait_s))


@shared_task(name="turns.plan")
def plan(*, turn_id: str, chain_token: str) -> None:
    services.turn_plan(turn_id=turn_id, chain_token=chain_token)


@shared_task(bind=True, name="turns.respond")
def respond(self: Task, *, turn_id: str, chain_token: str) -> None:
    nxt = services.turn_respond(turn_id=turn_id, chain_token=chain_token)
    if nxt.wait_s is not None:
        again = respond.si(turn_id=turn_id, chain_token=chain_token)
        raise self.replace(again.set(queue=service_queue("control"), countdown=nxt.wait_s))
    if nxt.replan:  # the rest of the instruction depends on the new screen: plan → drain → respond again
        raise self.replace(chain(*services.turn_rest_of(turn_id=turn_id, chain_token=chain_token)))

