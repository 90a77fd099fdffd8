"""JUnit reports from run reports (no database): per flow by default, per step on request, always
valid against the common JUnit schema committed beside this test (junit.xsd)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from runs.junit import junit_document, junit_suite, mask, run_junit, skipped_suite

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))


def step(index, status, *, label=None, error=None, screenshot=None, steps=None, optional=False):
    data = {
        "index": index,
        "step_id": 100 + index,
        "label": label or f"tap text=Item {index}",
        "line": 5 + index,
        "file": "flows/login.yaml",
        "action": "tap",
        "status": status,
        "optional": optional,
        "duration_ms": 250 if status in ("passed", "failed") else None,
        "error": error,
        "screenshot": screenshot,
    }
    if steps is not None:
        data["steps"] = steps
    return data


def report(steps, status="failed", failures=None, **extra):
    return {
        "id": "r1",
        "name": "Sign in",
        "filename": "flows/login.yaml",
        "syntax": "native",
        "tags": ["smoke"],
        "meta": {"commit": "abc123"},
        "session_id": "s1",
        "device": "sim-1",
        "status": status,
        "cancel_reason": None,
        "started_at": "2025-01-01T00:00:00+00:00",
        "created_at": "2025-01-01T00:00:00+00:00",
        "duration_ms": 1234,
        "error": None,
        "failures": failures or [],
        "steps": steps,
        **extra,
    }


FAILURE = {"code": "assertion_failed", "message": 'Expected text "Welcome" to be visible.'}
FAILED_REPORT = report(
    [
        step(0, "passed", screenshot="/api/sessions/s1/steps/100/screenshot.png"),
        step(1, "failed", error=FAILURE),
        step(2, "skipped"),
    ],
    failures=[
        {
            "index": 1,
            "label": "tap text=Item 1",
            "line": 6,
            "file": "flows/login.yaml",
            "action": "tap",
            "code": "assertion_failed",
            "message": FAILURE["message"],
            "inner": None,
        }
    ],
)


def valid(xml: str) -> ET.Element:
    SCHEMA.validate(xml)
    return ET.fromstring(xml.encode())


def test_one_testcase_per_flow_with_its_steps_in_system_out_and_the_failure_located():
    suite = valid(run_junit(FAILED_REPORT))
    assert suite.tag == "testsuite" and suite.get("name") == "Sign in"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "1",
        "1",
        "0",
        "0",
    )
    assert suite.get("time") == "1.234"  # the run's wall time, not the sum of the steps
    (case,) = suite.findall("testcase")
    assert case.get("name") == "Sign in" and case.get("classname") == "flows/login.yaml"
    failure = case.find("failure")
    assert failure.get("type") == "assertion_failed"
    assert failure.get("message").startswith("step 2 (flows/login.yaml:6) tap text=Item 1: assertion_failed: Expected")
    out = case.find("system-out").text.splitlines()
    assert out[0].split() == ["1", "PASSED", "0.250s", "tap", "text=Item", "0", "[flows/login.yaml:5]"]
    assert out[1].split()[:2] == ["2", "FAILED"] and out[2].strip().startswith("assertion_failed: Expected")
    assert out[3].split()[:2] == ["3", "SKIPPED"]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["meta.commit"] == "abc123" and props["device"] == "sim-1" and props["tags"] == "smoke"


def test_the_failure_screenshot_is_an_attachment_next_to_the_report():
    suite = valid(ET.tostring(junit_suite(FAILED_REPORT, attachment="report-attachments/sign-in.png"), "unicode"))
    assert suite.find("testcase/system-out").text.rstrip().endswith("[[ATTACHMENT|report-attachments/sign-in.png]]")


def test_per_step_names_are_stable_when_steps_are_inserted():
    before = report([step(0, "passed", label="tap id=ok"), step(1, "passed", label="assert_visible text=Done")])
    after = report(
        [
            step(0, "passed", label="tap id=ok"),
            step(1, "passed", label="tap id=ok"),
            step(2, "passed", label="assert_visible text=Done"),
        ]
    )
    names_before = [c.get("name") for c in valid(run_junit(before, per_step=True)).iter("testcase")]
    names_after = [c.get("name") for c in valid(run_junit(after, per_step=True)).iter("testcase")]
    assert names_before == ["tap id=ok", "assert_visible text=Done"]
    assert names_after == ["tap id=ok", "tap id=ok (2)", "assert_visible text=Done"]


def test_per_step_failures_skips_and_inner_steps():
    inner = [
        {
            "index": 0,
            "round": 1,
            "label": "swipe direction=up",
            "line": 9,
            "file": "flows/login.yaml",
            "action": "swipe",
            "status": "passed",
            "optional": False,
            "duration_ms": 40,
            "error": None,
        },
        {
            "index": 0,
            "round": 2,
            "label": "swipe direction=up",
            "line": 9,
            "file": "flows/login.yaml",
            "action": "swipe",
            "status": "passed",
            "optional": False,
            "duration_ms": 41,
            "error": None,
        },
    ]
    data = report(
        [step(0, "passed", label="repeat 2 times", steps=inner), step(1, "failed", error=FAILURE), step(2, "skipped")]
    )
    suite = valid(run_junit(data, per_step=True))
    cases = suite.findall("testcase")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    assert cases[1].find("failure").get("message").startswith("flows/login.yaml:6: assertion_failed")
    assert cases[2].find("skipped") is not None
    rounds = cases[0].find("system-out").text.splitlines()
    assert [line.split()[0] for line in rounds] == ["1", "1"]
    assert rounds[1].rstrip().endswith("(round 2)  [flows/login.yaml:9]")


def test_an_optional_step_that_failed_fails_nothing():
    data = report([step(0, "failed", error=FAILURE, optional=True), step(1, "passed")], status="passed")
    suite = valid(run_junit(data, per_step=True))
    assert suite.get("failures") == "0"
    said = suite.find("testcase/system-out").text  # per step too, the failure is said, not counted
    assert said.startswith(f"FAILED (optional: fails nothing) assertion_failed: {FAILURE['message']}")
    flow = valid(run_junit(data))
    assert flow.find("testcase/failure") is None and "(optional)" in flow.find("testcase/system-out").text


@pytest.mark.parametrize(
    ("status", "extra", "message"),
    [
        ("error", {"error": {"code": "device_unreachable", "message": "Device setup failed."}}, "Device setup failed."),
        ("cancelled", {"cancel_reason": "SIGTERM: the CI job was cancelled"}, "cancelled: SIGTERM: the CI job"),
        (
            "error",
            {"steps_done": 2, "steps_total": 5},
            "The run's session ended before all its steps ran (2 of 5 done): it was stopped, or its device was lost.",
        ),
    ],
)
def test_runs_without_a_verdict_on_their_steps_are_errors(status, extra, message):
    data = report([step(0, "skipped")], status=status, **extra)
    for per_step in (False, True):
        suite = valid(run_junit(data, per_step=per_step))
        assert suite.get("errors") == "1" and suite.find("testcase/error").get("message").startswith(message)


def test_a_document_of_several_runs_takes_the_wall_time_and_validates():
    passed = report([step(0, "passed")], status="passed", name="Other")
    xml = junit_document(
        [junit_suite(FAILED_REPORT), junit_suite(passed), skipped_suite("Late", "late.yaml", "not started: cancelled")],
        time_s=9.5,
    )
    root = valid(xml)
    assert root.tag == "testsuites" and root.get("time") == "9.500"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")


def test_special_characters_are_escaped_and_secrets_masked():
    bad = step(0, "failed", error={"code": "x", "message": 'a <b> & "c" hunter2'})
    data = mask(report([bad], failures=[]), ["hunter2"])
    suite = valid(run_junit(data, per_step=True))
    assert suite.find("testcase/failure").get("message") == 'flows/login.yaml:5: x: a <b> & "c" ***'
    assert "hunter2" not in run_junit(data)


def test_the_failure_points_to_its_evidence_and_the_run_to_its_recording():
    evidence = {
        "screen": "/api/sessions/s1/screens/abc.png",
        "ui_tree": "/api/sessions/s1/screens/abc.xml",
        "log": "/api/sessions/s1/steps/101/log.txt",
    }
    links = {"recording": "/api/sessions/s1/recording.webm", "log": "/api/sessions/s1/logs.txt"}
    steps = [dict(s, evidence=evidence) if s["status"] == "failed" else s for s in FAILED_REPORT["steps"]]
    failures = [dict(FAILED_REPORT["failures"][0], evidence=evidence)]
    evidenced = {**FAILED_REPORT, "steps": steps, "failures": failures, "artifacts": links}
    base = "https://ci.example.com"
    lines = [
        f"screen at failure: {base}/api/sessions/s1/screens/abc.png",
        f"UI tree at failure: {base}/api/sessions/s1/screens/abc.xml",
        f"device log at failure: {base}/api/sessions/s1/steps/101/log.txt",
    ]
    for per_step in (False, True):
        suite = valid(run_junit(evidenced, per_step=per_step, base_url=base))
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["recording"] == f"{base}/api/sessions/s1/recording.webm"
        (failure,) = suite.iter("failure")
        assert failure.text.splitlines()[1:] == lines
    out = valid(run_junit(evidenced, base_url=base)).find("testcase/system-out").text.splitlines()
    assert out[-2:] == [
        f"recording: {base}/api/sessions/s1/recording.webm",
        f"device log: {base}/api/sessions/s1/logs.txt",
    ]


def test_control_characters_in_names_and_labels_still_make_parsable_xml():
    bad = report(
        [step(0, "passed", label="tap \x1b[31mred\x01"), step(1, "failed", error={"code": "x", "message": "a\x0bb"})]
    )
    bad["name"] = "Sign\x1b in"
    for document in (run_junit(bad), run_junit(bad, per_step=True), junit_document([junit_suite(bad)])):
        root = ET.fromstring(document.encode())
        assert "\x1b" not in document and "\\x1b" in document
        SCHEMA.validate(document)
        assert root is not None


def test_a_failed_teardown_after_a_failed_step_is_named_in_the_failure_too():
    teardown = dict(step(3, "failed", label="launch_app package=com.example.absent"), always=True)
    teardown["error"] = {"code": "app_not_installed", "message": "com.example.absent is not installed."}
    evidence = {"screen": "/api/sessions/s1/screens/def.png"}
    failures = [
        FAILED_REPORT["failures"][0],
        {
            **{k: teardown[k] for k in ("index", "label", "line", "file", "action")},
            "code": "app_not_installed",
            "message": "com.example.absent is not installed.",
            "inner": None,
            "evidence": evidence,
        },
    ]
    data = {**FAILED_REPORT, "steps": [*FAILED_REPORT["steps"], teardown], "failures": failures}
    (failure,) = valid(run_junit(data)).iter("failure")
    assert failure.get("message") == (
        'step 2 (flows/login.yaml:6) tap text=Item 1: assertion_failed: Expected text "Welcome" to be visible. '
        "(and 1 more: step 4 launch_app package=com.example.absent: app_not_installed)"
    )
    assert failure.get("type") == "assertion_failed"
    assert failure.text.splitlines() == [
        'step 2 (flows/login.yaml:6) tap text=Item 1: assertion_failed: Expected text "Welcome" to be visible.',
        "step 4 (flows/login.yaml:8) launch_app package=com.example.absent: app_not_installed: "
        "com.example.absent is not installed.",
        "screen at failure: /api/sessions/s1/screens/def.png",
    ]
    failed = [c for c in valid(run_junit(data, per_step=True)).iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["tap text=Item 1", "launch_app package=com.example.absent"]


def test_a_failure_without_a_file_has_no_empty_place():
    """A replayed bundle's steps come from no file: `step 4 assert_visible`, not `step 4 () assert_visible`."""
    failure = dict(FAILED_REPORT["failures"][0], index=3, label="assert_visible text=Welcome", file="", line=None)
    (element,) = valid(run_junit({**FAILED_REPORT, "failures": [failure]})).iter("failure")
    assert element.get("message").startswith("step 4 assert_visible text=Welcome: assertion_failed: Expected")
