"""Database files are private to their owner (issue 17, finding 7: db.sqlite3, holding tokens, was 0644)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from django.db import connection

from core.dbfiles import database_files_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_database_and_its_wal_files_become_0600(tmp_path):
    name = tmp_path / "db.sqlite3"
    db = sqlite3.connect(name)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm")):
        path.chmod(0o644)
    database_files_private(name=str(name))
    assert [mode(p) for p in (name, Path(f"{name}-wal"), Path(f"{name}-shm"))] == [0o600] * 3
    db.close()
    database_files_private(name=str(tmp_path / "absent.sqlite3"))  # nothing to do, no error


@pytest.mark.django_db
def test_the_servers_own_database_file_is_private():
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        assert mode(Path(connection.settings_dict["NAME"])) == 0o600
    else:  # PostgreSQL keeps its own files; nothing of ours on disk
        assert connection.vendor == "postgresql"
