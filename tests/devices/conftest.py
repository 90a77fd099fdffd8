"""A private real adb server (never the default 5037) and adb-speaking simulated phones attached to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices.adbsim import AdbSimPhone
from devices.adbsim.adbserver import PrivateAdbServer


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateAdbServer]:
    try:
        server = PrivateAdbServer(tmp_path_factory.mktemp("adb-home"))
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    with server:
        yield server


@pytest.fixture
def start_phone(adb_server: PrivateAdbServer, tmp_path: Path) -> Iterator[Callable[..., tuple[AdbSimPhone, str]]]:
    """Start an `AdbSimPhone` and attach it to the private adb server: `phone, serial = start_phone("p1")`."""
    started: list[AdbSimPhone] = []

    def start(serial: str = "adbsim-1", *, state_dir: Path | None = None, **options: object) -> tuple[AdbSimPhone, str]:
        phone = AdbSimPhone(serial, state_dir or tmp_path / "phones", **options).start()  # type: ignore[arg-type]
        started.append(phone)
        return phone, adb_server.attach(phone)

    yield start
    for phone in started:
        phone.stop()
        adb_server.detach(phone)
