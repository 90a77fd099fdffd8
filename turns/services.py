"""The turn pipeline: a burst of chat messages becomes one turn, planned into steps, run, and answered.

A turn is a Celery chain, as the design card draws it (docs/architecture.md):

    turns.accumulate (queue `control`) → turns.plan (queue `agents`) → sessions.drain (the device's
    queue) → turns.respond (queue `control`)

Accumulation waits out the adaptive window by scheduling itself again (a countdown), so nothing
sleeps; planning — an LLM call may take seconds — runs on its own workers and never holds a device
worker; the planned steps run through the device's lane like any others; the answer is written
last. When the rest of the instruction depends on the next screen, `respond` continues the chain
with another `plan → drain → respond`; a question (`ask_user`) ends the chain and the answer starts
the next one.

One turn of a session runs at a time: a new turn's chain starts only when no other turn of the
session is past accumulation (decided under the session's row lock), and the turn holds the
session mutex (`core.locks`) from the end of its accumulation to its answer. A turn that ends
starts the next waiting one.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery import chain, signature
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.errors import ServiceError
from core.locks import Lock, lock_acquire, lock_current, lock_release_holder
from core.queues import service_queue
from core.steps import StepInvalid
from sessions.errors import InputInvalid, SessionClosed, SessionRunsAFlow
from sessions.events import event_append
from sessions.models import Screen, SessionEvent, Step, TestSession
from sessions.services import locked_session, step_submit

from .accumulate import window_for
from .brains import BrainError, Plan, answered, brain_from_env, remaining_said
from .models import Turn

logger = logging.getLogger("cognisim.turns")
MUTEX_TTL_MS = 600_000
MAX_ROUNDS = 5
MAX_TEXT = 4096
ACTIVE = (Turn.Status.RUNNING, Turn.Status.WAITING_INPUT)


def _log(turn: Turn, event: str, **fields: Any) -> None:
    ids = {"session_id": str(turn.session_id), "turn_id": turn.pk, "trace_id": turn.trace_id}
    logger.info(event, extra={"event": event, **ids, **fields})


def _task(name: str, queue: str, **kwargs: Any) -> Any:
    return signature(name, kwargs={k: str(v) for k, v in kwargs.items()}, queue=queue, immutable=True)


def turn_rest(*, turn_id: Any, chain_token: str, session_id: Any, device_queue: str | None) -> list[Any]:
    """`plan → drain → respond`: what follows accumulation, and what a re-plan or an answer runs again.

    A session without a device yet (waiting for a slot) has its steps drained by its own setup chain.
    """
    # Its drain does not linger after the steps (sessions/lane/drain.py): the turn's answer waits for it.
    drain = (
        [
            signature(
                "sessions.drain",
                kwargs={"session_id": str(session_id), "linger": False},
                queue=device_queue,
                immutable=True,
            )
        ]
        if device_queue
        else []
    )
    return [
        _task("turns.plan", service_queue("agents"), turn_id=turn_id, chain_token=chain_token),
        *drain,
        _task("turns.respond", service_queue("control"), turn_id=turn_id, chain_token=chain_token),
    ]


def turn_rest_of(*, turn_id: Any, chain_token: str) -> list[Any]:
    """`plan → drain → respond` for a turn, on its session's device as it is now."""
    turn = Turn.objects.select_related("session__device").get(pk=turn_id)
    queue = turn.session.device.queue if turn.session.device else None
    return turn_rest(turn_id=turn.pk, chain_token=chain_token, session_id=turn.session_id, device_queue=queue)


def _start_on_commit(turn: Turn, session: TestSession, *, accumulate: bool) -> None:
    """Start a new chain for the turn after commit; any older chain of the turn is stale from now on."""
    token = uuid.uuid4().hex
    Turn.objects.filter(pk=turn.pk).update(chain_token=token)
    queue = session.device.queue if session.device else None
    tasks = turn_rest(turn_id=turn.pk, chain_token=token, session_id=session.pk, device_queue=queue)
    if accumulate:
        tasks.insert(0, _task("turns.accumulate", service_queue("control"), turn_id=turn.pk, chain_token=token))
    transaction.on_commit(lambda: chain(*tasks).apply_async())


def _current(turn_id: Any, chain_token: str, *related: str) -> Turn | None:
    """The turn, if the chain of `chain_token` still drives it."""
    turn = Turn.objects.select_related(*related).filter(pk=turn_id).first()
    return turn if turn is not None and turn.chain_token == chain_token else None


@dataclass(frozen=True)
class ChatAdded:
    """The turn a chat message joined, and the question it waits behind: while the session waits for an answer
    (`USER_INPUT_REQUIRED`), a new message is planned only once that question is answered or cancelled."""

    turn: Turn
    waits_for_input: dict[str, Any] | None = None


def turn_message_add(*, session_id: Any, owner: AbstractBaseUser, text: Any) -> ChatAdded:
    """A chat message joins the session's accumulating turn, or opens a new one (whose chain starts now,
    or when the turn before it ends)."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise InputInvalid(
            f"text: A CHAT message needs 'text': your message to the agent, not only white space, "
            f"at most {MAX_TEXT} characters.",
            field="text",
        )
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        raise InputInvalid("text: Must not contain NUL characters or lone surrogates.", field="text")
    with transaction.atomic():
        session = locked_session(session_id, owner=owner)
        if session.status in TestSession.TERMINAL:
            raise SessionClosed(f"This session is {session.status}; open a new session to chat.")
        if session.end_when_drained:
            raise SessionRunsAFlow()
        waiting = _question_waiting(session)
        message = {"text": text.strip(), "at": time.time()}
        turn = Turn.objects.filter(session=session, status=Turn.Status.ACCUMULATING).order_by("-id").first()
        if turn is not None:
            turn.messages = [*turn.messages, message]
            turn.save(update_fields=["messages"])
            return ChatAdded(turn, waiting)  # its chain is on its way, or waits for the turn before it
        turn = Turn.objects.create(session=session, messages=[message])
        if not Turn.objects.filter(session=session, status__in=ACTIVE).exists():
            _start_on_commit(turn, session, accumulate=True)
    return ChatAdded(turn, waiting)


def _question_waiting(session: TestSession) -> dict[str, Any] | None:
    """The question the (locked) session waits for an answer to, as its USER_INPUT_REQUIRED names it."""
    if session.status != TestSession.Status.WAITING_INPUT:
        return None
    step = session.steps.filter(action="ask_user", status=Step.Status.RUNNING).order_by("index").first()
    return {"input_id": step.pk, "prompt": step.params["prompt"]} if step is not None else None


def _mutex(turn: Turn) -> Lock | None:
    """The session mutex, held by this turn (taken again, with a fresh TTL, by each task of its chain)."""
    return lock_acquire(name=f"mutex:session:{turn.session_id}", holder=f"turn-{turn.pk}", ttl_ms=MUTEX_TTL_MS)


def turn_accumulate(*, turn_id: Any, chain_token: str) -> float | None:
    """Close the turn once the session has been quiet for the adaptive window: None when closed (or when it
    is no longer accumulating), otherwise the seconds to wait before looking again."""
    turn = _current(turn_id, chain_token)
    if turn is None or turn.status != Turn.Status.ACCUMULATING:
        return None
    decision = window_for([(m["at"], m["text"]) for m in turn.messages])
    quiet_for = time.time() - turn.messages[-1]["at"]
    if quiet_for < decision.wait_s:
        return decision.wait_s - quiet_for
    if _mutex(turn) is None:
        _log(turn, "mutex_busy")
        return 0.5  # another turn still answers: look again shortly
    with transaction.atomic():
        session = locked_session(turn.session_id)  # message appends hold it too: none slips in unseen
        turn.refresh_from_db()
        if session.status in TestSession.TERMINAL:
            _end(turn, session, Turn.Status.FAILED, f"The session is {session.status}; nothing was done.")
            return None
        Turn.objects.filter(pk=turn.pk).update(
            status=Turn.Status.RUNNING, accumulation=decision.reason, remaining=turn.text
        )
    _log(turn, "accumulation_complete", messages=len(turn.messages), reason=decision.reason)
    return None


def _screen_xml(session: TestSession) -> str | None:
    """The UI tree of the screen the session's device shows now (stored by the lane after every change)."""
    screen = (session.current_state or {}).get("device", {}).get("screen")
    found = Screen.objects.filter(session=session, screen_hash=screen).values_list("ui_xml", flat=True).first()
    return found or None


def turn_plan(*, turn_id: Any, chain_token: str) -> None:
    """Plan what is left of the turn against the current screen and append the steps (the chain drains them)."""
    turn = _current(turn_id, chain_token, "session", "session__owner", "session__device")
    if turn is None or turn.status != Turn.Status.RUNNING:
        return
    session = turn.session
    _mutex(turn)
    brain = brain_from_env()
    brain_name = type(brain).__name__.removesuffix("Brain").lower()  # offline, llm
    _log(turn, "brain_starting", brain=type(brain).__name__, round=turn.rounds + 1)
    started = time.monotonic()
    try:
        plan = brain.plan(text=turn.remaining or turn.text, ui_xml=_screen_xml(session))
    except BrainError as exc:
        metrics.turn_planned(brain=brain_name, outcome="failed", seconds=time.monotonic() - started)
        return turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=exc.message, code=getattr(exc, "code", None))
    except Exception as exc:  # the brain failed in a way we did not foresee
        metrics.turn_planned(brain=brain_name, outcome="error", seconds=time.monotonic() - started)
        logger.exception("turn %s: planning failed", turn.pk)
        return turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=f"I could not plan that: {exc}")
    outcome = "question" if plan.question else "planned" if plan.steps else "nothing"
    metrics.turn_planned(brain=brain_name, outcome=outcome, seconds=time.monotonic() - started)
    _log(turn, "brain_complete", steps=len(plan.steps), question=bool(plan.question), ms=_ms(started))
    planned = _secrets_kept(plan)
    try:
        steps = [
            step_submit(session_id=session.pk, owner=session.owner, data=data, ring=False, batch=f"turn-{turn.pk}")
            for data in planned
        ]
    except ServiceError as exc:
        return turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=exc.message)
    except StepInvalid as exc:
        return turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=f"I planned an invalid step: {exc.message}")
    Turn.objects.filter(pk=turn.pk).update(
        plan=[*turn.plan, *_masked(planned)],
        step_ids=[*turn.step_ids, *(s.pk for s in steps)],
        remaining=plan.remaining or "",
        summary=plan.summary,
        rounds=turn.rounds + 1,
        **({"status": Turn.Status.WAITING_INPUT, "waiting_step_id": steps[-1].pk} if plan.question and steps else {}),
    )
    if not steps:
        turn_end(turn_id=turn.pk, status=Turn.Status.COMPLETED, reply=plan.summary, code=getattr(plan, "code", None))


SECRET_WORDS = re.compile(
    r"\b(?:pass(?:word|code|phrase)s?|pins?|secrets?|tokens?|otp|api[ -]?keys?|"
    r"(?:verification|security|access|one[- ]time|2fa|mfa|sms) codes?)\b",
    re.IGNORECASE,
)
"""What a question asks for when its answer is a secret ("What password should I sign in … with?")."""


def _secrets_kept(plan: Plan) -> list[dict[str, Any]]:
    """The plan's steps, with its question marked `secret` when it asks for a value that is one (a password,
    a PIN, a token: never when it offers choices, which are labels of the screen), and a step that types an
    answered secret (`${_ANSWER_<n>}`) marked `secret`, so it is typed as one whichever brain planned it."""
    return [{**step, "secret": True} if _keeps_a_secret(step) else step for step in plan.steps]


def _keeps_a_secret(step: dict[str, Any]) -> bool:
    if step.get("action") == "ask_user":
        return not step.get("choices") and bool(SECRET_WORDS.search(str(step.get("prompt", ""))))
    return step.get("action") == "type" and "${_ANSWER_" in str(step.get("text"))


def _masked(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan as the turn keeps it: the text of a secret step is not kept."""
    return [{**s, "text": "••••"} if s.get("secret") and "text" in s else s for s in steps]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class Next:
    """What `turn_respond` decided: answered (nothing follows), wait for the steps, or plan again."""

    wait_s: float | None = None
    replan: bool = False


def turn_respond(*, turn_id: Any, chain_token: str) -> Next:
    """After the drain: answer the turn, or say it must wait for its steps, or plan the rest."""
    turn = _current(turn_id, chain_token)
    if turn is None or turn.status != Turn.Status.RUNNING:
        return Next()  # answered already, or waiting for the user's answer
    steps = list(Step.objects.filter(pk__in=turn.step_ids).order_by("index"))
    if any(s.status not in Step.TERMINAL for s in steps):
        session_status = TestSession.objects.filter(pk=turn.session_id).values_list("status", flat=True).first()
        if session_status in TestSession.TERMINAL:
            turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=f"The session ended ({session_status}).")
            return Next()
        return Next(wait_s=0.5)  # deferred by the rate limit, or the device is still being set up
    failed = next((s for s in steps if s.status != Step.Status.COMPLETED), None)
    if failed is not None:
        reason = (failed.error or {}).get("message") or f"it ended {failed.status.lower()}"
        reply = f"Step {failed.index + 1} ({failed.action}) did not pass: {reason}"  # numbered from 1, as people count
        reply = _not_run(reply, [s for s in steps if s.index > failed.index], turn.remaining)
        turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=reply, code="step_failed")
        return Next()
    if turn.remaining:
        if turn.rounds >= MAX_ROUNDS:
            reply = "That needs more steps than I plan in one turn; split it up."
            turn_end(turn_id=turn.pk, status=Turn.Status.FAILED, reply=reply)
            return Next()
        return Next(replan=True)
    done = len(steps)
    said = turn.summary.removeprefix("I'll ").rstrip(".")
    said = said[:1].upper() + said[1:]
    reply = f"{said}: done, {done} step{'s' * (done != 1)} passed."
    turn_end(turn_id=turn.pk, status=Turn.Status.COMPLETED, reply=reply)
    return Next()


def _not_run(reply: str, later: list[Step], remaining: str) -> str:
    """The reply to a failed step, saying what did not happen after it: the turn's later steps (the lane
    cancelled them) and the rest of the instruction, not planned."""
    named = [f"{s.index + 1} ({s.action})" for s in later]
    said = []
    if named:
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        said.append(f"run step{'s' * (len(named) > 1)} {listed}")
    if rest := remaining_said(remaining):
        said.append(f'go on with "{rest}"')
    return f"{reply.rstrip('.')}. I did not {', nor '.join(said)}." if said else reply


def turn_end(*, turn_id: Any, status: str, reply: str, code: str | None = None) -> None:
    """Write the turn's answer (AGENT_MESSAGE), free the session mutex and start the next waiting turn."""
    with transaction.atomic():
        turn = Turn.objects.get(pk=turn_id)
        session = locked_session(turn.session_id)
        turn.refresh_from_db()
        if turn.status not in (Turn.Status.COMPLETED, Turn.Status.FAILED):
            _end(turn, session, status, reply, code=code)


def _end(turn: Turn, session: TestSession, status: str, reply: str, *, code: str | None = None) -> None:
    """`turn_end` inside a transaction that holds the session's row lock."""
    _finish(turn, session, status, reply, code=code)
    nxt = Turn.objects.filter(session=session, status=Turn.Status.ACCUMULATING).order_by("id").first()
    if nxt is not None and session.status not in TestSession.TERMINAL:
        _start_on_commit(nxt, session, accumulate=True)
    name, holder = f"mutex:session:{turn.session_id}", f"turn-{turn.pk}"
    transaction.on_commit(lambda: lock_release_holder(name=name, holder=holder))
    _log(turn, "turn_committed", status=status)


def _finish(turn: Turn, session: TestSession, status: str, reply: str, *, code: str | None = None) -> None:
    Turn.objects.filter(pk=turn.pk).update(status=status, reply=reply, finished_at=timezone.now())
    payload: dict[str, Any] = {"turn_id": turn.pk, "status": status, "text": reply}
    if code:
        payload["code"] = code
    event_append(session=session, type=SessionEvent.Type.AGENT_MESSAGE, payload=payload)


def turn_input_answered(*, session: TestSession, step: Step) -> None:
    """The question a turn waited on got its answer (or was cancelled): the turn goes on."""
    turn = Turn.objects.filter(session=session, waiting_step_id=step.pk, status=Turn.Status.WAITING_INPUT).first()
    if turn is None:
        return
    if step.status != Step.Status.COMPLETED:
        _end(turn, session, Turn.Status.FAILED, "The question was not answered; I stopped there.")
        return
    value = (step.result or {}).get("value", "")
    if not turn.remaining:
        _end(turn, session, Turn.Status.COMPLETED, "Thanks, carrying on.")
        return
    if turn.rounds >= MAX_ROUNDS:  # answers that never settle the question: not asked for ever
        reply = f"I still cannot tell what you mean after {turn.rounds} questions; say it again with the exact label."
        _end(turn, session, Turn.Status.FAILED, reply)
        return
    Turn.objects.filter(pk=turn.pk).update(
        status=Turn.Status.RUNNING, waiting_step_id=None, remaining=answered(turn.remaining, value)
    )
    _start_on_commit(turn, session, accumulate=False)


def turns_recover() -> int:
    """Turns whose chain was lost (a control or agents worker died mid-turn, Redis restarted): a RUNNING turn
    whose session mutex has lapsed is driven again from its answer (`respond` plans again if it must)."""
    running = Turn.objects.filter(status=Turn.Status.RUNNING).select_related("session", "session__device")
    return sum(_redrive(turn) for turn in running if lock_current(name=f"mutex:session:{turn.session_id}") is None)


def turns_redrive(*, session_id: Any) -> int:
    """The session's device worker was replaced (`lane_recovered`): a RUNNING turn with steps still to finish
    was in its drain, whose chain (with the answer) may have died with the worker, so it is driven again at
    once rather than when its mutex lapses (minutes). A chain that still lives finds itself stale (its token)
    and stops; the new one answers. A turn that is planning has no steps to finish: it is left alone (a second
    plan would append its steps twice)."""
    running = Turn.objects.filter(session_id=session_id, status=Turn.Status.RUNNING)
    in_drain = [
        turn
        for turn in running.select_related("session", "session__device")
        if Step.objects.filter(pk__in=turn.step_ids).exclude(status__in=Step.TERMINAL).exists()
    ]
    return sum(_redrive(turn) for turn in in_drain)


def _redrive(turn: Turn) -> bool:
    """Drive the turn with a chain of its own from where it is: its plan, or (steps appended) the drain and
    its answer. False when another turn holds the session's mutex."""
    if _mutex(turn) is None:
        return False
    token = uuid.uuid4().hex
    Turn.objects.filter(pk=turn.pk).update(chain_token=token)
    queue = turn.session.device.queue if turn.session.device else None
    rest = turn_rest(turn_id=turn.pk, chain_token=token, session_id=turn.session_id, device_queue=queue)
    chain(*(rest if not turn.step_ids else rest[1:])).apply_async()
    _log(turn, "turn_redriven")
    return True
