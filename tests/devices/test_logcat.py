"""Device logs: the simulated phone writes `logcat -v threadtime` lines (app start and stop, taps handled,
errors, a crash the demo app can be asked to have); the adb driver follows `logcat` through adbutils'
streaming shell, through a real adb server, against the adb-protocol simulated phone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devices.drivers.adb import AdbDriver
from devices.drivers.base import AppNotInstalled
from devices.drivers.sim import DEMO, LAUNCHER, SimDriver
from devices.logcat import parse


def lines_until(stream: Iterator[str | None], wanted: str, timeout: float = 60) -> list[str]:
    """Lines from a followed log until one contains `wanted` (the device writes as it goes)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in stream:
        if line is not None:
            seen.append(line)
            if wanted in line:
                return seen
        assert time.monotonic() < deadline, f"no line with {wanted!r} in {seen}"
    raise AssertionError(f"the log ended before a line with {wanted!r}: {seen}")


def test_the_simulated_phone_logs_what_happens_on_it(tmp_path):
    phone = SimDriver("log-1", tmp_path)
    phone.launch_app(DEMO)
    phone.tap(540, 1035)  # the sign-in button, with nothing typed
    phone.input_text("secret123")
    phone.stop_app(DEMO)
    lines = [parse(line) for line in phone.log_tail(100)]
    assert all(lines), "every line is a threadtime line"
    said = [(line.level, line.tag, line.message) for line in lines if line]
    assert ("I", "ActivityManager", f"Start proc {DEMO} for activity {DEMO}/.MainActivity") in said
    assert any(tag == "ViewRootImpl" and "handled by" in text for _, tag, text in said)
    assert ("W", "LoginDemo", "Sign-in failed: invalid email or password") in said
    assert any(tag == "ActivityManager" and text.startswith(f"Force stopping {DEMO}") for _, tag, text in said)
    assert not any("secret123" in text for _, _, text in said)  # typed text is never logged
    pids = {line.tag: line.pid for line in lines if line}
    assert pids["LoginDemo"] != pids["ActivityManager"]  # the app's lines come from its own process


def test_the_demo_app_crashes_when_asked(tmp_path):
    phone = SimDriver("log-2", tmp_path)
    phone.launch_app(DEMO)
    phone.start_activity(DEMO, ".CrashActivity")
    assert phone.foreground_package() == LAUNCHER
    crash = [parse(line) for line in phone.log_tail(10)]
    fatal = [line.message for line in crash if line and line.level == "E" and line.tag == "AndroidRuntime"]
    assert fatal[:3] == [
        "FATAL EXCEPTION: main",
        f"Process: {DEMO}",
        "java.lang.IllegalStateException: .CrashActivity was asked to crash",
    ]


def test_a_failed_primitive_logs_an_error(tmp_path):
    phone = SimDriver("log-3", tmp_path)
    with pytest.raises(AppNotInstalled):
        phone.launch_app("com.example.absent")
    last = parse(phone.log_tail(1)[0])
    assert last and last.level == "E" and "com.example.absent is not installed" in last.message


def test_following_the_log_gives_each_new_line_once(tmp_path):
    phone, other = SimDriver("log-4", tmp_path), SimDriver("log-4", tmp_path)  # two processes on one phone
    phone.wake()
    stop = threading.Event()
    stream = phone.logcat(stop, last=1)
    first = lines_until(stream, "Waking up")
    other.launch_app(DEMO)
    started = lines_until(stream, "Displayed")
    stop.set()
    assert len(first) == 1 and any("Start proc" in line for line in started)
    assert len(started) == len(set(started))


def test_the_adb_driver_follows_logcat_through_a_real_adb_server(adb_server, start_phone):
    phone, serial = start_phone("adbsim-log")
    adb = AdbDriver(serial, adb_port=adb_server.port, timeout_s=10.0, backend="stock")
    stop = threading.Event()
    stream = adb.logcat(stop)
    try:
        adb.launch_app(DEMO)  # through adb: `monkey`, which the phone logs
        seen = lines_until(stream, f"Displayed {DEMO}")
        phone.driver.start_activity(DEMO, ".CrashActivity")  # the app crashes on the phone itself
        crash = lines_until(stream, "has died")
    finally:
        stop.set()
        for _ in stream:  # ends at once: the stream is closed on the phone
            pass
    assert all(parse(line) for line in seen + crash)
    assert any("FATAL EXCEPTION: main" in line for line in crash)
    tail = adb.log_tail(3)
    assert len(tail) == 3 and "has died" in tail[-2] and "launcher3 in front" in tail[-1]
    assert [parse(line) is not None for line in tail] == [True] * 3
