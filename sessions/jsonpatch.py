"""The small part of JSON Patch (RFC 6902) that session state needs: diff and apply over objects."""

from __future__ import annotations

import copy
from typing import Any


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def json_diff(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[dict[str, Any]]:
    """Operations (add / remove / replace) that turn `before` into `after`; objects recurse, the rest is replaced."""
    ops: list[dict[str, Any]] = []
    for key in before:
        if key not in after:
            ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
    for key, value in after.items():
        where = f"{path}/{_escape(key)}"
        if key not in before:
            ops.append({"op": "add", "path": where, "value": value})
        elif isinstance(value, dict) and isinstance(before[key], dict):
            ops.extend(json_diff(before[key], value, where))
        elif before[key] != value:
            ops.append({"op": "replace", "path": where, "value": value})
    return ops


def json_apply(document: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """A new document with `patch` applied; raises ValueError on an operation it cannot apply."""
    result = copy.deepcopy(document)
    for op in patch:
        *parents, last = [_unescape(t) for t in op["path"].split("/")[1:]]
        target = result
        for token in parents:
            target = target[token]
        if not isinstance(target, dict):
            raise ValueError(f"cannot apply {op['op']} at {op['path']}")
        if op["op"] in ("add", "replace"):
            if op["op"] == "replace" and last not in target:
                raise ValueError(f"nothing to replace at {op['path']}")
            target[last] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del target[last]
        else:
            raise ValueError(f"unsupported operation {op['op']!r}")
    return result
