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

from core.steps import MAX_TEXT_CHARS, StepInvalid, step_parse

from ..dispatch import dispatch_step_on_commit
from ..errors import (
    InputNotExpected,
    SessionClosed,
)
from ..events import step_event
from ..jsonpatch import json_diff
from ..models import Decision, Step, TestSession
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


@retry_on_deadlock
def step_submit(*, session_id: Any, owner: AbstractBaseUser, data: Any) -> Step:
    """Validate a step request and append it to the owner's session (the REST and socket entry point).

    The step is queued on the device's worker; a step over the rate limit is DEFERRED to the
    moment the window allows; a step for an IDLE session first sets its device up again.
    """
    spec = step_parse(data)
    with transaction.atomic():
        scheduled_at = _rate_limit_slot(owner)
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to run more steps.")
        if session.status == Status.IDLE:
            session_wake(session)
        last = session.steps.aggregate(last=Max("index"))["last"]
        deferred = scheduled_at > timezone.now()
        step = Step.objects.create(
            session=session,
            index=0 if last is None else last + 1,
            action=spec.action,
            params=spec.params,
            timeout_ms=spec.timeout_ms,
            max_retries=spec.max_retries,
            backoff=spec.backoff,
            status=Step.Status.DEFERRED if deferred else Step.Status.QUEUED,
            scheduled_at=scheduled_at,
        )
        step.session = session
        session.last_activity_at = timezone.now()
        session.save(update_fields=["last_activity_at"])
        if deferred:
            Decision.objects.create(
                session=session, step=step, kind=Decision.Kind.DEFER, reason="rate_limit", schedule_at=scheduled_at
            )
            step_event(step=step, reason="rate_limit", schedule_at=scheduled_at.isoformat())
        else:
            Decision.objects.create(session=session, step=step, kind=Decision.Kind.INVOKE)
            step_event(step=step)
            if session.device is not None:  # a session still setting up runs it first: same queue
                dispatch_step_on_commit(step_id=step.pk, queue=session.device.queue)
    return step


@retry_on_deadlock
def session_input(*, session_id: Any, owner: AbstractBaseUser, input_id: Any, value: Any) -> Step:
    """Answer the session's pending `ask_user` step and let the steps behind it run."""
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise StepInvalid("value", f"'value' must be a string of at most {MAX_TEXT_CHARS} characters.")
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        step_id = int(input_id) if str(input_id).isdigit() else None
        step = session.steps.filter(pk=step_id, action="ask_user").first() if step_id else None
        if step is None or step.status != Step.Status.RUNNING or session.status != Status.WAITING_INPUT:
            raise InputNotExpected("This session is not waiting for that input.")
        inputs = {**session.current_state.get("inputs", {}), str(step.index): value}
        after = {**session.current_state, "inputs": inputs}
        now = timezone.now()
        Step.objects.filter(pk=step.pk).update(
            status=Step.Status.COMPLETED,
            result={"value": value},
            finished_at=now,
            state_patch=json_diff(session.current_state, after),
            duration_ms=int((now - step.started_at).total_seconds() * 1000) if step.started_at else 0,
        )
        step.refresh_from_db()
        step.session = session
        session.current_state, session.last_activity_at = after, now
        session.save(update_fields=["current_state", "last_activity_at"])
        step_event(step=step)
        set_status(session, Status.RUNNING)
        nxt = session.steps.filter(status=Step.Status.QUEUED).order_by("-index").first()
        if nxt is not None and session.device is not None:
            dispatch_step_on_commit(step_id=nxt.pk, queue=session.device.queue)
        from turns.services import turn_dispatch_after_input

        turn_dispatch_after_input(session=session, step=step)
    return step
