"""Maestro selectors match as Maestro's do, through `cognisim run` against the real stack: a text is a regular
expression (or the text itself) matched against the text and the content-desc, the fields of a selector all
hold at once, and a selector of only a relation is any element there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from runs.models import Run
from sessions.models import Step
from tests.live import Rest, Socket, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))

SIGN_IN_WRONG = """\
- tapOn: {id: email}
- inputText: demo@example.com
- tapOn: {id: password}
- inputText: wrong
- tapOn: {id: sign_in}
"""
PATTERNS = f"""\
appId: com.cognisim.demo
name: Texts are patterns
---
- launchApp: {{clearState: true}}
- assertVisible: "Sign.*"
- assertNotVisible: ".*Invalid.*"
{SIGN_IN_WRONG}\
- assertVisible: ".*Invalid.*"
- assertVisible: "invalid EMAIL or password"
"""
STILL_SHOWN = f"""\
appId: com.cognisim.demo
name: The error is still shown
---
- launchApp: {{clearState: true}}
{SIGN_IN_WRONG}\
- assertNotVisible: ".*Invalid.*"
"""
# Settings rows, top to bottom: Wi-Fi (on), Bluetooth (off), Airplane mode (off), Location (on), Dark theme,
# About phone (its screen's up button has only a content-desc, "Navigate up").
UP_BUTTON = """\
appId: com.android.settings
name: An icon by its accessibility text
---
- launchApp
- tapOn: About phone
- assertVisible: Navigate up
- tapOn: Navigate up
- assertVisible: {id: wifi_switch}
"""
FIELDS = """\
appId: com.android.settings
name: Several fields, and a place alone
---
- launchApp
- assertVisible: {id: wifi_switch, checked: true}
- tapOn: {rightOf: Wi-Fi}
- assertVisible: {id: wifi_switch, checked: false}
- tapOn: {text: Bluetooth, id: "android:id/title"}
- assertVisible: {id: bluetooth_switch, checked: true}
- assertNotVisible: {text: Bluetooth, id: bluetooth_switch}
"""


def cli(stack, token, *argv, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_flows(stack, token, tmp_path, flows, expected_exit):
    root = tmp_path / "flows"
    root.mkdir()
    for name, text in flows.items():
        (root / name).write_text(text)
    junit = tmp_path / "junit.xml"
    done = cli(stack, token, "run", str(root), "--junit", str(junit), "--parallel")
    assert done.returncode == expected_exit, done.stdout + done.stderr
    SCHEMA.validate(str(junit))
    return {r.filename.rsplit("/", 1)[-1]: r for r in Run.objects.all()}, ET.parse(junit).getroot(), done


def taps(run):
    steps = Step.objects.filter(session_id=run.session_id).order_by("index")
    return [
        (s.result["element"]["text"], s.result["element"]["desc"], s.result["element"]["id"])
        for s in steps
        if s.action == "tap"
    ]


def test_a_maestro_text_is_a_pattern(stack, devices, alice, tmp_path):
    runs, junit, done = run_flows(
        stack, alice, tmp_path, {"patterns.yaml": PATTERNS, "still_shown.yaml": STILL_SHOWN}, expected_exit=1
    )
    assert {name: run.status for name, run in runs.items()} == {
        "patterns.yaml": "passed",
        "still_shown.yaml": "failed",  # `assertNotVisible: ".*Invalid.*"` with "Invalid email or password" shown
    }, done.stdout
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    failure = cases["The error is still shown"].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert 'text or desc matching ".*Invalid.*"' in message and "still_shown.yaml:10" in message, message


def test_a_maestro_text_matches_the_accessibility_text(stack, devices, alice, tmp_path):
    runs, _, done = run_flows(stack, alice, tmp_path, {"up.yaml": UP_BUTTON}, expected_exit=0)
    assert runs["up.yaml"].status == "passed", done.stdout
    assert taps(runs["up.yaml"]) == [("About phone", "", "android:id/title"), ("", "Navigate up", "")]


def test_maestro_fields_combine_and_a_place_alone_is_any_element_there(stack, devices, alice, tmp_path):
    runs, _, done = run_flows(stack, alice, tmp_path, {"fields.yaml": FIELDS}, expected_exit=0)
    assert runs["fields.yaml"].status == "passed", done.stdout
    assert taps(runs["fields.yaml"]) == [
        ("", "", "com.android.settings:id/wifi_switch"),  # the nearest element right of the Wi-Fi label
        ("Bluetooth", "", "android:id/title"),
    ]


def test_the_step_api_takes_text_match_and_several_fields(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    session = rest.post("/api/sessions/", {"device": devices[0].serial, "app": {"package": "com.android.settings"}})
    assert session.status == 201, session.body
    sock = Socket(stack.ws_url(session.body["id"], "last_seq=0"), token=alice)
    try:
        wait_ready(sock, timeout=120)
        path = f"/api/sessions/{session.body['id']}/steps/"
        bad = rest.post(path, {"action": "tap", "desc": "Navigate up", "text_match": "maestro"})
        assert bad.status == 400 and bad.body["field"] == "text_match", bad.body
        unknown = rest.post(path, {"action": "tap", "text": "Wi-Fi", "text_match": "regex"})
        assert unknown.status == 400 and unknown.body["field"] == "text_match", unknown.body
        plain = rest.post(path, {"action": "assert_visible", "text": "Wi.*", "timeout_ms": 300})
        failed = sock.wait_for(step_done(plain.body["id"]), timeout=120)
        assert failed["status"] == "ERROR", failed  # native text stays text: no element is "Wi.*"
        tap = {"action": "tap", "text": "blue.*", "text_match": "maestro", "id": "android:id/title"}
        step = rest.post(path, tap)
        assert step.status == 201, step.body
        done = sock.wait_for(step_done(step.body["id"]), timeout=120)
        assert done["status"] == "COMPLETED" and done["result"]["element"]["text"] == "Bluetooth", done
        check = rest.post(path, {"action": "assert_visible", "id": "bluetooth_switch", "checked": True})
        assert sock.wait_for(step_done(check.body["id"]), timeout=120)["status"] == "COMPLETED"
        pattern = {"action": "tap", "id": "(?:wifi|nfc)_SWITCH", "text_match": "maestro"}  # Maestro's id regex
        switched = sock.wait_for(step_done(rest.post(path, pattern).body["id"]), timeout=120)
        assert switched["status"] == "COMPLETED", switched
        assert switched["result"]["element"]["id"] == "com.android.settings:id/wifi_switch", switched
    finally:
        sock.close()
        rest.post(f"/api/sessions/{session.body['id']}/stop/")
