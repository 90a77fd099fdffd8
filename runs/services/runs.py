"""Writes of runs: start a flow or a replay as a session, and record its verdict when the session ends.

A run is a session with the CI policy: it stops at its first failed step (every later step is
cancelled before it starts; an `optional` step's failure does not count) and ends when its steps
are done. The session's own lane applies that policy on the device's worker (sessions/lane.py);
when the session ends, the session layer's `session_ended` signal records the run's verdict here,
in the same transaction. Nothing advances a run from outside: not a GET, not a task queued behind
its steps.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.steps import step_parse
from devices.models import Device
from sessions.models import Step, TestSession
from sessions.services import locked_session, session_open, session_stop, steps_append
from sessions.services.base import device_not_found, retry_on_deadlock

from ..capture import bundle_validate, replay_compare, replay_plan
from ..errors import DeviceUnknown, FlowRejected, RunLimit
from ..flows import Flow, FlowInvalid, flow_parse, flow_secret_values
from ..models import Run, SavedFlow
from ..selectors import run_get

Status = Run.Status


def flow_check(
    *,
    text: str,
    filename: str,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    device_serial: str | None = None,
) -> Flow:
    """Parse and validate a flow and the files it runs, or raise FlowRejected with every located error;
    then refuse a `device_serial` there is no device for (DeviceUnknown), before anything starts."""
    try:
        flow = flow_parse(text, filename=filename, env=env, secrets=secrets, files=files)
    except FlowInvalid as exc:
        lines = [e.format(filename) for e in exc.errors]
        raise FlowRejected(
            lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""),
            errors=[
                {"file": e.file or filename, "line": e.line, "column": e.column, "message": e.message, "text": t}
                for e, t in zip(exc.errors, lines, strict=True)
            ],
        ) from None
    device_check(device_serial=device_serial)
    return flow


def device_check(*, device_serial: str | None) -> None:
    """Refuse a device serial there is no device for: a bad field of the request, not a failure at start."""
    if device_serial and not Device.objects.filter(serial=device_serial).exists():
        raise DeviceUnknown(f"device: {device_not_found(device_serial).message}", field="device")


def _run_slot(owner: AbstractBaseUser) -> None:
    """Refuse a run over the owner's runs-in-flight cap (the owner's row is locked: race-free)."""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
    cap = int(settings.MAX_RUNS_IN_FLIGHT_PER_USER)
    if Run.objects.filter(owner=owner, status=Status.RUNNING).count() >= cap:
        raise RunLimit(f"You have {cap} runs in flight, the most allowed; wait for one to end or stop one.", limit=cap)


def _start(
    *,
    owner: AbstractBaseUser,
    kind: str,
    name: str,
    app_package: str,
    device_serial: str | None,
    requests: list[dict[str, Any]],
    plan: list[Any],
    stop_on_failure: bool,
    secrets: dict[str, str] | None = None,
    **fields: Any,
) -> Run:
    source = TestSession.Source.CI if kind == Run.Kind.FLOW else TestSession.Source.REPLAY
    specs = [step_parse(data) for data in requests]
    with transaction.atomic():  # the session's chain(setup, drain) is sent after commit and drains the steps
        _run_slot(owner)
        session = session_open(
            owner=owner,
            device_serial=device_serial,
            name=name,
            app_package=app_package,
            source=source,
            queue=True,
            stop_on_failure=stop_on_failure,
            end_when_drained=True,
            secrets=secrets,
        )
        run = Run.objects.create(
            owner=owner,
            session=session,
            kind=kind,
            name=name,
            plan=plan,
            steps_total=len(requests),
            stop_on_failure=stop_on_failure,
            **fields,
        )
        steps_append(session_id=session.pk, specs=specs)
    return run


def run_start(
    *,
    owner: AbstractBaseUser,
    flow_text: str,
    filename: str,
    device_serial: str | None = None,
    name: str = "",
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    trigger: str = Run.Trigger.API,
    saved_flow: SavedFlow | None = None,
) -> Run:
    """Validate a flow and run it as a `ci` session that waits for a device if none is free.

    Secret variables stay `${NAME}` in the steps; their values go to the session only (never stored).
    An unknown `device_serial` is refused as the dry run refuses it; a saved flow's device was checked when
    it was saved, and one gone since is a reason of the moment (not found, kept in its `last_error`)."""
    flow = flow_check(
        text=flow_text,
        filename=filename,
        env=env,
        secrets=secrets,
        files=files,
        device_serial=device_serial if saved_flow is None else None,
    )
    return _start(
        owner=owner,
        kind=Run.Kind.FLOW,
        name=name or flow.name,
        app_package=flow.app,
        device_serial=device_serial,
        requests=[s.data for s in flow.steps],
        plan=[s.plan() for s in flow.steps],
        stop_on_failure=True,
        secrets=flow_secret_values(flow, env=env or {}, secrets=secrets or {}),
        filename=filename,
        tags=flow.tags,
        flow=flow_text,
        files={path: (files or {})[path] for path in flow.files},
        syntax=flow.syntax,
        meta=meta or {},
        trigger=trigger,
        saved_flow=saved_flow,
    )


def replay_start(*, owner: AbstractBaseUser, bundle: Any, device_serial: str | None = None) -> Run:
    """Run the steps a capture bundle ran, on a device, as a `replay` session; every step runs."""
    bundle = bundle_validate(bundle)
    plan = replay_plan(bundle)
    return _start(
        owner=owner,
        kind=Run.Kind.REPLAY,
        name=f"replay of {bundle['session']['name'] or bundle['session']['id']}",
        app_package=bundle["session"]["app"] or "",
        device_serial=device_serial,
        requests=[p["request"] for p in plan],
        plan=plan,
        stop_on_failure=False,
    )


def _verdict(run: Run, session: TestSession, steps: list[dict[str, Any]]) -> str:
    if run.kind == Run.Kind.REPLAY:
        rows = replay_compare(run.plan, steps)
        if any(r["ran"] and not r["match"] for r in rows):
            return Status.DIVERGED
        return Status.IDENTICAL if all(r["match"] for r in rows) else Status.ERROR
    if any(_failed(run, s) for s in steps):
        return Status.FAILED
    done = [s for s in steps if s["status"] == Step.Status.COMPLETED or _optional(run, s)]
    return Status.PASSED if len(done) == run.steps_total else Status.ERROR


def _optional(run: Run, step: dict[str, Any]) -> bool:
    """A flow step marked `optional: true` that failed: it fails nothing."""
    planned = run.plan[step["index"]] if step["index"] < len(run.plan) else {}
    return step["status"] == Step.Status.FAILED and bool(planned.get("optional"))


def _failed(run: Run, step: dict[str, Any]) -> bool:
    return step["status"] == Step.Status.FAILED and not _optional(run, step)


def run_session_ended(*, session: TestSession) -> None:
    """The run's session ended (done, failed, stopped, or its setup failed): record the verdict, once."""
    run = Run.objects.filter(session=session, status=Status.RUNNING).first()
    if run is None:
        return  # no run, or one cancelled from outside: it keeps `cancelled`
    steps = list(session.steps.order_by("index").values("index", "status", "effect_hash"))
    verdict = _verdict(run, session, steps)
    if Run.objects.filter(pk=run.pk, status=Status.RUNNING).update(status=verdict, finished_at=timezone.now()):
        transaction.on_commit(partial(metrics.run_ended, kind=run.kind, verdict=verdict))


@retry_on_deadlock
def run_stop(*, owner: AbstractBaseUser, run_id: Any, reason: str = "") -> Run:
    """Cancel a run from outside (the CLI on SIGTERM/SIGINT): it records `cancelled` and why, and its
    session is stopped (the device is released). A run that already has its verdict keeps it.

    One transaction, the session's row locked first (as the lane locks it before it records a verdict):
    no read sees the run cancelled while its steps are not over yet."""
    run = run_get(owner=owner, run_id=run_id)
    if run.status == Status.RUNNING:
        reason = reason.strip()[:500] or "stopped through the API"
        with transaction.atomic():
            locked_session(run.session_id)
            if Run.objects.filter(pk=run.pk, status=Status.RUNNING).update(
                status=Status.CANCELLED, cancel_reason=reason, finished_at=timezone.now()
            ):
                transaction.on_commit(partial(metrics.run_ended, kind=run.kind, verdict=Status.CANCELLED))
            session_stop(session_id=run.session_id, owner=owner, reason=reason)
        run.refresh_from_db()
    return run
