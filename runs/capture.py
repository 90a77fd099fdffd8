"""Capture bundles (seed 003): a session as a versioned JSON document, validated strictly on the way back in."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.jsonsafe import JsonRefused, json_check
from core.steps import MAX_RETRIES, MAX_TIMEOUT_MS, PACKAGE_RE, StepInvalid, step_parse
from devices.logcat import MAX_LINE
from sessions.events import event_message
from sessions.models import Decision, Step, TestSession
from sessions.selectors import device_log_lines, failure_evidence, failure_logged

from .errors import BundleInvalid
from .flows import MAX_STEPS

VERSION = 1
TOP_FIELDS = {"version", "session", "provenance", "steps", "events", "decisions"}
OPTIONAL_TOP_FIELDS = {"device_log"}  # the device's log lines (`logcat -v threadtime`), not replayed
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
OPTIONAL_STEP_FIELDS = {"evidence"}  # a failed step's screen, UI tree and last log lines, as links
DECISION_FIELDS = {"step_index", "kind", "reason", "schedule_at", "created_at"}
STEP_STATUSES = set(Step.Status.values)
RAN = ("COMPLETED", "FAILED")  # steps that reached the device; only these are replayed
MAX_BUNDLE_STEPS = 10_000
MAX_BUNDLE_RECORDS = 100_000  # events, decisions, log lines


# The bundle's fields, typed like the API's (the OpenAPI body of POST /api/replays/ is this model).
def _text(length: int) -> Any:
    return Annotated[str, Field(max_length=length)]


AppPackage = Annotated[str, Field(max_length=255, pattern=f"^$|{PACKAGE_RE.pattern}")]
Stamp = Annotated[str, Field(max_length=64)]
Link = Annotated[str, Field(max_length=300, pattern=r"^/api/\S*$")] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BundleDevice(_Strict):
    serial: _text(128)  # type: ignore[valid-type]
    model: _text(200)  # type: ignore[valid-type]
    os_version: _text(50)  # type: ignore[valid-type]
    transport: Literal["adb", "sim", ""]


class BundleProvenance(_Strict):
    device: BundleDevice
    app_package: AppPackage
    app_version: _text(100) | None  # type: ignore[valid-type]
    cognisim_version: _text(100)  # type: ignore[valid-type]


class BundleSession(_Strict):
    id: _text(64)  # type: ignore[valid-type]
    name: _text(200)  # type: ignore[valid-type]
    status: Literal[tuple(TestSession.Status.values)]  # type: ignore[valid-type]
    source: Literal[tuple(TestSession.Source.values)]  # type: ignore[valid-type]
    app: AppPackage
    created_at: Stamp
    ended_at: Stamp | None


class BundleEvidence(_Strict):
    screen: Link
    ui_tree: Link
    log: Link


class BundleStep(_Strict):
    index: Annotated[int, Field(ge=0, le=MAX_BUNDLE_STEPS - 1)]
    action: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any]
    timeout_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MS + 5_000)]  # a wait_for's own wait + 5 s
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)]
    backoff: dict[str, Any]
    status: Literal[tuple(Step.Status.values)]  # type: ignore[valid-type]
    attempt: Annotated[int, Field(ge=0, le=1000)]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    effect: dict[str, Any] | None
    effect_hash: Annotated[str, Field(pattern="^([0-9a-f]{64})?$")]
    duration_ms: Annotated[int, Field(ge=0)] | None
    evidence: BundleEvidence | None = None


class BundleEvent(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    seq: Annotated[int, Field(ge=1)]
    type: Annotated[str, Field(min_length=1, max_length=64)]


class BundleDecision(_Strict):
    step_index: Annotated[int, Field(ge=0)]
    kind: Literal[tuple(Decision.Kind.values)]  # type: ignore[valid-type]
    reason: _text(64)  # type: ignore[valid-type]
    schedule_at: Stamp | None
    created_at: Stamp


class Bundle(_Strict):
    """A capture bundle (GET /api/sessions/{id}/capture/), as POST /api/replays/ takes it back."""

    version: Literal[1]
    session: BundleSession
    provenance: BundleProvenance
    steps: Annotated[list[BundleStep], Field(max_length=MAX_BUNDLE_STEPS)]  # a replay needs one that ran
    events: Annotated[list[BundleEvent], Field(max_length=MAX_BUNDLE_RECORDS)]
    decisions: Annotated[list[BundleDecision], Field(max_length=MAX_BUNDLE_RECORDS)]
    device_log: Annotated[list[_text(MAX_LINE)], Field(max_length=MAX_BUNDLE_RECORDS)] | None = None  # type: ignore[valid-type]


class ReplayRequest(_Strict):
    """POST /api/replays/: a capture bundle, and the device to replay it on (any free one if left out)."""

    bundle: Bundle
    device: Annotated[str, Field(min_length=1, max_length=128)] | None = None


def _where(loc: tuple[Any, ...]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "bundle"


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
    steps = session.steps.order_by("index")
    logged = failure_logged(session_id=session.pk)
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
                **({"evidence": _evidence(s, logged)} if s.status == Step.Status.FAILED else {}),
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
        "device_log": device_log_lines(session_id=session.pk)[-MAX_BUNDLE_RECORDS:],
    }


def _evidence(step: Step, logged: set[int]) -> dict[str, str | None]:
    return failure_evidence(
        session_id=step.session_id, step_id=step.pk, screen_hash=step.screen_hash, logged=step.pk in logged
    )


def _fields(value: Any, allowed: set[str], where: str, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleInvalid(f"{where} must be an object.")
    unknown = sorted(set(value) - allowed - optional)
    if unknown:
        raise BundleInvalid(f"Unknown field '{where}.{unknown[0]}' in the bundle.")
    missing = sorted(allowed - set(value))
    if missing:
        raise BundleInvalid(f"The bundle lacks '{where}.{missing[0]}'.")
    return value


def step_request(step: dict[str, Any]) -> dict[str, Any]:
    """The captured step as POST /api/sessions/{id}/steps/ takes it.

    The bundle's `timeout_ms` is the step's time limit, which the default fills when the step gave
    none; sent back as given, it would become the element wait of a step that has one (30 s, not
    5 s). So the default is left out, and a wait the step asked for is in its params already."""
    data = {"action": step["action"], **step["params"], "max_retries": step["max_retries"], "backoff": step["backoff"]}
    if "timeout_ms" not in step["params"] and step["timeout_ms"] != settings.STEP_DEFAULT_TIMEOUT_MS:
        data["timeout_ms"] = step["timeout_ms"]
    return data


def bundle_validate(data: Any) -> dict[str, Any]:
    """Check a bundle's shape, version, steps and every effect hash; raise BundleInvalid naming the problem."""
    if not isinstance(data, dict):
        raise BundleInvalid("A capture bundle is a JSON object.")
    try:  # a bundle may come from elsewhere than a request body: the same limits (depth, NUL, surrogates)
        json_check(data)
    except JsonRefused as exc:
        raise BundleInvalid(f"{exc.field or 'bundle'}: {exc.message}") from None
    if "version" in data and (data["version"] != VERSION or isinstance(data["version"], bool)):
        shown = repr(data["version"])
        shown = shown if len(shown) <= 40 else f"{shown[:40]}…"
        raise BundleInvalid(f"Unknown bundle version {shown}; this server reads version {VERSION}.")
    unknown = sorted(set(data) - TOP_FIELDS - OPTIONAL_TOP_FIELDS)
    if unknown:
        raise BundleInvalid(f"Unknown field '{unknown[0]}' in the bundle.")
    _fields(data, TOP_FIELDS, "bundle", frozenset(OPTIONAL_TOP_FIELDS))
    _fields(data["session"], SESSION_FIELDS, "session")
    _fields(data["provenance"], PROVENANCE_FIELDS, "provenance")
    _fields(data["provenance"]["device"], DEVICE_FIELDS, "provenance.device")
    for name in ("steps", "events", "decisions"):
        if not isinstance(data[name], list):
            raise BundleInvalid(f"'{name}' must be a list.")
    if not data["steps"]:
        raise BundleInvalid("The bundle has no steps.")
    for n, step in enumerate(data["steps"]):
        _fields(step, STEP_FIELDS, f"steps[{n}]", frozenset(OPTIONAL_STEP_FIELDS))
    for n, decision in enumerate(data["decisions"]):
        _fields(decision, DECISION_FIELDS, f"decisions[{n}]")
    for n, event in enumerate(data["events"]):
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("seq"), int)
            or not isinstance(event.get("type"), str)
        ):
            raise BundleInvalid(f"events[{n}] must be an object with an integer 'seq' and a 'type'.")
    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise BundleInvalid(f"{_where(error['loc'])}: {error['msg']}.") from None
    for n, step in enumerate(data["steps"]):
        where = f"steps[{n}]"
        if step["index"] != n:
            raise BundleInvalid(f"{where}.index is {step['index']!r}; steps must be numbered 0, 1, 2 … in order.")
        if step["action"] == "ask_user" and step["status"] in RAN:
            raise BundleInvalid(f"{where}: ask_user steps cannot be replayed (nobody answers a replay).")
        try:
            step_parse(step_request(step))
        except StepInvalid as exc:
            raise BundleInvalid(f"{where} ({step['action']}): {exc.message}") from None
        if step["effect_hash"] != effect_hash(step["effect"]):
            raise BundleInvalid(
                f"{where}.effect_hash does not match its effect (SHA-256 of the canonical JSON is "
                f"{effect_hash(step['effect']) or 'empty for no effect'}): the bundle was altered."
            )
    ran = sum(s["status"] in RAN for s in data["steps"])
    if not ran:
        raise BundleInvalid("No step of the bundle ran; there is nothing to replay.")
    if ran > MAX_STEPS:
        raise BundleInvalid(f"{ran} steps of the bundle ran; a replay runs at most {MAX_STEPS}.")
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
