"""AdbDriver against adb-speaking simulated phones, through a private real adb server."""

from __future__ import annotations

import socket
import threading
import time

import adbutils._adb
import pytest

from devices.actions import perform
from devices.drivers.adb import AdbDriver, input_text_commands
from devices.drivers.base import ActionTimeout, AppNotInstalled, TransportError, UnsupportedInput
from devices.drivers.sim import DEMO, LAUNCHER, SETTINGS, SimDriver
from devices.uitree import find_nodes, parse

LOGIN_FLOW = [
    ("launch_app", {"package": DEMO, "clear_state": True}),
    ("type", {"text": "demo@example.com", "into": {"id": "email"}}),
    ("type", {"text": "secret123", "into": {"id": "password"}}),
    ("tap", {"id": "sign_in"}),
    ("assert_visible", {"text": "Welcome, Demo!"}),
    ("scroll_until_visible", {"text": "Item 30"}),
    ("screenshot", {}),
]


def run(driver, action, timeout=10.0, **params):
    return perform(driver, action=action, params=params, deadline=time.monotonic() + timeout)


@pytest.fixture(params=["stock", "uiautomator2"])
def driver(request, adb_server, start_phone):
    """The adb driver on each hierarchy backend: the stock tools, and the uiautomator2 server."""
    phone, serial = start_phone()
    adb = AdbDriver(serial, adb_port=adb_server.port, timeout_s=5.0, backend=request.param)
    yield adb, phone
    adb.close()


def field_text(driver, resource_id):
    return find_nodes(parse(driver.dump_ui()), {"id": resource_id})[0].text


def test_the_login_flow_has_the_same_effects_as_on_the_plain_sim_driver(driver, tmp_path):
    adb, phone = driver
    plain = SimDriver("plain-1", tmp_path / "plain")
    over_adb = [run(adb, action, **params) for action, params in LOGIN_FLOW]
    direct = [run(plain, action, **params) for action, params in LOGIN_FLOW]
    assert [outcome.effect for outcome in over_adb] == [outcome.effect for outcome in direct]
    assert [outcome.result for outcome in over_adb] == [outcome.result for outcome in direct]
    assert over_adb[-1].screenshot == direct[-1].screenshot
    assert over_adb[-1].effect["width"] == 1080 and over_adb[-1].effect["height"] == 2400
    assert _cleared_launches(phone.driver.action_log()) == [(e["op"], e["args"]) for e in plain.action_log()]
    assert adb.hierarchy_backend == adb.backend


def _cleared_launches(log):
    """The phone's log over adb, with each `pm clear` (a stop that clears) and the start right after it as the
    plain driver logs them: one launch_app with clear_state."""
    ops = [(entry["op"], entry["args"]) for entry in log]
    merged = []
    for op, args in ops:
        if op == "launch_app" and merged and merged[-1] == ("stop_app", {**args, "clear_state": True}):
            merged[-1] = (op, {**args, "clear_state": True})
        else:
            merged.append((op, args))
    return merged


def test_facts_foreground_and_wake(driver):
    adb, phone = driver
    facts = adb.facts()
    assert (facts.model, facts.os_version, facts.screen_width, facts.screen_height) == (
        "CogniSim Virtual Phone",
        "14",
        1080,
        2400,
    )
    assert facts.extra["serialno"] == "adbsim-1"
    assert adb.foreground_package() == LAUNCHER
    adb.wake()
    assert [entry["op"] for entry in phone.driver.action_log()] == ["wake"]


def test_text_is_escaped_for_the_shell_and_for_input_text(driver):
    adb, phone = driver
    run(adb, "launch_app", package=DEMO)
    tricky = 'it\'s "q" $HOME; `x` && y | z > w \\ 100%sure %s 50% off #'
    run(adb, "type", text=tricky, into={"id": "email"})
    assert field_text(adb, "email") == tricky
    typed = [entry["args"]["text"] for entry in phone.driver.action_log() if entry["op"] == "input_text"]
    assert "".join(typed) == tricky and len(typed) == 3


def test_input_text_commands_split_only_a_literal_percent_s():
    assert input_text_commands("a b") == ["input text a%sb"]
    assert input_text_commands("5%s x") == ["input text 5%", "input text s%sx"]
    assert input_text_commands("") == ["input text ''"]


def test_non_ascii_text_is_refused_before_anything_is_sent(driver):
    adb, phone = driver
    run(adb, "launch_app", package=DEMO)
    run(adb, "tap", id="email")  # a focused field to type into
    before = phone.driver.action_log()
    with pytest.raises(UnsupportedInput, match="printable ASCII") as info:
        run(adb, "type", text="héllo wörld")
    assert not info.value.retryable and info.value.details["unsupported"] == ["é", "ö"]
    with pytest.raises(UnsupportedInput):
        adb.input_text("line\nbreak")
    assert phone.driver.action_log() == before


def test_unknown_package_is_app_not_installed(driver):
    adb, phone = driver
    with pytest.raises(AppNotInstalled, match="com.example.missing is not installed"):
        run(adb, "launch_app", package="com.example.missing", clear_state=True)
    with pytest.raises(AppNotInstalled):
        adb.stop_app("com.example.missing")
    assert phone.driver.action_log() == []


def test_two_phones_on_one_adb_server_are_driven_independently(adb_server, start_phone):
    (one, one_serial), (two, two_serial) = start_phone("twin-1"), start_phone("twin-2")
    first = AdbDriver(one_serial, adb_port=adb_server.port)
    second = AdbDriver(two_serial, adb_port=adb_server.port)
    errors = []

    def drive(driver, package):
        try:
            for _ in range(3):
                run(driver, "launch_app", package=package)
                run(driver, "press_key", key="home")
            run(driver, "launch_app", package=package)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=pair) for pair in ((first, SETTINGS), (second, DEMO))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert (first.foreground_package(), second.foreground_package()) == (SETTINGS, DEMO)
    assert {entry["args"].get("package") for entry in one.driver.action_log()} == {SETTINGS, None}
    assert {entry["args"].get("package") for entry in two.driver.action_log()} == {DEMO, None}


def test_pulling_the_cable_is_a_quick_retryable_transport_error(adb_server, start_phone):
    phone, serial = start_phone("cable-1")
    adb = AdbDriver(serial, adb_port=adb_server.port, timeout_s=30.0)
    run(adb, "launch_app", package=SETTINGS)
    phone.stop()
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        adb.dump_ui()
    assert time.monotonic() - started < 10, "not after the driver's 30 s timeout"
    assert info.value.retryable and "offline or unplugged" in info.value.message
    adb_server.wait_state(serial, lambda state: state != "device", "to stop being listed as device")

    phone.start()
    adb_server.run("disconnect", serial, check=False)
    assert adb_server.attach(phone) == serial
    assert run(adb, "assert_visible", text="Airplane mode").state["foreground"] == SETTINGS


def test_an_adb_server_that_is_not_there_is_a_transport_error_and_none_is_started(monkeypatch):
    """adbutils' own fallback would run `adb start-server`, which starts a server on the default port."""
    started = []
    monkeypatch.setattr(adbutils._adb, "adb_path", lambda: started.append("adb start-server") or "false")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportError, match="Cannot reach the adb server") as info:
        AdbDriver("nowhere:1", adb_port=port, timeout_s=2.0).foreground_package()
    assert info.value.retryable and started == []


def test_an_adb_server_that_does_not_answer_is_an_action_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        adb = AdbDriver("silent:1", adb_port=silent.getsockname()[1], timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(ActionTimeout) as info:
            adb.tap(1, 1)
        assert info.value.retryable and time.monotonic() - started < 10


SELECTOR_FLOW = [
    ("launch_app", {"package": SETTINGS}),
    ("assert_visible", {"id": "wifi_switch", "checked": True, "enabled": True}),
    ("tap", {"id": "android:id/title", "below": {"text": "Bluetooth"}}),
    ("assert_visible", {"id": "airplane_switch", "checked": True}),
    ("tap", {"id": "android:id/title", "above": {"text": "Airplane mode"}}),
    ("assert_not_visible", {"id": "bluetooth_switch", "checked": False, "timeout_ms": 500}),
    ("tap", {"text": "Wi-Fi", "child_of": {"id": "recycler_view"}}),
    ("assert_visible", {"id": "wifi_switch", "checked": False, "below": {"id": "homepage_title"}}),
]


def test_selector_states_and_relations_match_as_on_the_plain_sim_driver(driver, tmp_path):
    adb, phone = driver
    plain = SimDriver("plain-2", tmp_path / "plain")
    over_adb = [run(adb, action, **params) for action, params in SELECTOR_FLOW]
    direct = [run(plain, action, **params) for action, params in SELECTOR_FLOW]
    assert [o.result for o in over_adb] == [o.result for o in direct]
    assert [o.effect for o in over_adb] == [o.effect for o in direct]
    assert [o.result["element"]["text"] for o in over_adb if "element" in o.result and o.result["element"]["text"]] == [
        "Airplane mode",
        "Bluetooth",
        "Wi-Fi",
    ]
