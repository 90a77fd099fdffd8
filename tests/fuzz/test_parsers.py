"""Property-based fuzzing of what parses user input: nothing but its own validation error ever escapes.

The step parser (`core.steps.step_parse` → StepInvalid), the flow parser (`runs.flows.flow_parse`,
YAML, Maestro files, other files → FlowInvalid), the bundle importer (`runs.capture.bundle_validate`
→ BundleInvalid) and the JSON reader every request and frame goes through (`core.jsonsafe.json_load`
→ JsonRefused). What they accept must also be safe to store and send: JSON-serialisable, no NUL,
no lone surrogate.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.jsonsafe import JsonRefused, json_load
from core.steps import StepInvalid, StepSpec, step_parse
from runs.capture import bundle_validate
from runs.errors import BundleInvalid
from runs.flows import FlowInvalid, flow_parse
from tests.fuzz.strategies import VALID_BUNDLE, as_json_bytes, bundles, flow_texts, json_values, step_requests

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def storable(value: Any) -> None:
    """What a parser accepted can be stored as JSON on PostgreSQL and sent as UTF-8."""
    text = json.dumps(value, allow_nan=False)
    text.encode("utf-8")
    assert "\\u0000" not in text


@FUZZ
@given(st.one_of(step_requests(), json_values()))
@example({"action": ["tap"]})
@example({"action": "type", "text": "\ud800"})
@example({"action": "type", "text": "a\x00b"})
@example({"action": "tap", "text": "OK", "index": True})
@example({"action": "repeat", "times": 1, "steps": [{"action": "repeat", "times": 1, "steps": []}]})
def test_the_step_parser_accepts_or_refuses_with_step_invalid(data):
    try:
        spec = step_parse(copy.deepcopy(data))
    except StepInvalid as exc:
        assert exc.field and exc.message and len(exc.message) < 2000
        return
    assert isinstance(spec, StepSpec)
    storable({"params": spec.params, "backoff": spec.backoff})
    assert step_parse({"action": spec.action, **spec.params}).action == spec.action  # what it keeps parses again


@FUZZ
@given(flow_texts())
@example("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nsteps: [*b]\n")
@example("steps:\n" + "  " * 0 + "- " + "[" * 3000 + "]" * 3000)
@example("steps: [{action: [tap]}]")
@example('name: x\nsteps:\n  - type: {text: "\\0"}\n')
@example("steps:\n  - swipe: {x: .nan, y: .inf}\n  - sleep: {ms: .inf}\n")
def test_the_flow_parser_accepts_or_refuses_with_flow_invalid(text):
    try:
        flow = flow_parse(text, filename="fuzz.yaml", files={"other.yaml": text})
    except FlowInvalid as exc:
        assert exc.errors and all(e.message and len(e.message) <= 500 for e in exc.errors)
        assert len(exc.errors) <= 100
        return
    assert flow.steps or flow.syntax == "maestro"  # a Maestro flow whose commands all do nothing has no steps
    for step in flow.steps:
        storable(step.data)
        step_parse(step.data)


@FUZZ
@given(bundles())
@example([])
@example({**VALID_BUNDLE, "session": {**VALID_BUNDLE["session"], "app": "not a package"}})
@example({**VALID_BUNDLE, "session": {**VALID_BUNDLE["session"], "name": "x" * 100_000}})
@example({**VALID_BUNDLE, "steps": [{**VALID_BUNDLE["steps"][0], "status": ["COMPLETED"]}]})
@example({**VALID_BUNDLE, "version": True})
@example({**VALID_BUNDLE, "session": {**VALID_BUNDLE["session"], "app": {"package": "a.b", "n": float("inf")}}})
def test_the_bundle_importer_accepts_or_refuses_with_bundle_invalid(bundle):
    try:
        accepted = bundle_validate(copy.deepcopy(bundle))
    except BundleInvalid as exc:
        assert exc.message and len(exc.message) < 2000
        return
    storable(accepted)
    assert accepted["version"] == 1 and accepted["version"] is not True
    assert len(accepted["session"]["name"]) <= 200


def test_the_fuzzed_bundle_starts_from_a_valid_one():
    assert bundle_validate(copy.deepcopy(VALID_BUNDLE))["steps"][1]["status"] == "FAILED"


@FUZZ
@given(st.one_of(st.binary(max_size=200), json_values().map(as_json_bytes)))
@example(b"[" * 50_000 + b"]" * 50_000)
@example(b'{"a": "\\ud800"}')
@example(b'{"a\\u0000": 1}')
@example(b"\xff\xfe")
@example(b"[NaN, 1e999]")
@example(b'[{"a": {"b": 1, "b": 2}}]')
def test_the_json_reader_decodes_or_refuses_with_json_refused(raw):
    try:
        value = json_load(raw, max_bytes=1 << 20)
    except JsonRefused as exc:
        assert exc.message
        codes = {
            "parse_error",
            "too_deep",
            "invalid_characters",
            "invalid_number",
            "request_too_large",
            "duplicate_key",
        }
        assert exc.code in codes
        return
    storable(value)
