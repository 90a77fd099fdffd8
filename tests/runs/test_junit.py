"""The JUnit report of a run, from a run report (no database needed)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from runs.junit import run_junit


def step(index, status, *, error=None, screenshot=None):
    return {
        "index": index,
        "step_id": 100 + index,
        "label": f"{index + 1} tap text=Item {index}",
        "line": 5 + index,
        "action": "tap",
        "status": status,
        "duration_ms": 250 if status in ("passed", "failed") else None,
        "error": error,
        "screenshot": screenshot,
    }


def report(steps, status="failed"):
    return {
        "id": "r1",
        "name": "Sign in",
        "filename": "flows/login.yaml",
        "tags": ["smoke"],
        "session_id": "s1",
        "device": "sim-1",
        "status": status,
        "started_at": "2025-01-01T00:00:00+00:00",
        "created_at": "2025-01-01T00:00:00+00:00",
        "error": None,
        "steps": steps,
    }


def test_one_testcase_per_step_with_failures_skips_durations_and_screenshots():
    failure = {"code": "assertion_failed", "message": "'Welcome' is not on the screen."}
    xml = run_junit(
        report(
            [
                step(0, "passed", screenshot="/api/sessions/s1/steps/100/screenshot.png"),
                step(1, "failed", error=failure),
                step(2, "skipped"),
            ]
        )
    )
    suite = ET.fromstring(xml.encode())
    assert suite.tag == "testsuite" and suite.get("name") == "Sign in"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "3",
        "1",
        "1",
        "0",
    )
    assert suite.get("time") == "0.500"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["1 tap text=Item 0", "2 tap text=Item 1", "3 tap text=Item 2"]
    assert cases[0].find("failure") is None and cases[0].get("time") == "0.250"
    props = {p.get("name"): p.get("value") for p in cases[0].iter("property")}
    assert props["screenshot"] == "/api/sessions/s1/steps/100/screenshot.png" and props["step.line"] == "5"
    assert cases[1].find("failure").get("message") == failure["message"]
    assert cases[1].find("failure").get("type") == "assertion_failed"
    assert cases[2].find("skipped") is not None


def test_a_run_that_never_ran_its_steps_is_an_error():
    data = report([step(0, "skipped")], status="error")
    data["error"] = {"code": "device_unreachable", "message": "Device setup failed."}
    suite = ET.fromstring(run_junit(data).encode())
    assert suite.get("errors") == "1"
    assert suite.find("testcase/error").get("message") == "Device setup failed."


def test_special_characters_are_escaped():
    bad = step(0, "failed", error={"code": "x", "message": 'a <b> & "c"'})
    suite = ET.fromstring(run_junit(report([bad])).encode())
    assert suite.find("testcase/failure").get("message") == 'a <b> & "c"'
