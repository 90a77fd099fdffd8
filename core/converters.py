"""Database ids in URLs and bodies: the path converter every app's urls.py uses (registered in core/apps.py)."""

from __future__ import annotations

import json
from typing import Any

DATABASE_ID_MAX = 2**63 - 1  # a signed 64-bit integer: the largest id SQLite and PostgreSQL hold


class DatabaseIdConverter:
    """`<id:step_id>`: an integer id from 1 to 2^63-1. Anything else does not match (a 404), never an overflow."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= DATABASE_ID_MAX:
            raise ValueError(f"{value} is not a database id.")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


def database_id_problem(value: Any) -> str | None:
    """Why a JSON value is not a database id (an integer from 1 to 2^63-1), or None: one message for REST
    bodies and socket messages alike."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= DATABASE_ID_MAX:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        given = "and this one is out of range"
    else:
        given = "not a string" if isinstance(value, str) else f"not {json.dumps(value)[:40]}"
    return f"Must be an integer from 1 to {DATABASE_ID_MAX} (a JSON number), {given}."
