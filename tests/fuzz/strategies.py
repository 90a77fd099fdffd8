"""Hypothesis strategies for what users send: JSON values, step requests, flow YAML, capture bundles."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import strategies as st

from core.steps import ACTIONS, BLOCK_ACTIONS, KEYS, SELECTOR_KEYS

FIELDS = sorted(
    {*SELECTOR_KEYS, "index", "x", "y", "package", "clear_state", "into", "direction", "from", "to", "duration_ms",
     "max_swipes", "key", "prompt", "choices", "ms", "text", "secret", "timeout_ms", "max_retries", "backoff",
     "optional", "always", "steps", "times", "while", "when", "max_attempts", "visible", "not_visible", "strategy",
     "base_ms", "enabled", "checked", "selected", "focused", "below", "above", "left_of", "right_of", "child_of"}
)
WORDS = ["tap", "OK", "com.cognisim.demo", "up", "down", "back", "home", "exponential", "Login", "email", "${X}",
         "\x00", "\ud800", "\x07", "²", "", " ", "a" * 5000, "-1", "1e309", "true", "null"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=40),
)


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Any JSON-like value (and a few that JSON cannot hold: NaN, lone surrogates, huge integers)."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), inner, max_size=6),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def step_requests(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """Something close to a step: a known (or not) action with known (or not) fields of any value."""
    action = draw(st.one_of(st.sampled_from([*ACTIONS, *BLOCK_ACTIONS]), scalars, json_values(4)))
    step: dict[str, Any] = {"action": action}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        if name == "steps" and depth < 3:
            step[name] = draw(st.lists(step_requests(depth + 1), max_size=3))
        elif name in ("into", "visible", "not_visible", "while", "when", "from", "to", "backoff", "below", "above",
                      "left_of", "right_of", "child_of"):
            step[name] = draw(st.one_of(st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=3), json_values(6)))
        elif name in ("enabled", "checked", "selected", "focused"):
            step[name] = draw(st.one_of(st.booleans(), scalars))
        elif name == "key":
            step[name] = draw(st.one_of(st.sampled_from(sorted(KEYS)), scalars))
        else:
            step[name] = draw(st.one_of(scalars, json_values(5)))
    return step


MAESTRO_SELECTOR_FIELDS = ["text", "id", "index", "enabled", "checked", "selected", "focused", "below", "above",
                           "childOf", "leftOf", "rightOf", "containsChild", "label", "optional"]


MAESTRO_COMMANDS_WITH_FIELDS = ["tapOn", "extendedWaitUntil", "scrollUntilVisible", "swipe", "eraseText", "repeat",
                                "retry", "runFlow", "launchApp", "inputText", "pressKey"]
MAESTRO_COMMAND_FIELDS = ["timeout", "duration", "repeat", "index", "times", "maxRetries", "charactersToErase",
                          "visible", "notVisible", "element", "direction", "start", "end", "commands", "text",
                          "file", "when", "label", "optional", "clearState", "appId"]


def maestro_selectors(depth: int = 0) -> st.SearchStrategy[Any]:
    """Maestro selectors: a text, or a mapping of its fields (relations holding selectors) with odd values."""
    inner = maestro_selectors(depth + 1) if depth < 2 else st.sampled_from(["OK", "Email"])
    return st.one_of(
        st.sampled_from(["Sign in", "OK"]),
        st.dictionaries(
            st.sampled_from(MAESTRO_SELECTOR_FIELDS),
            st.one_of(st.sampled_from(["Sign in", "email", "true", "false", "x"]), st.booleans(), scalars, inner),
            max_size=4,
        ),
    )


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


@st.composite
def flow_texts(draw: st.DrawFn) -> str:
    """Flow files: well-formed documents with odd steps and headers, Maestro-like ones, and raw YAML-ish text."""
    kind = draw(st.sampled_from(["native", "short", "maestro", "raw", "mutated"]))
    if kind == "raw":
        return draw(st.one_of(
            st.text(max_size=300),
            st.sampled_from([
                "a: &a [1, 2]\nb: *a\n", "[" * 200 + "]" * 200, "!!python/object:os.system x", "x: !!float nope",
                "steps:\n  - tap: {text: OK}\n  - tap: {text: OK}\n    tap: {}\n", "---\n---\n", "? [a, b]\n: c\n",
                "steps: !!set {a, b}", "steps: [!!binary aGk=]", "name: !!timestamp 2001-99-99",
            ]),
        ))
    steps = draw(st.lists(st.one_of(
        step_requests(),
        st.builds(lambda s: {s.get("action") if isinstance(s.get("action"), str) else "tap":
                             {k: v for k, v in s.items() if k != "action"}}, step_requests()),
        st.sampled_from([*ACTIONS, *BLOCK_ACTIONS, "dance"]),
        json_values(6),
    ), max_size=6))
    header: dict[str, Any] = {"name": draw(st.one_of(st.text(max_size=20), scalars))}
    for key in draw(st.lists(st.sampled_from(["app", "tags", "env", "secrets", "flows", "colour"]), unique=True,
                             max_size=4)):
        header[key] = draw(json_values(6))
    if kind == "maestro":
        commands = draw(st.lists(st.one_of(
            st.sampled_from(["launchApp", "back", "hideKeyboard", "takeScreenshot", "scroll"]),
            st.dictionaries(st.sampled_from(["tapOn", "inputText", "assertVisible", "swipe", "runFlow", "repeat",
                                             "retry", "pressKey", "waitForAnimationToEnd", "extendedWaitUntil",
                                             "scrollUntilVisible", "eraseText", "launchApp", "evalScript"]),
                            json_values(6), min_size=1, max_size=1),
            st.builds(lambda sel: {"tapOn": sel}, maestro_selectors()),
            st.builds(lambda command, fields: {command: fields}, st.sampled_from(MAESTRO_COMMANDS_WITH_FIELDS),
                      st.dictionaries(st.sampled_from(MAESTRO_COMMAND_FIELDS), st.one_of(
                          scalars, json_values(3), st.sampled_from(["1.5", "abc", "OK", "1, 2", "UP", "-3"])),
                          max_size=4)),
        ), max_size=6))
        return _yaml({"appId": draw(st.one_of(st.just("com.cognisim.demo"), scalars))}) + "---\n" + _yaml(commands)
    text = _yaml({**header, "steps": steps if kind != "short" else [{"tap": {"text": "OK"}}, *steps]})
    if kind == "mutated" and text:
        at = draw(st.integers(0, len(text)))
        noise = draw(st.sampled_from(["&a ", "*a", "\t", ": ", "- ", "{", "[", "'", '"', "\n  ", "%"]))
        text = text[:at] + noise + text[at:]
    return text


def _hash(effect: Any) -> str:
    from runs.capture import effect_hash

    return effect_hash(effect)


VALID_BUNDLE: dict[str, Any] = {
    "version": 1,
    "session": {"id": "4c3e6a1e-0000-4000-8000-000000000001", "name": "tour", "status": "COMPLETED",
                "source": "ci", "app": "com.cognisim.demo", "created_at": "2025-01-01T00:00:00+00:00",
                "ended_at": None},
    "provenance": {"device": {"serial": "sim-1", "model": "Pixel", "os_version": "14", "transport": "sim"},
                   "app_package": "com.cognisim.demo", "app_version": None, "cognisim_version": "0.1.0"},
    "steps": [
        {"index": 0, "action": "launch_app", "params": {"package": "com.cognisim.demo", "clear_state": False},
         "timeout_ms": 30000, "max_retries": 3,
         "backoff": {"strategy": "exponential", "base_ms": 500, "max_ms": 10000}, "status": "COMPLETED",
         "attempt": 1, "result": {}, "error": None, "effect": {"screen": "a" * 64}, "effect_hash": "",
         "duration_ms": 12},
        {"index": 1, "action": "tap", "params": {"text": "OK"}, "timeout_ms": 30000, "max_retries": 3,
         "backoff": {"strategy": "exponential", "base_ms": 500, "max_ms": 10000}, "status": "FAILED",
         "attempt": 1, "result": None, "error": {"code": "element_not_found", "message": "no"}, "effect": None,
         "effect_hash": "", "duration_ms": 3,
         "evidence": {"screen": f"/api/sessions/x/screens/{'b' * 64}.png",
                      "ui_tree": f"/api/sessions/x/screens/{'b' * 64}.xml", "log": None}},
    ],
    "events": [{"type": "SESSION_STATUS", "seq": 1, "session_id": "x", "ts": "t", "status": "PENDING"}],
    "decisions": [{"step_index": 0, "kind": "INVOKE", "reason": "", "schedule_at": None,
                   "created_at": "2025-01-01T00:00:00+00:00"}],
    "device_log": ["12-06 13:16:51.123  1000  1000 I ActivityManager: Start proc com.cognisim.demo",
                   "12-06 13:16:52.004  9137  9137 W LoginDemo: Sign-in failed: invalid email or password"],
}
VALID_BUNDLE["steps"][0]["effect_hash"] = _hash(VALID_BUNDLE["steps"][0]["effect"])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            found += _paths(inner, (*prefix, n))
    return found


@st.composite
def bundles(draw: st.DrawFn) -> Any:
    """A valid capture bundle with a few of its values (or keys) replaced by anything."""
    bundle = copy.deepcopy(VALID_BUNDLE)
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(_paths(bundle)))
        replacement = draw(st.one_of(json_values(8), step_requests()))
        if not path:
            bundle = replacement
            continue
        parent = bundle
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            parent.pop(path[-1], None)
            parent[draw(st.sampled_from([*FIELDS, "seq", "type", "status", "params"]))] = replacement
        else:
            parent[path[-1]] = replacement
        if not isinstance(bundle, dict | list):
            break
    return bundle


def as_json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
