"""Steps into a session: append (with the rate limit and resume), and answers to `ask_user`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.steps import MAX_TEXT_CHARS, StepInvalid, StepSpec, step_parse

from ..dispatch import lane_ring_on_commit
from ..errors import (
    InputNotExpected,
    SessionClosed,
)
from ..events import step_event
from ..jsonpatch import json_diff
from ..models import Decision, Step, TestSession
from ..signals import input_answered
from .base import locked_session, retry_on_deadlock, set_status, user_quota
from .lifecycle import session_wake

logger = logging.getLogger(__name__)
Status = TestSession.Status


def _rate_limit_slot(owner: AbstractBaseUser) -> Any:
    """When the owner's next step may run under the per-user rate limit (now, or later: deferred)."""
    quota = user_quota(owner)
    limit = quota.steps_per_window if quota and quota.steps_per_window is not None else settings.RATE_LIMIT_STEPS
    now = timezone.now()
    if not limit:
        return now
    window = timedelta(seconds=settings.RATE_LIMIT_WINDOW_SECONDS)
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    recent = list(
        Step.objects.filter(session__owner=owner, scheduled_at__gt=now - window)
        .order_by("-scheduled_at")
        .values_list("scheduled_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return now
    return max(now, recent[-1] + window)


def _new_step(session: TestSession, spec: StepSpec, *, index: int, scheduled_at: Any, deferred: bool) -> Step:
    """Append one validated step to the locked session, with its decision and its event."""
    params = spec.params
    if spec.secret:  # the text goes to the session's secrets; the step keeps a reference to it
        name = f"_TYPED_{index}"
        session.secrets = {**session.secrets, name: params["text"]}
        session.save(update_fields=["secrets"])
        params = {**params, "text": "${" + name + "}"}
    step = Step.objects.create(
        session=session,
        index=index,
        action=spec.action,
        params=params,
        timeout_ms=spec.timeout_ms,
        max_retries=spec.max_retries,
        backoff=spec.backoff,
        optional=spec.optional,
        status=Step.Status.DEFERRED if deferred else Step.Status.QUEUED,
        scheduled_at=scheduled_at,
    )
    step.session = session
    if deferred:
        Decision.objects.create(
            session=session, step=step, kind=Decision.Kind.DEFER, reason="rate_limit", schedule_at=scheduled_at
        )
        step_event(step=step, reason="rate_limit", schedule_at=scheduled_at.isoformat())
    else:
        Decision.objects.create(session=session, step=step, kind=Decision.Kind.INVOKE)
        step_event(step=step)
    return step


def _next_index(session: TestSession) -> int:
    last = session.steps.aggregate(last=Max("index"))["last"]
    return 0 if last is None else last + 1


@retry_on_deadlock
def step_submit(*, session_id: Any, owner: AbstractBaseUser, data: Any, ring: bool = True) -> Step:
    """Validate a step request and append it to the owner's session (the REST and socket entry point).

    After commit the device's lane is rung; a step over the rate limit is DEFERRED to the moment
    the window allows; a step for an IDLE session first sets its device up again. `ring=False`
    when the caller's own chain drains the lane next (a chat turn).
    """
    spec = step_parse(data)
    with transaction.atomic():
        scheduled_at = _rate_limit_slot(owner)
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to run more steps.")
        if session.status == Status.IDLE:
            session_wake(session)  # its chain(setup, drain) runs this step too
        deferred = scheduled_at > timezone.now()
        step = _new_step(session, spec, index=_next_index(session), scheduled_at=scheduled_at, deferred=deferred)
        session.last_activity_at = timezone.now()
        session.save(update_fields=["last_activity_at"])
        # A PENDING session's chain(setup, drain) is on its way and drains this step too.
        if ring and not deferred and session.device is not None and session.status != Status.PENDING:
            lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
    return step


def steps_append(*, session_id: Any, specs: list[StepSpec]) -> list[Step]:
    """Append validated steps to a session that was just opened in this transaction (a CI run's steps).

    Its `chain(setup, drain)` is sent after commit and drains them; a run is not subject to the
    per-user step rate limit (its session already counts against the session cap).
    """
    session = locked_session(session_id)
    first, now = _next_index(session), timezone.now()
    return [
        _new_step(session, spec, index=first + offset, scheduled_at=now, deferred=False)
        for offset, spec in enumerate(specs)
    ]


@retry_on_deadlock
def session_input(
    *, session_id: Any, owner: AbstractBaseUser, input_id: Any, value: Any = None, cancel: bool = False
) -> Step:
    """Answer the session's pending `ask_user` step (or cancel it) and let the steps behind it run.

    A cancelled question ends CANCELLED and the session goes on, like an answered one.
    """
    if not cancel and (not isinstance(value, str) or len(value) > MAX_TEXT_CHARS):
        raise StepInvalid("value", f"'value' must be a string of at most {MAX_TEXT_CHARS} characters.")
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        step_id = input_id if isinstance(input_id, int) and not isinstance(input_id, bool) else None
        if isinstance(input_id, str) and input_id.isascii() and input_id.isdigit():
            step_id = int(input_id)
        step = session.steps.filter(pk=step_id, action="ask_user").first() if step_id else None
        if step is None or step.status != Step.Status.RUNNING or session.status != Status.WAITING_INPUT:
            raise InputNotExpected("This session is not waiting for that input.")
        now = timezone.now()
        fields: dict[str, Any] = {
            "finished_at": now,
            "duration_ms": int((now - step.started_at).total_seconds() * 1000) if step.started_at else 0,
        }
        if cancel:
            fields.update(status=Step.Status.CANCELLED, error={"code": "input_cancelled", "message": "Not answered."})
        else:
            inputs = {**session.current_state.get("inputs", {}), str(step.index): value}
            after = {**session.current_state, "inputs": inputs}
            patch = json_diff(session.current_state, after)
            fields.update(status=Step.Status.COMPLETED, result={"value": value}, state_patch=patch)
            session.current_state = after
        Step.objects.filter(pk=step.pk).update(**fields)
        step.refresh_from_db()
        step.session = session
        session.last_activity_at = now
        session.save(update_fields=["current_state", "last_activity_at"])
        step_event(step=step)
        set_status(session, Status.RUNNING)
        if session.device is not None:
            lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
        input_answered.send(sender=TestSession, session=session, step=step)
    return step
