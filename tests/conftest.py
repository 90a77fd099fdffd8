from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import connection

from devices.drivers.sim import reset_sim_device
from devices.models import Device
from devices.services import device_register_sim
from sessions.accounts import api_user_create
from tests.live import Rest, Stack, stack_env

SERIALS = [f"t{os.getpid()}-{n}" for n in (1, 2, 3)]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session", autouse=True)
def flush_outlasts_deadlocks() -> Iterator[None]:
    """Between transactional tests the database is emptied with TRUNCATE while the stack's workers
    and scheduler may still be finishing a query; PostgreSQL may then break a deadlock by aborting
    the TRUNCATE. Emptying it again is safe, so do, rather than leave the next test a dirty database."""
    original = flush.Command.handle

    def handle(self: flush.Command, *args: Any, **options: Any) -> Any:
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                if "deadlock" not in str(exc.__cause__) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = handle  # type: ignore[method-assign]
    yield
    flush.Command.handle = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def stack(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Stack]:
    """Real daphne + one real Celery worker per simulated device, on the test database and real Redis."""
    live = Stack(env=stack_env(_database_url()), serials=SERIALS)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def devices(transactional_db: Any) -> list[Device]:
    """The stack's simulated devices, factory-fresh and available."""
    for serial in SERIALS:
        reset_sim_device(serial, settings.SIM_DEVICE_DIR)
    return [device_register_sim(serial=serial) for serial in SERIALS]


@pytest.fixture
def alice(transactional_db: Any) -> str:
    return api_user_create(username="alice")


@pytest.fixture
def bob(transactional_db: Any) -> str:
    return api_user_create(username="bob")


@pytest.fixture
def rest(stack: Stack, alice: str) -> Rest:
    return Rest(stack.base_url, alice)
