"""JSON from outside (REST bodies, socket frames, webhook bodies), read so that it cannot hurt.

`json_load` refuses, each with a `JsonRefused(code, message, field)`:

- more than `max_bytes` (`request_too_large`);
- text that is not JSON (`parse_error`);
- nesting deeper than `max_depth` (`too_deep`): Python's decoder recurses, so 50,000 brackets
  would otherwise end in a RecursionError (a 500 or a dead socket), and every later walk over the
  value (validation, storing it as JSON) recurses too;
- NUL and lone surrogates in any string or key (`invalid_characters`): PostgreSQL cannot store
  NUL in text or JSON, and a lone surrogate cannot be encoded as UTF-8 (it fails when the value is
  stored or sent back);
- numbers that are not finite (`invalid_number`): `NaN`, `Infinity` and `1e999` decode to floats
  that standard JSON (and PostgreSQL's jsonb) cannot hold;
- a key given twice in one object, at any depth (`duplicate_key`, `field` naming it): Python's decoder
  keeps the last one silently, so `{"type": "PING", "type": "STOP"}` would be read as a STOP that a
  checker reading the first one let through.

Each value is visited once, with an explicit stack (no recursion).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
_BAD = re.compile(r"[\x00\ud800-\udfff]")
CONTROL_CHARS = r"\x00-\x08\x0b-\x1f\x7f"
"""The control characters a name may not hold (a tab and a newline may), as a regex character range."""
CONTROL_RE = re.compile(rf"[{CONTROL_CHARS}\ud800-\udfff]")


class JsonRefused(Exception):
    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        self.decoded: Any = None
        """The value, when the text was JSON that `json_check` refused (a reply may still echo its request_id)."""


def bad_character(text: str) -> str | None:
    """A description of the first NUL or lone surrogate in `text`, or None."""
    found = _BAD.search(text)
    if found is None:
        return None
    return "a NUL character" if found[0] == "\x00" else f"a lone surrogate (U+{ord(found[0]):04X})"


def control_problem(field: str, value: str) -> str:
    """Why a name cannot be used (a control character breaks JUnit XML and the console), or ""."""
    bad = CONTROL_RE.search(value)
    if bad is None:
        return ""
    return f"'{field}' must not contain control characters (found U+{ord(bad[0]):04X})."


def _where(path: tuple[Any, ...]) -> str:
    return ".".join(str(p)[:64] for p in path)


class _Twice(dict[str, Any]):
    """An object `json_load` decoded with `key` given twice in it (refused by `json_check`, which knows its path)."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        super().__init__(items)
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                break
            seen.add(key)
        self.key = key


def json_check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a decoded value nested deeper than `max_depth`, holding NUL / lone surrogates, a
    number that is not finite, or (as `json_load` decoded it) a key given twice."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if (what := bad_character(item)) is not None:
                field = _where(path)
                raise JsonRefused("invalid_characters", f"'{field or 'body'}' contains {what}.", field)
            continue
        if isinstance(item, float) and not math.isfinite(item):
            field = _where(path)
            raise JsonRefused("invalid_number", f"'{field or 'body'}' is {item}; numbers must be finite.", field)
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise JsonRefused("too_deep", f"JSON nested more than {max_depth} levels deep is refused.", _where(path))
        if isinstance(item, dict):
            if isinstance(item, _Twice):
                field = _where((*path, item.key))
                raise JsonRefused(
                    "duplicate_key", f"'{field}' is given twice: a key may appear once in an object.", field
                )
            for key, inner in item.items():
                if (what := bad_character(key)) is not None:
                    raise JsonRefused("invalid_characters", f"A key in '{_where(path) or 'body'}' contains {what}.")
                stack.append((inner, depth + 1, (*path, key)))
        else:
            stack.extend((inner, depth + 1, (*path, n)) for n, inner in enumerate(item))


def json_load(raw: bytes | str, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON from outside, or raise JsonRefused (see the module's docstring)."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise JsonRefused("request_too_large", f"The body is larger than {max_bytes} bytes.")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        return _Twice(items) if len(obj) < len(items) else obj

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        raise JsonRefused("too_deep", f"JSON nested more than {max_depth} levels deep is refused.") from None
    except UnicodeDecodeError as exc:
        raise JsonRefused("parse_error", f"The body is not UTF-8 (byte {exc.start}).") from None
    except ValueError as exc:
        raise JsonRefused("parse_error", f"The body is not valid JSON: {exc}.") from None
    try:
        json_check(value, max_depth=max_depth)
    except JsonRefused as exc:
        exc.decoded = value
        raise
    return value
