"""Reads of runs, scoped to their owner, and the report a run's GET and JUnit file are made from."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from core.errors import NotFound
from sessions.models import Step, TestSession
from sessions.selectors import failure_evidence, failure_logged

from .capture import replay_compare
from .flows import step_label
from .models import Run, SavedFlow

OUTCOME = {
    Step.Status.COMPLETED: "passed",
    Step.Status.FAILED: "failed",
    Step.Status.CANCELLED: "skipped",
    Step.Status.SKIPPED: "skipped",
    Step.Status.RUNNING: "running",
    Step.Status.QUEUED: "queued",
    Step.Status.DEFERRED: "queued",
}


def run_list(*, owner: AbstractBaseUser) -> QuerySet[Run]:
    return Run.objects.filter(owner=owner).select_related("session", "session__device")


def run_get(*, owner: AbstractBaseUser, run_id: Any) -> Run:
    try:
        return run_list(owner=owner).get(pk=run_id)
    except (Run.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such run.") from None


def replay_get(*, owner: AbstractBaseUser, run_id: Any) -> Run:
    """Like run_get, for replays only (a flow run's id → NotFound)."""
    run = run_get(owner=owner, run_id=run_id)
    if run.kind != Run.Kind.REPLAY:
        raise NotFound("No such replay.")
    return run


def saved_flow_list(*, owner: AbstractBaseUser) -> QuerySet[SavedFlow]:
    return SavedFlow.objects.filter(owner=owner).select_related("last_run")


def saved_flow_get(*, owner: AbstractBaseUser, flow_id: Any) -> SavedFlow:
    try:
        return saved_flow_list(owner=owner).get(pk=flow_id)
    except (SavedFlow.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such flow.") from None


def saved_flow_report(*, flow: SavedFlow) -> dict[str, Any]:
    """What the API shows of a saved flow; never its webhook secret (that is shown once, at creation)."""
    last = flow.last_run
    return {
        "id": str(flow.pk),
        "name": flow.name,
        "filename": flow.filename,
        "device": flow.device_serial or None,
        "cron": flow.cron or None,
        "enabled": flow.enabled,
        "env": flow.env,
        "flow": flow.flow,
        "last_run": {"id": str(last.pk), "status": last.status, "trigger": last.trigger} if last else None,
        "last_scheduled_at": _iso(flow.last_scheduled_at),
        "last_error": flow.last_error or None,
        "created_at": _iso(flow.created_at),
        "updated_at": _iso(flow.updated_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _inner(results: Any, children: list[dict[str, Any]], file: str) -> list[dict[str, Any]]:
    """The inner steps a compound step ran (from its result), with their labels, lines and files."""
    if not isinstance(results, list):
        return []
    rows = []
    for item in results:
        if not isinstance(item, dict):
            continue
        n = item.get("index", 0)
        planned = children[n] if isinstance(n, int) and 0 <= n < len(children) else {}
        row = {
            "index": n,
            "round": item.get("round", 1),
            "label": planned.get("label") or str(item.get("action", "?")),
            "line": planned.get("line"),
            "file": planned.get("file", file),
            "action": item.get("action"),
            "status": item.get("status"),
            "optional": bool(item.get("optional")),
            "duration_ms": item.get("duration_ms"),
            "error": item.get("error"),
        }
        nested = (item.get("result") or {}).get("steps") if isinstance(item.get("result"), dict) else None
        if nested:
            row["steps"] = _inner(nested, planned.get("children", []), row["file"])
        rows.append(row)
    return rows


def _failed_inner(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The innermost failed step of a compound step's run (the one that made it fail)."""
    for row in reversed(steps):
        if row["status"] == "failed" and not row["optional"]:
            return _failed_inner(row.get("steps", [])) or row
    return None


def session_links(*, session_id: Any) -> dict[str, str]:
    """A session's downloads: its recording, its device log and its capture bundle."""
    return {
        "recording": f"/api/sessions/{session_id}/recording.webm",
        "log": f"/api/sessions/{session_id}/logs.txt",
        "capture": f"/api/sessions/{session_id}/capture/",
    }


def run_report(*, run: Run) -> dict[str, Any]:
    """Status, progress, failures and every step's outcome (`skipped`: cancelled after a failure or a stop)."""
    session: TestSession = run.session
    has_shot = ExpressionWrapper(~Q(screenshot=""), output_field=BooleanField())
    rows = list(
        session.steps.order_by("index")
        .annotate(has_shot=has_shot)
        .values(
            "id",
            "index",
            "action",
            "status",
            "error",
            "duration_ms",
            "effect",
            "effect_hash",
            "has_shot",
            "result",
            "screen_hash",
        )
    )
    logged = failure_logged(session_id=session.pk)
    plan = run.plan
    steps = []
    for row in rows:
        n = row["index"]
        planned = plan[n] if n < len(plan) else {}
        shot = f"/api/sessions/{session.pk}/steps/{row['id']}/screenshot.png" if row["has_shot"] else None
        step: dict[str, Any] = {
            "index": n,
            "step_id": row["id"],
            "label": planned.get("label") or row["action"],
            "line": planned.get("line"),
            "file": planned.get("file") or run.filename,
            "action": row["action"],
            "status": OUTCOME[Step.Status(row["status"])],
            "optional": bool(planned.get("optional")),
            "always": bool(planned.get("always")),
            "duration_ms": row["duration_ms"],
            "error": row["error"],
            "screenshot": shot,
        }
        if row["status"] == Step.Status.FAILED:
            step["evidence"] = failure_evidence(
                session_id=session.pk, step_id=row["id"], screen_hash=row["screen_hash"], logged=row["id"] in logged
            )
        result = row["result"] if isinstance(row["result"], dict) else {}
        inner = result.get("steps")
        if inner is None and isinstance(row["error"], dict):  # a failed block keeps what it ran in its error
            inner = (row["error"].get("details") or {}).get("steps")
        if planned.get("children") or inner is not None:
            step["steps"] = _inner(inner, planned.get("children", []), step["file"])
        steps.append(step)
    done = [s for s in steps if s["status"] in ("passed", "failed", "skipped")]
    current = next((s for s in steps if s["status"] in ("running", "queued")), None)
    failures = []
    for s in steps:
        if s["status"] != "failed" or s["optional"]:
            continue
        inner = _failed_inner(s.get("steps", []))
        evidence = s.get("evidence") or {}
        failures.append(
            {
                "index": s["index"],
                "label": s["label"],
                "line": s["line"],
                "file": s["file"],
                "action": s["action"],
                "code": (s["error"] or {}).get("code", "failed"),
                "message": (s["error"] or {}).get("message", "The step failed."),
                "inner": {k: inner[k] for k in ("label", "line", "file", "action", "round")} if inner else None,
                "screenshot": evidence.get("screen") or session.screen_url or None,
                "evidence": evidence or None,
            }
        )
    report: dict[str, Any] = {
        "id": str(run.pk),
        "kind": run.kind,
        "name": run.name,
        "filename": run.filename,
        "syntax": run.syntax,
        "files": sorted(run.files),
        "tags": run.tags,
        "meta": run.meta,
        "session_id": str(session.pk),
        "session_status": session.status,
        "device": session.device.serial if session.device else None,
        "status": run.status,
        "cancel_reason": run.cancel_reason or None,
        "trigger": run.trigger,
        "saved_flow_id": str(run.saved_flow_id) if run.saved_flow_id else None,
        "steps_total": run.steps_total,
        "steps_done": len(done),
        "current_step": {k: current[k] for k in ("index", "label", "action")} if current else None,
        "created_at": _iso(run.created_at),
        "started_at": _iso(session.ready_at),
        "finished_at": _iso(run.finished_at),
        "duration_ms": int((run.finished_at - run.created_at).total_seconds() * 1000) if run.finished_at else None,
        "failures": failures,
        "artifacts": session_links(session_id=session.pk),
        "error": session.error,
        "steps": steps,
    }
    if run.kind == Run.Kind.REPLAY:
        compared = replay_compare(plan, rows)
        for step, row in zip(steps, compared, strict=False):
            step.update(expected_hash=row["expected_hash"], actual_hash=row["actual_hash"], match=row["match"])
        first = next((r for r in compared if r["ran"] and not r["match"]), None)
        report["first_divergence"] = None
        if first is not None:
            n = first["index"]
            report["first_divergence"] = {
                **first,
                "step": n + 1,
                "expected_effect": plan[n]["effect"],
                "actual_effect": rows[n]["effect"],
                "expected_error": plan[n]["error_code"],
                "actual_error": (rows[n]["error"] or {}).get("code"),
            }
        for step in steps:
            if step["index"] < len(plan):
                step["label"] = step_label(plan[step["index"]]["request"])
    return report
