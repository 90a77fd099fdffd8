"""The screen caster through a real adb server: `screencap` in a loop against the adb-protocol simulated phone,
frames published over real Redis only when the picture changes, and nothing read once nobody watches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from devices.drivers.adb import AdbDriver
from devices.drivers.sim import LAUNCHER, SETTINGS
from devices.screencast import ScreenCaster, frame_decode, frame_group, is_casting, watch_renew, watch_stop

PNG = b"\x89PNG\r\n\x1a\n"


class Frames:
    """What the caster published, as a socket would get it."""

    def __init__(self) -> None:
        self.got: list[tuple[int, float, bytes]] = []
        self.changed = threading.Condition()

    def publish(self, group: str, message: dict[str, Any]) -> None:
        assert message["type"] == "live.frame"
        self.group = group
        with self.changed:
            self.got.append(frame_decode(message["frame"]))
            self.changed.notify_all()

    def wait(self, check: Callable[[], bool], timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(check, timeout), f"not within {timeout} s: {len(self.got)} frames"


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


@pytest.fixture
def phone_over_adb(adb_server, start_phone):
    phone, serial = start_phone("adbsim-cast")
    driver = AdbDriver(serial, adb_port=adb_server.port, timeout_s=5.0, backend="stock")
    yield phone, serial, driver
    driver.close()


def test_screencap_in_a_loop_sends_a_frame_per_change_and_stops_when_nobody_watches(phone_over_adb):
    phone, serial, driver = phone_over_adb
    frames = Frames()
    reader = AdbDriver(serial, adb_port=driver._client.port, timeout_s=5.0, backend="stock")
    caster = ScreenCaster(serial, driver_factory=lambda: reader, publish=frames.publish, max_fps=60).start()
    try:
        assert not is_casting(serial=serial)
        watch_renew(serial=serial, watcher="test-watcher", wake=True)
        frames.wait(lambda: len(frames.got) >= 1)
        assert frames.group == frame_group(serial)
        number, captured_at, png = frames.got[0]
        assert number == 1 and png.startswith(PNG) and png == phone.driver.screenshot()
        assert abs(time.time() - captured_at) < 30
        wait_until(lambda: is_casting(serial=serial), "the caster says it casts")

        # An unchanged screen is read again and again, and sends nothing (the wake that started the caster
        # may still bring the same picture once more, for the watcher that just arrived).
        wait_until(lambda: caster.reads >= 5, "five screencaps")
        count, reads = len(frames.got), caster.reads
        wait_until(lambda: caster.reads >= reads + 5, "five more screencaps")
        assert count <= 2 and len(frames.got) == count
        assert all(png == frames.got[0][2] for _, _, png in frames.got)

        # A tap through adb (on the launcher's Settings icon) changes the screen: a new frame.
        assert driver.foreground_package() == LAUNCHER
        driver.tap(180, 400)
        frames.wait(lambda: frames.got[-1][2] != frames.got[0][2])
        assert driver.foreground_package() == SETTINGS
        last = frames.got[-1]
        assert last[0] == len(frames.got) and last[2] == phone.driver.screenshot()

        # A second watcher gets the picture on show at once, though it did not change.
        count = len(frames.got)
        watch_renew(serial=serial, watcher="second-watcher", wake=True)
        frames.wait(lambda: len(frames.got) > count)
        assert frames.got[-1][2] == last[2]

        watch_stop(serial=serial, watcher="test-watcher")
        watch_stop(serial=serial, watcher="second-watcher")
        wait_until(lambda: not is_casting(serial=serial), "the caster stops")
        count = len(frames.got)
        phone.driver.press_key("home")  # the screen changes, but nobody watches: nothing is sent
    finally:
        caster.stop()
        reader.close()
    assert not caster.thread.is_alive()
    assert len(frames.got) == count
