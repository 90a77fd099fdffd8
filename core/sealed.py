"""`SealedJSONField`: a JSON value stored encrypted, for what must never be readable in a copy of the database.

A session's secrets live in the database while it runs (the device's worker, another process, fills them
in), and are emptied when it ends. Emptied is not gone: SQLite keeps the old bytes in freed pages and in
its write-ahead log, PostgreSQL in dead rows until a vacuum, and any backup keeps them for good. Sealed,
the column holds `{"sealed": <Fernet token>}`, with a key derived from `SECRET_KEY`: a copy of the
database without the key shows nothing. A value that cannot be opened (the key changed) reads as empty
(`Unreadable`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)


@cache
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"cognisim sealed json:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class Unreadable(dict[str, Any]):
    """What a sealed value that could not be opened reads as: empty, and saying so (a worker whose
    `SECRET_KEY` is not the web server's fails a step naming a secret instead of typing `${NAME}`)."""


def seal(value: Any) -> dict[str, str]:
    return {"sealed": _fernet(settings.SECRET_KEY).encrypt(json.dumps(value).encode()).decode()}


def unseal(stored: Any) -> Any:
    """The value `seal` sealed; one stored before sealing, as it is."""
    if not (isinstance(stored, dict) and set(stored) == {"sealed"}):
        return stored
    try:
        return json.loads(_fernet(settings.SECRET_KEY).decrypt(stored["sealed"].encode()))
    except InvalidToken:
        logger.warning("a sealed value could not be opened (SECRET_KEY changed?); it reads as empty")
        return Unreadable()


class SealedJSONField(models.JSONField):
    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(seal(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return unseal(super().from_db_value(value, expression, connection))
