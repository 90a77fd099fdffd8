"""Capture bundles (seed 003): a session as a versioned JSON document, validated strictly on the way back in."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import Any

from core.steps import StepInvalid, step_parse
from sessions.events import event_message
from sessions.models import TestSession

from .errors import BundleInvalid

VERSION = 1
TOP_FIELDS = {"version", "session", "provenance", "steps", "events", "decisions"}
SESSION_FIELDS = {"id", "name", "status", "source", "app", "created_at", "ended_at"}
PROVENANCE_FIELDS = {"device", "app_package", "app_version", "cognisim_version"}
DEVICE_FIELDS = {"serial", "model", "os_version", "transport"}
STEP_FIELDS = {
    "index",
    "action",
    "params",
    "timeout_ms",
    "max_retries",
    "backoff",
    "status",
    "attempt",
    "result",
    "error",
    "effect",
    "effect_hash",
    "duration_ms",
}
DECISION_FIELDS = {"step_index", "kind", "reason", "schedule_at", "created_at"}
STEP_STATUSES = {"QUEUED", "DEFERRED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "SKIPPED"}
RAN = ("COMPLETED", "FAILED")  # steps that reached the device; only these are replayed


def effect_hash(effect: Any) -> str:
    """SHA-256 of the canonical JSON of an effect, as `sessions/lane.py` computes it ("" for none)."""
    if effect is None:
        return ""
    canonical = json.dumps(effect, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def cognisim_version() -> str:
    try:
        return metadata.version("cognisim")
    except metadata.PackageNotFoundError:
        return "unknown"


def bundle_export(*, session: TestSession) -> dict[str, Any]:
    device = session.device
    steps = session.steps.defer("screenshot").order_by("index")
    return {
        "version": VERSION,
        "session": {
            "id": str(session.pk),
            "name": session.name,
            "status": session.status,
            "source": session.source,
            "app": session.app_package,
            "created_at": session.created_at.isoformat(),
            "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        },
        "provenance": {
            "device": {
                "serial": device.serial if device else "",
                "model": device.model if device else "",
                "os_version": device.os_version if device else "",
                "transport": device.transport if device else "",
            },
            "app_package": session.app_package,
            "app_version": None,  # drivers do not report app versions yet
            "cognisim_version": cognisim_version(),
        },
        "steps": [
            {
                "index": s.index,
                "action": s.action,
                "params": s.params,
                "timeout_ms": s.timeout_ms,
                "max_retries": s.max_retries,
                "backoff": s.backoff,
                "status": s.status,
                "attempt": s.attempt,
                "result": s.result,
                "error": s.error,
                "effect": s.effect,
                "effect_hash": s.effect_hash,
                "duration_ms": s.duration_ms,
            }
            for s in steps
        ],
        "events": [event_message(e) for e in session.events.order_by("seq")],
        "decisions": [
            {
                "step_index": d.step.index,
                "kind": d.kind,
                "reason": d.reason,
                "schedule_at": d.schedule_at.isoformat() if d.schedule_at else None,
                "created_at": d.created_at.isoformat(),
            }
            for d in session.decisions.select_related("step").order_by("id")
        ],
    }


def _fields(value: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleInvalid(f"{where} must be an object.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BundleInvalid(f"Unknown field '{where}.{unknown[0]}' in the bundle.")
    missing = sorted(allowed - set(value))
    if missing:
        raise BundleInvalid(f"The bundle lacks '{where}.{missing[0]}'.")
    return value


def step_request(step: dict[str, Any]) -> dict[str, Any]:
    """The captured step as POST /api/sessions/{id}/steps/ takes it."""
    data = {"action": step["action"], **step["params"], "max_retries": step["max_retries"], "backoff": step["backoff"]}
    if step["action"] != "wait_for":  # its params already hold the wait; the step timeout derives from it
        data["timeout_ms"] = step["timeout_ms"]
    return data


def bundle_validate(data: Any) -> dict[str, Any]:
    """Check a bundle's shape, version, steps and every effect hash; raise BundleInvalid naming the problem."""
    if not isinstance(data, dict):
        raise BundleInvalid("A capture bundle is a JSON object.")
    if "version" in data and data["version"] != VERSION:
        raise BundleInvalid(f"Unknown bundle version {data['version']!r}; this server reads version {VERSION}.")
    unknown = sorted(set(data) - TOP_FIELDS)
    if unknown:
        raise BundleInvalid(f"Unknown field '{unknown[0]}' in the bundle.")
    _fields(data, TOP_FIELDS, "bundle")
    _fields(data["session"], SESSION_FIELDS, "session")
    _fields(data["provenance"], PROVENANCE_FIELDS, "provenance")
    _fields(data["provenance"]["device"], DEVICE_FIELDS, "provenance.device")
    for name in ("steps", "events", "decisions"):
        if not isinstance(data[name], list):
            raise BundleInvalid(f"'{name}' must be a list.")
    if not data["steps"]:
        raise BundleInvalid("The bundle has no steps.")
    for n, step in enumerate(data["steps"]):
        where = f"steps[{n}]"
        _fields(step, STEP_FIELDS, where)
        if step["index"] != n:
            raise BundleInvalid(f"{where}.index is {step['index']!r}; steps must be numbered 0, 1, 2 … in order.")
        if step["status"] not in STEP_STATUSES:
            raise BundleInvalid(f"{where}.status {step['status']!r} is not a step status.")
        if not isinstance(step["params"], dict):
            raise BundleInvalid(f"{where}.params must be an object.")
        if step["action"] == "ask_user" and step["status"] in RAN:
            raise BundleInvalid(f"{where}: ask_user steps cannot be replayed (nobody answers a replay).")
        try:
            step_parse(step_request(step))
        except StepInvalid as exc:
            raise BundleInvalid(f"{where} ({step['action']}): {exc.message}") from None
        if step["effect"] is not None and not isinstance(step["effect"], dict):
            raise BundleInvalid(f"{where}.effect must be an object or null.")
        if step["effect_hash"] != effect_hash(step["effect"]):
            raise BundleInvalid(
                f"{where}.effect_hash does not match its effect (SHA-256 of the canonical JSON is "
                f"{effect_hash(step['effect']) or 'empty for no effect'}): the bundle was altered."
            )
    for n, event in enumerate(data["events"]):
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("seq"), int)
            or not isinstance(event.get("type"), str)
        ):
            raise BundleInvalid(f"events[{n}] must be an object with an integer 'seq' and a 'type'.")
    for n, decision in enumerate(data["decisions"]):
        _fields(decision, DECISION_FIELDS, f"decisions[{n}]")
    if not any(s["status"] in RAN for s in data["steps"]):
        raise BundleInvalid("No step of the bundle ran; there is nothing to replay.")
    return data


def replay_plan(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """What a replay runs and expects, one entry per step that ran in the capture."""
    return [
        {
            "captured_index": s["index"],
            "action": s["action"],
            "request": step_request(s),
            "status": s["status"],
            "error_code": (s["error"] or {}).get("code") if isinstance(s["error"], dict) else None,
            "effect": s["effect"],
            "effect_hash": s["effect_hash"],
        }
        for s in bundle["steps"]
        if s["status"] in RAN
    ]


def replay_compare(plan: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Step by step: expected (captured) against actual (replayed) status and effect hash."""
    rows = []
    for n, expected in enumerate(plan):
        got = actual[n] if n < len(actual) else None
        status = got["status"] if got else None
        ran = status in RAN
        rows.append(
            {
                "index": n,
                "captured_index": expected["captured_index"],
                "action": expected["action"],
                "expected_status": expected["status"],
                "actual_status": status,
                "expected_hash": expected["effect_hash"],
                "actual_hash": got["effect_hash"] if got else None,
                "ran": ran,
                "match": ran
                and status == expected["status"]
                and got is not None
                and got["effect_hash"] == expected["effect_hash"],
            }
        )
    return rows
