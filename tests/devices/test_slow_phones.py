"""Phones that take real time, screens that animate, and the uiautomator2 backend, through a real adb server."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.request
from importlib import resources

import pytest

from devices.actions import observe, perform
from devices.adbsim.profiles import PROFILES, Cost, Profile
from devices.drivers.adb import AdbDriver
from devices.drivers.base import ElementNotFound, ScreenNotSettled, TransportError
from devices.drivers.sim import DEMO, SETTINGS
from devices.uitree import find_nodes, parse

SYNC = "com.cognisim.demo/.SyncActivity"


def run(driver, action, timeout=10.0, observe=True, **params):
    return perform(driver, action=action, params=params, deadline=time.monotonic() + timeout, observe=observe)


def shell(adb_server, serial, command):
    return adb_server.text("-s", serial, "shell", command)


def quick(**changes) -> Profile:
    """A profile with small but real costs, for tests that must not take long."""
    fields = {name: getattr(PROFILES["instant"], name) for name in Profile.__dataclass_fields__}
    return Profile(**{**fields, "name": "test", **changes})


@pytest.fixture
def open_driver(adb_server):
    drivers = []

    def make(serial, **options):
        driver = AdbDriver(serial, adb_port=adb_server.port, timeout_s=5.0, **options)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()


def test_a_profile_makes_the_stock_tools_take_their_time(adb_server, start_phone):
    profile = quick(dump_compressed=Cost(300, 300), input=Cost(100, 100), am_start=Cost(200, 200))
    phone, serial = start_phone("slow-1", profile=profile)
    timings = {}
    for command in ("uiautomator dump --compressed /sdcard/d.xml", "input tap 1 1", f"am start -n {SYNC}"):
        started = time.monotonic()
        output = shell(adb_server, serial, command)
        timings[command.split()[0]] = time.monotonic() - started
        assert "Error" not in output
    assert timings["uiautomator"] >= 0.3 and timings["input"] >= 0.1 and timings["am"] >= 0.2


def test_profiles_are_log_normal_around_their_median():
    import random

    rng = random.Random(1)
    samples = sorted(PROFILES["typical"].dump.sample(rng) for _ in range(2000))
    median, p90 = samples[1000], samples[1800]
    assert 1.6 < median < 2.0 and 3.0 < p90 < 4.1
    assert PROFILES["instant"].dump.sample(random.Random(1)) == 0


def test_the_stock_dump_on_an_animating_screen_says_could_not_get_idle_state(adb_server, start_phone):
    phone, serial = start_phone("anim-1", profile=quick(idle_ms=200, idle_timeout_ms=600))
    shell(adb_server, serial, "uiautomator dump /sdcard/old.xml")
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms -1")
    started = time.monotonic()
    output = shell(adb_server, serial, "uiautomator dump /sdcard/old.xml; echo status=$?")
    assert 0.6 <= time.monotonic() - started < 10, "it gives up once the idle timeout has passed"
    assert "ERROR: could not get idle state." in output and "status=0" in output
    assert "Login Demo" in shell(adb_server, serial, "cat /sdcard/old.xml"), "the failed dump left the old file"
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms 300")
    started = time.monotonic()
    output = shell(adb_server, serial, "uiautomator dump /sdcard/new.xml")
    assert 0.4 <= time.monotonic() - started < 10, "it answers once the spinner stopped and the screen was idle"
    assert "UI hierchary dumped to: /sdcard/new.xml" in output


def test_stock_path_a_step_waits_for_an_animation_that_stops(adb_server, start_phone, open_driver):
    phone, serial = start_phone("anim-2")
    adb = open_driver(serial, backend="stock")
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms 800")
    started = time.monotonic()
    tapped = run(adb, "tap", text="Continue")
    assert time.monotonic() - started >= 0.75
    assert tapped.state["foreground"] == DEMO
    assert find_nodes(parse(adb.dump_ui()), {"text": "Sign in"})


def test_stock_path_an_endless_animation_fails_the_step_by_its_deadline(adb_server, start_phone, open_driver):
    """`typical` waits 10 s for idle before it gives up: the step's 2 s deadline must cut that wait."""
    phone, serial = start_phone("anim-3", profile="typical")
    adb = open_driver(serial, backend="stock")
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms -1")
    before = len(phone.driver.action_log())
    started = time.monotonic()
    with pytest.raises(ScreenNotSettled) as info:
        run(adb, "tap", timeout=2.0, text="Continue")
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 8, "the step's deadline, not the phone's 10 s idle timeout"
    assert "never settled" in info.value.message and not info.value.retryable
    assert len(phone.driver.action_log()) == before


def test_observe_false_returns_before_the_slow_after_change_read(adb_server, start_phone, open_driver, monkeypatch):
    profile = quick(dump_compressed=Cost(400, 400), input=Cost(50, 50), idle_ms=300, idle_timeout_ms=5000)
    phone, serial = start_phone("lazy-1", profile=profile)
    adb = open_driver(serial, backend="stock")
    adb.dump_ui()
    dumps = []
    stock_dump = adb._stock_dump

    def counted_dump(deadline):
        dumps.append(deadline)
        return stock_dump(deadline)

    monkeypatch.setattr(adb, "_stock_dump", counted_dump)
    quick_tap = run(adb, "tap", observe=False, text="Settings")
    assert quick_tap.state is None and phone.driver.foreground_package() == SETTINGS
    assert dumps == [], "a tree read under a second ago is reused, so only the input is paid"
    started = time.monotonic()
    seen = observe(adb, deadline=time.monotonic() + 5)
    assert len(dumps) == 1
    assert time.monotonic() - started >= 0.4 + 0.2  # the idle wait after the tap, then the dump
    assert seen.state["foreground"] == SETTINGS and seen.png.startswith(b"\x89PNG")


def test_uiautomator2_backend_uses_the_real_client_and_the_server_on_the_phone(adb_server, start_phone, open_driver):
    phone, serial = start_phone("u2-1")
    adb = open_driver(serial, backend="auto")
    jar = resources.files("uiautomator2").joinpath("assets/u2.jar").read_bytes()
    run(adb, "launch_app", package=SETTINGS)
    assert adb.hierarchy_backend == "uiautomator2"
    assert phone.programs.files["/data/local/tmp/u2.jar"] == jar, "the client pushed its jar over adb sync"
    md5 = shell(adb_server, serial, "toybox md5sum /data/local/tmp/u2.jar")
    assert md5.split()[0] == hashlib.md5(jar).hexdigest()
    phone.programs.table_calls = []
    real_lookup = phone.programs.lookup

    def spying(name, env=None):
        phone.programs.table_calls.append(name)
        return real_lookup(name, env)

    phone.programs.lookup = spying
    run(adb, "tap", text="Airplane mode")
    run(adb, "press_key", key="back")
    assert "uiautomator" not in phone.programs.table_calls and "input" not in phone.programs.table_calls
    assert [entry["op"] for entry in phone.driver.action_log()][-2:] == ["tap", "press_key"]


def test_uiautomator2_reads_an_animating_screen_the_stock_dump_cannot(adb_server, start_phone, open_driver):
    phone, serial = start_phone("u2-2", profile=quick(idle_ms=100, idle_timeout_ms=300, u2_idle_ms=100))
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms -1")
    fast, stock = open_driver(serial, backend="uiautomator2"), open_driver(serial, backend="stock")
    assert run(fast, "assert_visible", timeout=3, text="Syncing…").state["foreground"] == DEMO
    with pytest.raises(ScreenNotSettled):
        run(stock, "assert_visible", timeout=1.5, text="Syncing…")


def test_the_uiautomator2_server_answers_over_a_real_adb_forward(adb_server, start_phone, open_driver):
    phone, serial = start_phone("u2-3")
    run(open_driver(serial, backend="uiautomator2"), "launch_app", package=DEMO)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    adb_server.run("-s", serial, "forward", f"tcp:{local}", "tcp:9008")
    try:
        base = f"http://127.0.0.1:{local}"
        assert urllib.request.urlopen(f"{base}/ping", timeout=5).read() == b"pong"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "dumpWindowHierarchy", "params": [True, 50]})
        request = urllib.request.Request(f"{base}/jsonrpc/0", body.encode(), {"Content-Type": "application/json"})
        reply = json.loads(urllib.request.urlopen(request, timeout=5).read())
        assert 'visible-to-user="true"' in reply["result"] and "com.cognisim.demo:id/sign_in" in reply["result"]
        bad = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "noSuchMethod", "params": []}).encode()
        request = urllib.request.Request(f"{base}/jsonrpc/0", bad, {"Content-Type": "application/json"})
        assert json.loads(urllib.request.urlopen(request, timeout=5).read())["error"]["code"] == -32601
    finally:
        adb_server.run("-s", serial, "forward", "--remove", f"tcp:{local}", check=False)


def test_a_phone_that_cannot_run_the_server_falls_back_to_the_stock_tools(adb_server, start_phone, open_driver):
    phone, serial = start_phone("plain-1", uiautomator2=False)
    auto = open_driver(serial, backend="auto")
    assert run(auto, "tap", text="Settings").state["foreground"] == SETTINGS
    assert auto.hierarchy_backend == "stock"
    with pytest.raises(TransportError, match="uiautomator2 server cannot run"):
        open_driver(serial, backend="uiautomator2").dump_ui()


def kill_server(phone):
    """The phone kills the uiautomator2 server (low memory, an update)."""
    for port in list(phone._ports):
        phone._ports.pop(port).stop()


def test_a_server_that_dies_is_started_again_by_the_client(adb_server, start_phone, open_driver):
    phone, serial = start_phone("u2-4")
    auto = open_driver(serial, backend="auto")
    run(auto, "launch_app", package=SETTINGS)
    kill_server(phone)
    assert run(auto, "tap", text="Wi-Fi").state["foreground"] == SETTINGS
    assert auto.hierarchy_backend == "uiautomator2" and list(phone._ports) == [9008]


def test_a_server_that_cannot_come_back_is_replaced_by_the_stock_tools_within_the_step(
    adb_server, start_phone, open_driver
):
    phone, serial = start_phone("u2-5")
    auto = open_driver(serial, backend="auto")
    run(auto, "launch_app", package=SETTINGS)
    phone.programs.servers = None  # from now on `app_process` is not found
    kill_server(phone)
    assert run(auto, "tap", text="Wi-Fi").state["foreground"] == SETTINGS
    assert auto.hierarchy_backend == "stock"


def test_uiautomator2_on_an_endless_animation_fails_by_the_deadline_with_what_it_saw(
    adb_server, start_phone, open_driver
):
    phone, serial = start_phone("u2-6", profile=quick(u2_dump=Cost(150, 150), u2_idle_ms=100))
    fast = open_driver(serial, backend="uiautomator2")
    fast.dump_ui()
    shell(adb_server, serial, f"am start -n {SYNC} --ei duration_ms -1")
    for timeout in (1.0, 1.3, 1.6):  # wherever the last read falls against the deadline
        started = time.monotonic()
        with pytest.raises(
            ElementNotFound, match=r'No element with text "Continue" .* Visible: "Sync", "Syncing", "Syncing…"'
        ):
            run(fast, "tap", timeout=timeout, text="Continue")
        assert timeout <= time.monotonic() - started < timeout + 0.3
