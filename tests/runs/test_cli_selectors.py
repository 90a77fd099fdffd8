"""Selector states and relations (`enabled`, `checked`, `below`, `above`, `child_of` / Maestro's `childOf`)
run through `cognisim run` on a folder of Maestro and native flows against the real stack, and through the
step API; a failure names the relation it looked for."""

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

# Settings rows, top to bottom: Wi-Fi (on), Bluetooth (off), Airplane mode (off), Location (on), Dark theme,
# About phone; every row's label has the resource-id android:id/title.
MAESTRO = """\
appId: com.android.settings
name: Settings by state and place
---
- launchApp
- assertVisible: {id: wifi_switch, checked: true}
- assertVisible: {id: bluetooth_switch, checked: false, enabled: true}
- tapOn:
    id: "android:id/title"
    below: Bluetooth
- assertVisible: {id: airplane_switch, checked: true}
- tapOn: {id: "android:id/title", above: {text: Airplane mode}}
- assertVisible: {id: bluetooth_switch, checked: true}
- assertNotVisible: {id: wifi_switch, enabled: false}
- tapOn: {text: Wi-Fi, childOf: {id: recycler_view}}
- assertVisible: {id: wifi_switch, checked: false}
- runFlow:
    when: {visible: {id: airplane_switch, checked: true}}
    commands:
      - tapOn: {id: airplane_switch, below: {text: Bluetooth}}
- assertVisible: {id: airplane_switch, checked: false}
- assertVisible: {id: wifi_switch, rightOf: Wi-Fi}
- assertNotVisible: {id: wifi_switch, leftOf: Wi-Fi}
"""
NATIVE = """\
name: Sign in by place
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - type: {text: demo@example.com, into: {text: Email, above: {id: password}}}
  - type: {text: secret123, into: {id: password, below: {id: email}, enabled: true}}
  - assert_visible: {id: password, focused: true}
  - assert_not_visible: {id: email, focused: true}
  - tap: {text: Sign in, below: {id: password}}
  - assert_visible: {text: Item 3, child_of: {id: items}}
  - assert_not_visible: {text: "Welcome, Demo!", child_of: {id: items}, timeout_ms: 500}
  - repeat:
      while: {not_visible: {text: Item 12, child_of: {id: items}}}
      steps: [{swipe: {direction: up}}]
  - tap: {text: Item 12, child_of: {id: items}}
  - assert_visible: {text: Item 12, selected: true}
  - assert_not_visible: {text: Item 11, selected: true}
"""
WRONG = """\
name: Nothing below the button
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - assert_visible: {text: Sign in, below: {id: sign_in}, timeout_ms: 500}
"""


def cli(stack, token, *argv, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_folder_of_flows_selects_by_state_and_place(stack, devices, alice, tmp_path):
    root = tmp_path / "flows"
    root.mkdir()
    (root / "settings.yaml").write_text(MAESTRO)
    (root / "login.yaml").write_text(NATIVE)
    (root / "wrong.yaml").write_text(WRONG)
    junit = tmp_path / "junit.xml"
    done = cli(stack, alice, "run", str(root), "--junit", str(junit), "--parallel")
    assert done.returncode == 1, done.stdout + done.stderr
    runs = {r.filename.rsplit("/", 1)[-1]: r for r in Run.objects.all()}
    assert {name: run.status for name, run in runs.items()} == {
        "settings.yaml": "passed",
        "login.yaml": "passed",
        "wrong.yaml": "failed",
    }, done.stdout

    # The taps took the element the relation names, not the first match.
    settings_steps = Step.objects.filter(session_id=runs["settings.yaml"].session_id).order_by("index")
    taps = [s.result["element"]["text"] for s in settings_steps if s.action == "tap"]
    assert taps == ["Airplane mode", "Bluetooth", "Wi-Fi"]
    login = Step.objects.filter(session_id=runs["login.yaml"].session_id).order_by("index")
    assert [s.result["element"]["id"] for s in login if s.action == "tap"] == [
        "com.cognisim.demo:id/sign_in",
        "com.cognisim.demo:id/item",
    ]

    SCHEMA.validate(str(junit))
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["Nothing below the button"].find("failure")
    assert failure is not None
    assert 'text "Sign in" below id "sign_in"' in failure.get("message", ""), failure.get("message")
    assert "wrong.yaml:5" in failure.get("message", "")
    out = cases["Settings by state and place"].findtext("system-out") or ""
    assert "tap id=android:id/title below(text=Bluetooth text_match=maestro)" in out and "settings.yaml:6]" in out


def test_the_step_api_takes_states_and_relations_and_names_a_bad_one(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    session = rest.post("/api/sessions/", {"device": devices[0].serial, "app": {"package": "com.android.settings"}})
    assert session.status == 201, session.body
    sock = Socket(stack.ws_url(session.body["id"], "last_seq=0"), token=alice)
    try:
        wait_ready(sock, timeout=120)
        path = f"/api/sessions/{session.body['id']}/steps/"
        nested = {"action": "tap", "id": "android:id/title", "below": {"text": "Wi-Fi", "above": {"text": "x"}}}
        bad = rest.post(path, nested)
        assert bad.status == 400 and bad.body["code"] == "invalid_step" and bad.body["field"] == "below.above"
        point = rest.post(path, {"action": "tap", "x": 10, "y": 10, "checked": True})
        assert point.status == 400 and point.body["field"] == "checked", point.body
        tap = {"action": "tap", "id": "android:id/title", "below": {"text": "Wi-Fi"}, "enabled": True}
        step = rest.post(path, tap)
        assert step.status == 201, step.body
        done = sock.wait_for(step_done(step.body["id"]), timeout=120)
        assert done["status"] == "COMPLETED" and done["result"]["element"]["text"] == "Bluetooth", done
        check = rest.post(path, {"action": "assert_visible", "id": "bluetooth_switch", "checked": True})
        assert sock.wait_for(step_done(check.body["id"]), timeout=120)["status"] == "COMPLETED"
    finally:
        sock.close()
        rest.post(f"/api/sessions/{session.body['id']}/stop/")
