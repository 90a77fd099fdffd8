"""The turn pipeline: gather a burst of chat messages into one turn, plan it into steps, run them, answer.

The phases run in one task on the session's device queue — acquire the session mutex, accumulate,
run the agent, commit and respond — because the planned steps must run inline on the device's only
worker: a chain of separate tasks would queue the steps behind itself, or interleave with them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ServiceError
from devices.leases import redis_client
from devices.services import driver_for
from sessions.events import event_append
from sessions.execution import steps_run
from sessions.models import SessionEvent, Step, TestSession
from sessions.services import locked_session, step_submit

from .accumulate import window_for
from .brains import BrainError, Plan, answered, brain_from_env
from .models import Turn

logger = logging.getLogger("cognisim.turns")
MUTEX_TTL_S = 30
MAX_REPLANS = 5
MAX_TEXT = 4096


def turn_message_add(*, session_id: Any, owner: AbstractBaseUser, text: Any) -> Turn:
    """A chat message joins the session's accumulating turn, or opens a new one; the pipeline is woken."""
    if not isinstance(text, str) or not text.strip() or len(text.encode()) > MAX_TEXT:
        from core.steps import StepInvalid

        raise StepInvalid("text", f"'text' must be a non-empty message of at most {MAX_TEXT} bytes.")
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            from sessions.errors import SessionClosed

            raise SessionClosed(f"This session is {session.status}; open a new session to chat.")
        turn = Turn.objects.filter(session=session, status=Turn.Status.ACCUMULATING).order_by("-id").first()
        message = {"text": text.strip(), "at": time.time()}
        if turn is None:
            turn = Turn.objects.create(session=session, messages=[message])
        else:
            turn.messages = [*turn.messages, message]
            turn.save(update_fields=["messages"])
        if session.device is not None:
            queue = session.device.queue
            transaction.on_commit(lambda: _dispatch(session.pk, queue))
    return turn


def _dispatch(session_id: Any, queue: str) -> None:
    from celery import current_app

    current_app.send_task("turns.process_turns", kwargs={"session_id": str(session_id)}, queue=queue)


def turn_dispatch_after_input(*, session: TestSession, step: Step) -> None:
    """An `ask_user` step a turn was waiting on got its answer: wake the pipeline (after commit)."""
    if session.device is not None and Turn.objects.filter(session=session, waiting_step_id=step.pk).exists():
        queue = session.device.queue
        transaction.on_commit(lambda: _dispatch(session.pk, queue))


class _Mutex:
    """One writer per session: a Redis lock with a TTL, renewed while its holder lives."""

    def __init__(self, session_id: Any) -> None:
        self.key = f"cognisim:mutex:session:{session_id}"
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()

    def acquire(self) -> bool:
        if not redis_client().set(self.key, self.token, nx=True, ex=MUTEX_TTL_S):
            return False
        threading.Thread(target=self._renew, daemon=True).start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(MUTEX_TTL_S / 3):
            if redis_client().get(self.key) != self.token:
                return
            redis_client().expire(self.key, MUTEX_TTL_S)

    def release(self) -> None:
        self._stop.set()
        if redis_client().get(self.key) == self.token:
            redis_client().delete(self.key)


def _log(turn: Turn, event: str, **fields: Any) -> None:
    logger.info(
        event,
        extra={
            "event": event,
            "session_id": str(turn.session_id),
            "turn_id": turn.pk,
            "trace_id": turn.trace_id,
            **fields,
        },
    )


def turns_process(*, session_id: Any) -> None:
    """Run on the device's worker: process the session's open turns, oldest first, one at a time."""
    mutex = _Mutex(session_id)
    if not mutex.acquire():
        logger.info("mutex_busy", extra={"event": "mutex_busy", "session_id": str(session_id)})
        return  # its holder picks up what is waiting before it lets go
    logger.info("mutex_acquired", extra={"event": "mutex_acquired", "session_id": str(session_id)})
    try:
        while (turn := _next_turn(session_id)) is not None:
            _log(turn, "turn_started", messages=len(turn.messages))
            if turn.status == Turn.Status.ACCUMULATING:
                _accumulate(turn)
            _run(turn)
    finally:
        mutex.release()
        logger.info("mutex_released", extra={"event": "mutex_released", "session_id": str(session_id)})


def _next_turn(session_id: Any) -> Turn | None:
    for turn in Turn.objects.filter(session_id=session_id, status__in=Turn.OPEN).order_by("id"):
        if turn.status != Turn.Status.WAITING_INPUT:
            return turn
        if Step.objects.filter(pk=turn.waiting_step_id, status__in=Step.TERMINAL).exists():
            return turn
        return None  # later turns wait behind the question
    return None


def _accumulate(turn: Turn) -> None:
    """Wait until the session has been quiet for the adaptive window, then close the turn."""
    while True:
        turn.refresh_from_db(fields=["messages", "status"])
        decision = window_for([(m["at"], m["text"]) for m in turn.messages])
        quiet_for = time.time() - turn.messages[-1]["at"]
        if quiet_for >= decision.wait_s:
            with transaction.atomic():
                locked_session(turn.session_id)  # message appends hold it too: none slips in unseen
                closed = Turn.objects.filter(pk=turn.pk, status=Turn.Status.ACCUMULATING).update(
                    status=Turn.Status.RUNNING, accumulation=decision.reason
                )
            if closed:
                turn.refresh_from_db()
                _log(turn, "accumulation_complete", messages=len(turn.messages), reason=decision.reason)
                return
            continue
        time.sleep(min(decision.wait_s - quiet_for, 0.1))


def _run(turn: Turn) -> None:
    """Plan, run and re-plan (for the parts that depend on the next screen) until done, failed or asked."""
    text = turn.text
    if turn.status == Turn.Status.WAITING_INPUT:
        answer = Step.objects.filter(pk=turn.waiting_step_id).values_list("result", flat=True).first() or {}
        if not turn.remaining:
            return _respond(turn, Turn.Status.COMPLETED, "Thanks, carrying on.")
        text = answered(turn.remaining, answer.get("value", ""))
        Turn.objects.filter(pk=turn.pk).update(status=Turn.Status.RUNNING, waiting_step_id=None)
    session = TestSession.objects.select_related("device", "owner").get(pk=turn.session_id)
    brain = brain_from_env()
    done = 0
    for _ in range(MAX_REPLANS):
        _log(turn, "brain_starting", brain=type(brain).__name__)
        try:
            ui = driver_for(session.device).dump_ui() if session.device else None
            plan = brain.plan(text=text, ui_xml=ui)
        except BrainError as exc:
            return _respond(turn, Turn.Status.FAILED, exc.message)
        except Exception as exc:  # the device or the brain failed in a way we did not foresee
            logger.exception("turn %s: planning failed", turn.pk)
            return _respond(turn, Turn.Status.FAILED, f"I could not plan that: {exc}")
        _log(turn, "brain_complete", steps=len(plan.steps), question=bool(plan.question))
        try:
            steps = [step_submit(session_id=session.pk, owner=session.owner, data=data) for data in plan.steps]
        except ServiceError as exc:
            return _respond(turn, Turn.Status.FAILED, exc.message)
        Turn.objects.filter(pk=turn.pk).update(
            plan=[*turn.plan, *plan.steps], step_ids=[*turn.step_ids, *(s.pk for s in steps)]
        )
        turn.refresh_from_db()
        if not steps:
            return _respond(turn, Turn.Status.COMPLETED, plan.summary)
        steps_run(step_id=steps[-1].pk)
        if plan.question:
            Turn.objects.filter(pk=turn.pk).update(
                status=Turn.Status.WAITING_INPUT, waiting_step_id=steps[-1].pk, remaining=plan.remaining or ""
            )
            _log(turn, "turn_waiting_input", step_id=steps[-1].pk)
            return None
        failed = Step.objects.filter(pk__in=[s.pk for s in steps]).exclude(status=Step.Status.COMPLETED).first()
        if failed is not None:
            reason = (failed.error or {}).get("message") or f"it ended {failed.status.lower()}"
            return _respond(turn, Turn.Status.FAILED, f"Step {failed.index} ({failed.action}) did not pass: {reason}")
        done += len(steps)
        if not plan.remaining:
            return _respond(
                turn, Turn.Status.COMPLETED, f"{_plan_said(plan)}: done, {done} step{'s' * (done != 1)} passed."
            )
        text = plan.remaining
    return _respond(turn, Turn.Status.FAILED, "That needs more steps than I plan in one turn; split it up.")


def _plan_said(plan: Plan) -> str:
    """ "I'll tap "OK"." → "Tap "OK"" """
    said = plan.summary.removeprefix("I'll ").rstrip(".")
    return said[:1].upper() + said[1:]


def _respond(turn: Turn, status: str, reply: str) -> None:
    with transaction.atomic():
        session = locked_session(turn.session_id)
        Turn.objects.filter(pk=turn.pk).update(status=status, reply=reply, finished_at=timezone.now())
        event_append(
            session=session,
            type=SessionEvent.Type.AGENT_MESSAGE,
            payload={"turn_id": turn.pk, "status": status, "text": reply},
        )
    _log(turn, "turn_committed", status=status)
