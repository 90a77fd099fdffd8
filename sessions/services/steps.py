"""Steps into a session: append (with the rate limit and resume), and answers to `ask_user`."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from core import metrics
from core.rows import insert_sql, row_insert, update_sql
from core.steps import MAX_TEXT_CHARS, StepSpec, step_parse
from devices.models import Device

from ..broadcast import event_publication, publish_on_commit
from ..dispatch import lane_ring_on_commit
from ..errors import (
    InputInvalid,
    InputNotExpected,
    SessionClosed,
    SessionRunsAFlow,
)
from ..events import (
    event_append,
    event_message,
    events_insert,
    session_group,
    session_update,
    step_event,
    step_payload,
)
from ..jsonpatch import json_diff
from ..models import Decision, SessionEvent, Step, TestSession, UserQuota
from ..secrets import secrets_resolve
from ..signals import input_answered
from .base import locked_session, retry_on_deadlock, set_status, user_quota
from .lifecycle import session_wake

logger = logging.getLogger(__name__)
Status = TestSession.Status
TAKES_STEPS = [Status.PENDING, Status.SETTING_UP, Status.READY, Status.RUNNING, Status.WAITING_INPUT]
"""A session in one of these takes a step as it is; an IDLE one is woken first, an ended one refuses."""


def _rate_limit(owner: AbstractBaseUser) -> int:
    """The owner's steps per window (0: no limit)."""
    quota = user_quota(owner)
    return quota.steps_per_window if quota and quota.steps_per_window is not None else settings.RATE_LIMIT_STEPS


def _rate_limit_slot(owner: AbstractBaseUser, limit: int) -> Any:
    """When the owner's next step may run under the per-user rate limit (now, or later: deferred)."""
    now = timezone.now()
    if not limit:
        return now
    window = timedelta(seconds=settings.RATE_LIMIT_WINDOW_SECONDS)
    get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
    # The limit-th most recent step in the window, if there are that many: one row, not `limit` rows.
    oldest = (
        Step.objects.filter(session__owner=owner, scheduled_at__gt=now - window)
        .order_by("-scheduled_at")
        .values_list("scheduled_at", flat=True)[limit - 1 : limit]
        .first()
    )
    if oldest is None:
        return now
    return max(now, oldest + window)


def _step(
    session_id: Any,
    spec: StepSpec,
    *,
    index: int,
    scheduled_at: Any,
    params: Any,
    deferred: bool = False,
    batch: str = "",
) -> Step:
    """A step of `spec`, not saved yet."""
    return Step(
        session_id=session_id,
        index=index,
        action=spec.action,
        params=params,
        timeout_ms=spec.timeout_ms,
        max_retries=spec.max_retries,
        backoff=spec.backoff,
        optional=spec.optional,
        always=spec.always,
        batch=batch,
        status=Step.Status.DEFERRED if deferred else Step.Status.QUEUED,
        scheduled_at=scheduled_at,
    )


def _step_row(
    session_id: Any, spec: StepSpec, *, index: int, scheduled_at: Any, deferred: bool, params: Any, batch: str
) -> Step:
    """A step with its decision (INVOKE, or DEFER for the rate limit)."""
    step = row_insert(
        _step(session_id, spec, index=index, scheduled_at=scheduled_at, params=params, deferred=deferred, batch=batch)
    )
    kind, reason = (Decision.Kind.DEFER, "rate_limit") if deferred else (Decision.Kind.INVOKE, "")
    schedule_at = scheduled_at if deferred else None
    row_insert(Decision(session_id=session_id, step=step, kind=kind, reason=reason, schedule_at=schedule_at))
    return step


def _typed_secret(params: dict[str, Any], index: int, secrets: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    """A secret `type` step's text goes to the session's secrets (a secret it names filled in) under a name of
    its own; the step keeps a reference to it: (name, value, the step's params)."""
    name = f"_TYPED_{index}"
    return name, secrets_resolve(params["text"], secrets), {**params, "text": "${" + name + "}"}


def _answered_secret(session: TestSession, step: Step, value: str) -> str:
    """The answer to a secret question goes to the (locked) session's secrets under a name of its own; the
    step's result, the state and whoever reads them get the reference `${_ANSWER_<index>}`, which a later
    step (the agent's secret `type`) names to use it."""
    name = f"_ANSWER_{step.index}"
    session.secrets = {**session.secrets, name: value}
    return "${" + name + "}"


def _new_step(session: TestSession, spec: StepSpec, *, scheduled_at: Any, deferred: bool, batch: str) -> Step:
    """Append one validated step to the locked session, with its decision and its event."""
    params, index = spec.params, session.next_index
    if spec.secret:
        name, value, params = _typed_secret(params, index, session.secrets)
        session.secrets = {**session.secrets, name: value}
        session.save(update_fields=["secrets"])
    step = _step_row(
        session.pk, spec, index=index, scheduled_at=scheduled_at, deferred=deferred, params=params, batch=batch
    )
    step.session = session
    extra = {"reason": "rate_limit", "schedule_at": scheduled_at.isoformat()} if deferred else {}
    event_append(
        session=session,
        type=SessionEvent.Type.STEP_STATUS,
        payload=step_payload(step, **extra),
        next_index=index + 1,
        last_activity_at=timezone.now(),
    )
    return step


_SERIALS: dict[Any, str] = {}


def _queue(device_id: Any) -> str:
    """A device's queue by its id (ids and serials never change: remembered per process)."""
    if device_id not in _SERIALS:
        _SERIALS[device_id] = Device.objects.values_list("serial", flat=True).get(pk=device_id)
    return f"device-{_SERIALS[device_id]}"


def _no_limit_of_the_owners() -> str:
    """SQL for "the session's owner has no quota that sets a step rate limit" (one that sets none, or 0, is no
    limit), to be ANDed to the session's UPDATE: without a limit of the site's, the append's own statement
    asks the owner's quota (a round trip fewer for every step)."""
    quote, quotas = connection.ops.quote_name, UserQuota._meta
    owner = f"{quote(TestSession._meta.db_table)}.{quote(TestSession._meta.get_field('owner').column)}"
    return (
        f"NOT EXISTS (SELECT 1 FROM {quote(quotas.db_table)} WHERE {quote(quotas.get_field('user').column)} = {owner}"
        f" AND {quote(quotas.get_field('steps_per_window').column)} <> 0)"
    )


def _append_fast(
    session_id: Any, owner: AbstractBaseUser, spec: StepSpec, *, ring: bool, batch: str = "", unlimited: bool = False
) -> Step | None:
    """The usual case: reserve the step's index and its event's number on a session of the owner's that takes
    steps now (`session_update`), insert the step, its decision and its event, ring after commit — one
    statement on PostgreSQL, one per row on SQLite. None when the session is not such a one (missing,
    someone else's, ended, idle, a run's): the full path then says why, or wakes it. With `unlimited` (the site
    sets no rate limit), None too when the owner's quota sets one: the full path applies it."""
    try:
        key = uuid.UUID(str(session_id))
    except ValueError:  # not a session id at all: the full path answers 404
        return None
    now = timezone.now()
    step = _step(key, spec, index=0, scheduled_at=now, params=spec.params, batch=batch)
    event = SessionEvent(session_id=key, seq=0, type=SessionEvent.Type.STEP_STATUS)
    also = _no_limit_of_the_owners() if unlimited else ""
    if connection.vendor == "postgresql":
        reserved = _append_one_statement(step, event, owner, now, also)
    else:
        reserved = session_update(
            session_id=key,
            add={"last_seq": 1, "next_index": 1},
            fields={"last_activity_at": now},
            returning=("last_seq", "next_index", "status", "device"),
            where={"owner": owner.pk, "status": TAKES_STEPS, "end_when_drained": False},
            also=also,
        )
        if reserved is not None:
            step.index = reserved[1] - 1
            row_insert(step)
            row_insert(Decision(session_id=key, step=step, kind=Decision.Kind.INVOKE))
            event.seq, event.payload = reserved[0], step_payload(step)
            row_insert(event)
    if reserved is None:
        return None
    _, _, status, device_id = reserved
    # After commit the event goes out first, then the ring, in one round trip to Redis: a listening drain claims
    # the step within a millisecond, and a STARTED published before its QUEUED would send every socket to the
    # database for it.
    # A PENDING session's chain(setup, drain) is on its way and drains this step too.
    if ring and device_id is not None and status != Status.PENDING:
        publication = event_publication(session_group(key), event_message(event))
        lane_ring_on_commit(session_id=key, queue=_queue(device_id), publish=publication)
    else:
        publish_on_commit(session_group(key), event_message(event))
    return step


def _append_one_statement(
    step: Step, event: SessionEvent, owner: AbstractBaseUser, now: Any, also: str
) -> tuple[Any, ...] | None:
    """`_append_fast`'s writes as one PostgreSQL statement (a round trip, where one per row took six): reserve
    the index and the event's number, insert the step, its decision, and `event` (its payload gets the step's
    id and index in SQL). The session's (last_seq, next_index, status, device); `step` and `event` are filled
    in as stored. None when the session takes no step now."""
    quote, key = connection.ops.quote_name, step.session_id
    reserve, reserve_params = update_sql(
        TestSession,
        where={"id": key, "owner": owner.pk, "status": TAKES_STEPS, "end_when_drained": False},
        fields={"last_activity_at": now},
        add={"last_seq": 1, "next_index": 1},
        also=also,
        returning=("last_seq", "next_index", "status", "device"),
    )
    stored, stored_params = insert_sql(step, select_from="reserved", selected={"index": f"{quote('next_index')} - 1"})
    decision = Decision(session_id=key, step_id=0, kind=Decision.Kind.INVOKE)
    decided, decided_params = insert_sql(decision, select_from="stored", selected={"step": quote("id")})
    event.payload = {k: v for k, v in step_payload(step).items() if k not in ("step_id", "step_index")}
    ids = f"jsonb_build_object('step_id', stored.{quote('id')}, 'step_index', stored.{quote('index')})"
    evented, evented_params = insert_sql(
        event,
        select_from="reserved, stored",
        selected={"seq": f"reserved.{quote('last_seq')}", "payload": f"{ids} || %s::jsonb"},
    )
    sql = (
        f"WITH reserved AS ({reserve}), stored AS ({stored} RETURNING {quote('id')}, {quote('index')}), "
        f"decided AS ({decided}), evented AS ({evented}) "
        f"SELECT reserved.*, stored.{quote('id')}, stored.{quote('index')} FROM reserved, stored"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*reserve_params, *stored_params, *decided_params, *evented_params])
        row = cursor.fetchone()
    if row is None:
        return None
    step.pk, step.index, step._state.adding = row[-2], row[-1], False
    event.seq, event.payload = row[0], step_payload(step)
    return tuple(row[:-2])


@retry_on_deadlock
def step_submit(*, session_id: Any, owner: AbstractBaseUser, data: Any, ring: bool = True, batch: str = "") -> Step:
    """Validate a step request and append it to the owner's session (the REST and socket entry point).

    After commit the device's lane is rung; a step over the rate limit is DEFERRED to the moment
    the window allows; a step for an IDLE session first sets its device up again. `ring=False`
    when the caller's own chain drains the lane next (a chat turn). Steps of one `batch` (a chat turn's)
    stop at the first of them that fails: the lane cancels the rest (`Step.batch`).
    """
    spec = step_parse(data)
    unlimited = not settings.RATE_LIMIT_STEPS  # then the append asks the owner's quota itself
    limit = 0 if unlimited else _rate_limit(owner)
    if not (limit or spec.secret):  # nothing to lock first: on PostgreSQL the append is one statement
        with transaction.atomic() if connection.vendor != "postgresql" else contextlib.nullcontext():
            step = _append_fast(session_id, owner, spec, ring=ring, batch=batch, unlimited=unlimited)
        if step is not None:
            return step
    if unlimited:
        limit = _rate_limit(owner)
    with transaction.atomic():
        scheduled_at = _rate_limit_slot(owner, limit)
        deferred = scheduled_at > timezone.now()
        fast = limit and not (deferred or spec.secret)  # (without a limit, it was tried above)
        if fast and (step := _append_fast(session_id, owner, spec, ring=ring, batch=batch)) is not None:
            return step
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to run more steps.")
        if session.end_when_drained:  # a run's session: its steps came with it (`steps_append`)
            raise SessionRunsAFlow()
        if session.status == Status.IDLE:
            session_wake(session)  # its chain(setup, drain) runs this step too
        step = _new_step(session, spec, scheduled_at=scheduled_at, deferred=deferred, batch=batch)
        # A PENDING session's chain(setup, drain) is on its way and drains this step too.
        if ring and not deferred and session.device is not None and session.status != Status.PENDING:
            lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
    return step


def steps_append(*, session_id: Any, specs: list[StepSpec]) -> list[Step]:
    """Append validated steps to a session that was just opened in this transaction (a CI run's steps).

    A few statements whatever the number of steps (reserve the indexes and event numbers, then one
    insert each of steps, decisions and events), so a run of 1,000 steps holds the database for
    milliseconds, not seconds. Its `chain(setup, drain)` is sent after commit and drains them; a run
    is not subject to the per-user step rate limit (its session already counts against the session cap).
    """
    if not specs:
        return []
    now, count = timezone.now(), len(specs)
    reserved = session_update(
        session_id=session_id,
        add={"last_seq": count, "next_index": count},
        fields={"last_activity_at": now},
        returning=("last_seq", "next_index"),
    )
    assert reserved is not None, f"session {session_id} is gone"
    first_seq, first_index = reserved[0] - count + 1, reserved[1] - count
    typed: dict[str, str] = {}
    known = (
        TestSession.objects.values_list("secrets", flat=True).get(pk=session_id)
        if any(spec.secret for spec in specs)
        else {}
    )
    rows = []
    for index, spec in enumerate(specs, start=first_index):
        params = spec.params
        if spec.secret:
            name, value, params = _typed_secret(params, index, known)
            typed[name] = value
        rows.append(_step(session_id, spec, index=index, scheduled_at=now, params=params))
    if typed:
        TestSession.objects.filter(pk=session_id).update(secrets={**known, **typed})
    steps = Step.objects.bulk_create(rows)
    Decision.objects.bulk_create(
        Decision(session_id=session_id, step=step, kind=Decision.Kind.INVOKE, reason="") for step in steps
    )
    events_insert(
        session_id=session_id,
        first_seq=first_seq,
        events=[(SessionEvent.Type.STEP_STATUS, step_payload(step)) for step in steps],
    )
    return steps


@retry_on_deadlock
def session_input(
    *, session_id: Any, owner: AbstractBaseUser, input_id: Any, value: Any = None, cancel: bool = False
) -> Step:
    """Answer the session's pending `ask_user` step (or cancel it) and let the steps behind it run.

    A cancelled question ends CANCELLED and the session goes on, like an answered one.
    """
    if input_id is None:
        raise InputInvalid(
            "input_id: This field is required: the input_id of the USER_INPUT_REQUIRED event you answer.",
            field="input_id",
        )
    if not cancel and (not isinstance(value, str) or len(value) > MAX_TEXT_CHARS):
        raise InputInvalid(
            f"value: Must be a string of at most {MAX_TEXT_CHARS} characters (or send cancel: true).", field="value"
        )
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; it takes no more input. Open a new session.")
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
            if step.params.get("secret"):
                value = _answered_secret(session, step, value)
            inputs = {**session.current_state.get("inputs", {}), str(step.index): value}
            after = {**session.current_state, "inputs": inputs}
            patch = json_diff(session.current_state, after)
            fields.update(status=Step.Status.COMPLETED, result={"value": value}, state_patch=patch)
            session.current_state = after
        Step.objects.filter(pk=step.pk).update(**fields)
        step.refresh_from_db()
        step.session = session
        session.last_activity_at = now
        session.save(update_fields=["current_state", "last_activity_at", "secrets"])
        step_event(step=step)
        transaction.on_commit(partial(metrics.step_finished, step=step))
        set_status(session, Status.RUNNING)
        if session.device is not None:
            lane_ring_on_commit(session_id=session.pk, queue=session.device.queue)
        input_answered.send(sender=TestSession, session=session, step=step)
    return step
