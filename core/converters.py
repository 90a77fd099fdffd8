"""Database ids in URLs and bodies: the path converter every app's urls.py uses (registered in core/apps.py)."""

from __future__ import annotations

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
