"""The step vocabulary of SPEC §3: every step is data, validated strictly before anything is queued."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

# Android key names and their key codes: the `press_key` vocabulary.
KEYS: dict[str, int] = {
    "back": 4,
    "home": 3,
    "enter": 66,
    "del": 67,
    "move_end": 123,
    "tab": 61,
    "app_switch": 187,
    "menu": 82,
    "search": 84,
    "space": 62,
    "volume_up": 24,
    "volume_down": 25,
    "power": 26,
    "dpad_up": 19,
    "dpad_down": 20,
    "dpad_left": 21,
    "dpad_right": 22,
}

PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
MAX_TEXT_BYTES = 4096
MAX_SLEEP_MS = 60_000
MAX_TIMEOUT_MS = 600_000
MAX_RETRIES = 10
BACKOFF_STRATEGIES = ("exponential", "linear", "constant")
DIRECTIONS = ("up", "down", "left", "right")
COMMON_FIELDS = ("timeout_ms", "max_retries", "backoff")
SELECTOR_KEYS = ("text", "id", "desc")


class StepInvalid(Exception):
    code = "invalid_step"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StepSpec:
    action: str
    params: dict[str, Any]
    timeout_ms: int
    max_retries: int
    backoff: dict[str, Any] = field(default_factory=dict)


def _string(value: Any, name: str, *, max_bytes: int = 1024, allow_empty: bool = False) -> str:
    if value is None:
        raise StepInvalid(name, f"'{name}' is required.")
    if not isinstance(value, str):
        raise StepInvalid(name, f"'{name}' must be a string.")
    if not value and not allow_empty:
        raise StepInvalid(name, f"'{name}' must not be empty.")
    if len(value.encode()) > max_bytes:
        raise StepInvalid(name, f"'{name}' is longer than {max_bytes} bytes.")
    return value


def _int(value: Any, name: str, *, low: int, high: int) -> int:
    if value is None:
        raise StepInvalid(name, f"'{name}' is required.")
    if not isinstance(value, int) or isinstance(value, bool):
        raise StepInvalid(name, f"'{name}' must be an integer.")
    if not low <= value <= high:
        raise StepInvalid(name, f"'{name}' must be between {low} and {high}.")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise StepInvalid(name, f"'{name}' must be true or false.")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise StepInvalid(name, f"'{name}' must be one of: {', '.join(choices)}.")
    return str(value)


def _package(value: Any, name: str = "package") -> str:
    value = _string(value, name, max_bytes=255)
    if not PACKAGE_RE.match(value):
        raise StepInvalid(name, f"'{name}' is not a valid Android package name (like com.example.app).")
    return value


def _point(value: Any, name: str) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != {"x", "y"}:
        raise StepInvalid(name, f"'{name}' must be an object with exactly 'x' and 'y'.")
    return {k: _int(value[k], f"{name}.{k}", low=0, high=10_000) for k in ("x", "y")}


def _selector(data: dict[str, Any], *, prefix: str = "", allow_point: bool = False) -> dict[str, Any]:
    """Exactly one of text / id / desc (plus optional index), or x and y where a point is allowed."""
    named = [k for k in SELECTOR_KEYS if k in data]
    point = [k for k in ("x", "y") if k in data]
    if point and allow_point:
        if named or len(point) != 2 or "index" in data:
            raise StepInvalid(prefix + point[0], "Give either 'x' and 'y' together, or one of text, id, desc.")
        return {k: _int(data[k], prefix + k, low=0, high=10_000) for k in ("x", "y")}
    if point:
        raise StepInvalid(prefix + point[0], "This action takes a selector (text, id or desc), not coordinates.")
    if len(named) != 1:
        wanted = "text, id, desc" + (" or x and y" if allow_point else "")
        raise StepInvalid(prefix + (named[1] if named else "text"), f"Give exactly one selector: {wanted}.")
    key = named[0]
    selector: dict[str, Any] = {key: _string(data[key], prefix + key)}
    if "index" in data:
        selector["index"] = _int(data["index"], prefix + "index", low=0, high=999)
    return selector


def _into(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StepInvalid("into", '\'into\' must be a selector object, like {"id": "email"}.')
    unknown = set(value) - {*SELECTOR_KEYS, "index"}
    if unknown:
        raise StepInvalid(f"into.{sorted(unknown)[0]}", f"Unknown field 'into.{sorted(unknown)[0]}'.")
    return _selector(value, prefix="into.")


def _swipe(data: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if "direction" in data:
        if "from" in data or "to" in data:
            raise StepInvalid("direction", "Give either 'direction' or 'from' and 'to', not both.")
        params["direction"] = _choice(data["direction"], "direction", DIRECTIONS)
    elif "from" in data and "to" in data:
        params["from"] = _point(data["from"], "from")
        params["to"] = _point(data["to"], "to")
    else:
        raise StepInvalid("direction", "Give 'direction' (up, down, left, right) or both 'from' and 'to'.")
    if "duration_ms" in data:
        params["duration_ms"] = _int(data["duration_ms"], "duration_ms", low=1, high=10_000)
    return params


# action -> (allowed fields, parser of those fields into driver params)
_ACTIONS: dict[str, tuple[set[str], Any]] = {
    "launch_app": (
        {"package", "clear_state"},
        lambda d: {
            "package": _package(d.get("package")),
            "clear_state": _bool(d.get("clear_state", False), "clear_state"),
        },
    ),
    "stop_app": ({"package"}, lambda d: {"package": _package(d.get("package"))}),
    "tap": ({"text", "id", "desc", "index", "x", "y"}, lambda d: _selector(d, allow_point=True)),
    "long_press": (
        {"text", "id", "desc", "index", "x", "y", "duration_ms"},
        lambda d: {
            **_selector(d, allow_point=True),
            **(
                {"duration_ms": _int(d["duration_ms"], "duration_ms", low=1, high=10_000)} if "duration_ms" in d else {}
            ),
        },
    ),
    "type": (
        {"text", "into"},
        lambda d: {
            "text": _string(d.get("text"), "text", max_bytes=MAX_TEXT_BYTES),
            **({"into": _into(d["into"])} if "into" in d else {}),
        },
    ),
    "clear_text": ({"into"}, lambda d: {"into": _into(d["into"])} if "into" in d else {}),
    "swipe": ({"direction", "from", "to", "duration_ms"}, _swipe),
    "scroll_until_visible": (
        {"text", "id", "desc", "index", "direction", "max_swipes"},
        lambda d: {
            **_selector(d),
            "direction": _choice(d.get("direction", "down"), "direction", ("down", "up")),
            **({"max_swipes": _int(d["max_swipes"], "max_swipes", low=1, high=50)} if "max_swipes" in d else {}),
        },
    ),
    "press_key": ({"key"}, lambda d: {"key": _choice(d.get("key"), "key", sorted(KEYS))}),
    "assert_visible": ({"text", "id", "desc", "index"}, _selector),
    "assert_not_visible": ({"text", "id", "desc", "index"}, _selector),
    "wait_for": ({"text", "id", "desc", "index"}, _selector),
    "screenshot": (set(), lambda d: {}),
    "ask_user": (
        {"prompt"},
        lambda d: {"prompt": _string(d.get("prompt"), "prompt", max_bytes=MAX_TEXT_BYTES)},
    ),
    "sleep": ({"ms"}, lambda d: {"ms": _int(d.get("ms"), "ms", low=0, high=MAX_SLEEP_MS)}),
}
ACTIONS = tuple(_ACTIONS)
WAIT_FOR_DEFAULT_MS = 10_000


def _backoff(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"strategy": value}
    if not isinstance(value, dict):
        raise StepInvalid("backoff", "'backoff' must be a strategy name or an object with 'strategy'.")
    unknown = set(value) - {"strategy", "base_ms", "max_ms"}
    if unknown:
        raise StepInvalid(f"backoff.{sorted(unknown)[0]}", f"Unknown field 'backoff.{sorted(unknown)[0]}'.")
    return {
        "strategy": _choice(value.get("strategy", "exponential"), "backoff.strategy", BACKOFF_STRATEGIES),
        "base_ms": _int(value.get("base_ms", 500), "backoff.base_ms", low=0, high=60_000),
        "max_ms": _int(value.get("max_ms", 10_000), "backoff.max_ms", low=0, high=600_000),
    }


def step_parse(data: Any) -> StepSpec:
    """Validate a step request (`{"action": …, …params}`) into a StepSpec, or raise StepInvalid."""
    if not isinstance(data, dict):
        raise StepInvalid("step", "A step must be a JSON object with an 'action'.")
    action = data.get("action")
    if action not in _ACTIONS:
        if not isinstance(action, str) or not action:
            raise StepInvalid("action", "'action' is required.")
        raise StepInvalid("action", f"Unknown action '{action}'. Known actions: {', '.join(ACTIONS)}.")
    allowed, parse = _ACTIONS[action]
    fields = {k: v for k, v in data.items() if k != "action"}
    unknown = sorted(set(fields) - allowed - set(COMMON_FIELDS) - ({"timeout_ms"} if action == "wait_for" else set()))
    if unknown:
        raise StepInvalid(unknown[0], f"Unknown field '{unknown[0]}' for action '{action}'.")
    params = parse({k: v for k, v in fields.items() if k not in COMMON_FIELDS})

    default_timeout = settings.STEP_DEFAULT_TIMEOUT_MS
    timeout_ms = _int(fields.get("timeout_ms", default_timeout), "timeout_ms", low=1, high=MAX_TIMEOUT_MS)
    if action == "wait_for":
        params["timeout_ms"] = _int(
            fields.get("timeout_ms", WAIT_FOR_DEFAULT_MS), "timeout_ms", low=1, high=MAX_TIMEOUT_MS
        )
        timeout_ms = params["timeout_ms"] + 5_000
    if action == "sleep":
        timeout_ms = max(timeout_ms, params["ms"] + 5_000)
    return StepSpec(
        action=action,
        params=params,
        timeout_ms=timeout_ms,
        max_retries=_int(fields.get("max_retries", 3), "max_retries", low=0, high=MAX_RETRIES),
        backoff=_backoff(fields.get("backoff", "exponential")),
    )
