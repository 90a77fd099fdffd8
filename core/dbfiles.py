"""The SQLite database holds API tokens: its files are readable by their owner only (0600).

Checked whenever a connection opens (connections are kept, so this is rare); SQLite gives the
`-wal` and `-shm` files the database file's own mode when it creates them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
PRIVATE = 0o600


def database_files_private(*, name: str) -> None:
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for path in (Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")):
        try:
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, PRIVATE)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (a mounted file): say so, go on
            logger.warning("cannot make %s private: %s", path, exc)


def on_connection_created(sender: Any, connection: Any, **_: Any) -> None:
    if connection.vendor == "sqlite":
        database_files_private(name=str(connection.settings_dict.get("NAME") or ""))
