"""`cognisim run` and `cognisim replay` against a real stack: verdicts, JUnit, parallel runs, bundles."""

from __future__ import annotations

import copy
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from django.conf import settings

from cognisim_site.processes import daphne_argv, wait_for_port
from devices import actions
from devices.drivers.sim import SETTINGS, SimDriver
from runs.models import Run
from sessions.models import Artifact, SessionEvent, Step, TestSession
from tests.live import Rest
from tests.sessions.test_recording import decoded

ROOT = str(Path(__file__).resolve().parents[2])
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOGIN = """\
name: Sign in
app: com.cognisim.demo
tags: [smoke]
env: {EMAIL: demo@example.com}
flows:
  sign_in:
    - type: {text: "${EMAIL}", into: {id: email}}
    - type: {text: secret123, into: {id: password}}
    - tap: {id: sign_in}
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - assert_visible: {text: Sign in, index: 0}
  - run_flow: sign_in
  - assert_visible: {text: "Welcome, Demo!"}
  - screenshot
"""

FAILING = """\
name: Broken
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - assert_visible: {text: Sign in, index: 0}
  - assert_visible: {text: Nothing like this, name: Greeting is shown}
  - tap: {id: sign_in}
  - screenshot
"""

SETTINGS_TOUR = """\
name: Tour
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - assert_visible: {text: Sign in, index: 0}
  - launch_app: {package: com.android.settings}
  - assert_visible: {text: Wi-Fi}
  - press_key: {key: home}
"""


def cli(stack, token, *argv, timeout=120, cwd=None):
    """The CLI of this checkout, run from `cwd` (default: the checkout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def wait_run(rest: Rest, path: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = rest.get(path)
        assert reply.status == 200, reply.body
        if reply.body["status"] != "running":
            return reply.body
        assert time.monotonic() < deadline, reply.body
        time.sleep(0.1)


def test_a_passing_flow_exits_0_with_a_junit_report(stack, devices, alice, tmp_path):
    flow = write(tmp_path, "login.yaml", LOGIN)
    junit = tmp_path / "report.xml"
    done = cli(stack, alice, "run", flow, "--device", devices[0].serial, "--junit", str(junit))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout and "7 passed, 0 failed, 0 skipped of 7" in done.stdout

    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites" and suites.get("failures") == "0" and suites.get("errors") == "0"
    (case,) = suites.findall("testsuite/testcase")  # one test case per flow
    assert case.get("name") == "Sign in" and case.find("failure") is None and case.find("skipped") is None
    out = case.find("system-out").text.splitlines()
    session = Run.objects.get().session_id
    assert out[7:] == [  # docs/ci.md
        f"recording: {stack.base_url}/api/sessions/{session}/recording.webm",
        f"device log: {stack.base_url}/api/sessions/{session}/logs.txt",
    ]
    deadline = time.monotonic() + 60
    while not Artifact.objects.filter(session_id=session, kind="recording").exists():  # made when the run ended
        assert time.monotonic() < deadline, "the run's recording was never made"
        time.sleep(0.1)
    made = Artifact.objects.get(session_id=session, kind="recording")
    video = Rest(stack.base_url, alice).get(f"/api/sessions/{session}/recording.webm").body
    assert Artifact.objects.get(session_id=session, kind="recording") == made  # served, not made again
    screens = SessionEvent.objects.filter(session_id=session, type="SCREEN").count()
    assert screens >= 3 and len(decoded(video)) == screens + 1  # every screen the run showed, the last held
    assert len(out) == 9 and out[2].split()[:5] == ["3", "PASSED"] + out[2].split()[2:3] + [
        "type",
        "text=demo@example.com",
    ]
    assert out[2].rstrip().endswith(f"[{flow}:7]")  # the step comes from sub-flow sign_in, line 7

    run = Run.objects.get()
    assert run.status == "passed" and run.session.source == "ci" and run.session.status == "COMPLETED"
    assert run.session.device.status == "available"  # the session was stopped: the device is free again


def test_a_passing_run_writes_its_reports_into_a_folder_that_does_not_exist_yet(stack, devices, alice, tmp_path):
    flow = write(tmp_path, "tour.yaml", SETTINGS_TOUR)
    junit, page = tmp_path / "new" / "junit" / "report.xml", tmp_path / "other" / "report.html"
    done = cli(stack, alice, "run", flow, "--junit", str(junit), "--html", str(page))
    assert done.returncode == 0, done.stdout + done.stderr
    assert ET.parse(junit).getroot().get("failures") == "0"
    assert "PASSED" in page.read_text()


def test_a_failing_flow_exits_1_names_the_step_and_skips_the_rest(stack, devices, alice, tmp_path):
    flow = write(tmp_path, "broken.yaml", FAILING)
    junit = tmp_path / "report.xml"
    done = cli(stack, alice, "run", flow, "--junit", str(junit))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert f"step 3 ({flow}:6) Greeting is shown: assertion_failed" in done.stdout
    assert "2 passed, 1 failed, 2 skipped of 5" in done.stdout
    (case,) = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert case.find("failure").get("message").startswith(f"step 3 ({flow}:6) Greeting is shown: assertion_failed")
    attachment = case.find("system-out").text.strip().splitlines()[-1]
    assert attachment == "[[ATTACHMENT|report-attachments/01-broken-step3.png]]"
    assert (tmp_path / "report-attachments/01-broken-step3.png").read_bytes().startswith(b"\x89PNG")
    assert f"screenshot: {tmp_path}/report-attachments/01-broken-step3.png" in done.stdout  # as the report was named
    steps = list(Step.objects.filter(session__run__isnull=False).order_by("index"))
    assert [s.status for s in steps] == ["COMPLETED", "COMPLETED", "FAILED", "CANCELLED", "CANCELLED"]
    assert steps[3].started_at is None and steps[4].started_at is None  # never ran
    # The failure points to its evidence (docs/ci.md), each link good with the token.
    base = f"{stack.base_url}/api/sessions/{steps[2].session_id}"
    evidence = case.find("failure").text.splitlines()[1:]
    assert evidence == [
        f"screen at failure: {base}/screens/{steps[2].screen_hash}.png",
        f"UI tree at failure: {base}/screens/{steps[2].screen_hash}.xml",
        f"device log at failure: {base}/steps/{steps[2].pk}/log.txt",
    ]
    rest = Rest(stack.base_url, alice)
    picture, tree, log = (rest.get(line.split(": ", 1)[1].removeprefix(stack.base_url)) for line in evidence)
    assert picture.body.startswith(b"\x89PNG") and b"<hierarchy" in tree.body and log.status == 200

    junit = tmp_path / "steps.xml"
    assert cli(stack, alice, "run", flow, "--junit", str(junit), "--junit-per-step").returncode == 1
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [
        ("failure" if c.find("failure") is not None else "skipped" if c.find("skipped") is not None else "ok")
        for c in cases
    ] == [
        "ok",
        "ok",
        "failure",
        "skipped",
        "skipped",
    ]
    assert "Nothing like this" in cases[2].find("failure").get("message")


TEARDOWN = """\
appId: com.cognisim.demo
onFlowComplete:
  - launchApp: com.android.settings
---
- launchApp: {clearState: true}
- assertVisible: Nothing like this
- tapOn: {id: sign_in}
"""


def test_onflowcomplete_runs_after_a_failure_and_its_own_failure_fails_the_run(stack, devices, alice, tmp_path):
    """Maestro's onFlowComplete is the flow's teardown: it runs although a step before it failed (the steps in
    between do not), and a teardown that fails fails a flow that passed."""
    done = cli(stack, alice, "run", write(tmp_path, "teardown.yaml", TEARDOWN))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "4 passed, 1 failed, 1 skipped of 6" in done.stdout  # Maestro's launchApp is a stop and a start
    first = Run.objects.get()
    steps = list(first.session.steps.order_by("index"))
    assert [(s.action, s.status, s.always) for s in steps[2:]] == [
        ("assert_visible", "FAILED", False),
        ("tap", "CANCELLED", False),
        ("stop_app", "COMPLETED", True),
        ("launch_app", "COMPLETED", True),
    ]
    assert steps[3].started_at is None and steps[4].started_at > steps[2].finished_at
    assert first.session.status == TestSession.Status.FAILED and first.session.device.status == "available"

    broken_teardown = TEARDOWN.replace("com.android.settings", "com.example.absent").replace(
        "- assertVisible: Nothing like this\n- tapOn: {id: sign_in}\n", "- assertVisible: Sign in\n"
    )
    done = cli(stack, alice, "run", write(tmp_path, "broken.yaml", broken_teardown))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "launch_app package=com.example.absent" in done.stdout and "app_not_installed" in done.stdout


def test_the_summary_shows_the_failure_screenshot_from_where_the_cli_runs(stack, devices, alice, tmp_path):
    here = tmp_path / "flows"
    here.mkdir()
    write(here, "broken.yaml", FAILING)
    done = cli(stack, alice, "run", "broken.yaml", "--junit", "../reports/fail.xml", cwd=here)
    assert done.returncode == 1, done.stdout + done.stderr
    (shown,) = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if "screenshot: " in line]
    assert shown == "../reports/fail-attachments/01-broken-step3.png"
    assert (here / shown).read_bytes().startswith(b"\x89PNG")
    (case,) = ET.parse(tmp_path / "reports" / "fail.xml").getroot().findall("testsuite/testcase")
    attachment = case.find("system-out").text.strip().splitlines()[-1]
    assert attachment == "[[ATTACHMENT|fail-attachments/01-broken-step3.png]]"  # JUnit's is from the report


def test_two_flows_run_in_parallel_on_two_devices(stack, devices, alice, tmp_path):
    slow = LOGIN + "  - sleep: {ms: 3000}\n"  # long enough that a run started after the other ended is seen
    first = write(tmp_path, "one.yaml", slow)
    second = write(tmp_path, "two.yaml", slow.replace("name: Sign in", "name: Sign in again"))
    done = cli(stack, alice, "run", first, second, "--parallel")
    assert done.returncode == 0, done.stdout + done.stderr
    runs = list(Run.objects.select_related("session").order_by("created_at"))
    assert [r.status for r in runs] == ["passed", "passed"]
    a, b = (r.session for r in runs)
    assert a.device.serial != b.device.serial and {a.device.serial, b.device.serial} <= {d.serial for d in devices}
    assert b.created_at < a.ended_at  # the second was started while the first still ran: not one after the other


def test_stream_lines_come_in_the_order_things_happened(stack, devices, alice, tmp_path):
    write(tmp_path, "tour.yaml", SETTINGS_TOUR)
    done = cli(stack, alice, "run", "tour.yaml", "--stream", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    told = []
    for line in done.stdout.splitlines():
        if started := re.match(r"tour.yaml: step (\d+) started ", line):
            told.append(f"{started[1]} started")
        elif ended := re.match(r"tour.yaml: (\d+)/5 PASSED ", line):
            told.append(f"{ended[1]} passed")
    assert told == [f"{n} {what}" for n in range(1, 6) for what in ("started", "passed")], done.stdout


class LiveCli:
    """`cognisim run` in the background, from `cwd`: its output read line by line as it comes."""

    def __init__(self, stack, token, *argv, cwd):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
        argv = [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout])
        self.reader.start()

    def wait_line(self, words: str) -> str:
        while not self.seen or words not in self.seen[-1]:
            self.seen.append(self.lines.get(timeout=60))
        return self.seen[-1]

    def finish(self, timeout: float = 120) -> int:
        """Its exit code, once every line it printed is in `seen`."""
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def __enter__(self) -> LiveCli:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()


def test_a_run_rides_out_a_restart_of_the_web_server(stack, devices, alice, tmp_path):
    """The CLI used to give up at the first refused connection (exit 2, no JUnit) while the server went on."""
    write(tmp_path, "tour.yaml", SETTINGS_TOUR + "  - sleep: {ms: 1000}\n")
    with LiveCli(stack, alice, "run", "tour.yaml", "--junit", "report.xml", cwd=tmp_path) as run:
        run.wait_line("started run")
        stack.supervisor.remove("web")
        try:
            run.wait_line("does not answer")
        finally:
            web = stack.supervisor.start("web", daphne_argv(stack.host, stack.port), stack.env)
            wait_for_port(stack.host, stack.port, timeout=60, proc=web)
        assert run.finish() == 0
    assert any("answers again" in line for line in run.seen), run.seen
    assert Run.objects.get().status == "passed"
    assert 'failures="0"' in (tmp_path / "report.xml").read_text()


def test_a_run_waiting_for_a_busy_device_says_so_then_runs_once_it_is_free(stack, devices, alice, tmp_path):
    serial = devices[0].serial
    rest = Rest(stack.base_url, alice)
    holder = rest.post("/api/sessions/", {"device": serial, "app": {"package": "com.cognisim.demo"}})
    assert holder.status == 201, holder.body
    write(tmp_path, "tour.yaml", SETTINGS_TOUR)
    with LiveCli(stack, alice, "run", "tour.yaml", "--device", serial, cwd=tmp_path) as run:
        # plain output used to say nothing until the first step ended
        assert run.wait_line("waiting for a free device") == "tour.yaml: waiting for a free device\n"
        assert rest.post(f"/api/sessions/{holder.body['id']}/stop/").status == 200
        assert run.finish() == 0
    after = "".join(run.seen[run.seen.index("tour.yaml: waiting for a free device\n") :])
    assert f"tour.yaml: setting up {serial}" in after or "1/5 PASSED" in after
    assert after.index("waiting for a free device") < after.index("5/5 PASSED")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - tap: {text: [OK\n", "bad.yaml:4:1: not valid YAML"),
        ("name: x\nsteps:\n  - screenshot\n  - tapp: {text: OK}\n", "bad.yaml:4:5: step 2: unknown action 'tapp'"),
        (
            "name: x\nsteps:\n  - screenshot\n  - type:\n      into: {id: email}\n",
            "bad.yaml:4:5: step 2 (type): 'text' is required.",
        ),
        ("name: x\nsteps:\n  - sleep:\n      ms: soon\n", "bad.yaml:4:7: step 1 (sleep): 'ms' must be an integer."),
    ],
)
def test_invalid_flow_files_give_line_numbered_errors_and_start_nothing(
    stack, devices, alice, tmp_path, text, expected
):
    good = write(tmp_path, "good.yaml", LOGIN)
    bad = write(tmp_path, "bad.yaml", text)
    done = cli(stack, alice, "run", good, bad)
    assert done.returncode == 2, done.stdout + done.stderr
    assert any(line.endswith(expected) or expected in line for line in done.stderr.splitlines()), done.stderr
    assert f"{bad.rsplit('/', 1)[0]}/{expected}" in done.stderr or expected in done.stderr
    assert not TestSession.objects.exists() and not Run.objects.exists()


def test_an_empty_flow_file_is_an_invalid_flow_with_its_line_and_starts_nothing(stack, devices, alice, tmp_path):
    good = write(tmp_path, "good.yaml", LOGIN)
    empty = write(tmp_path, "empty.yaml", "")
    done = cli(stack, alice, "run", good, empty)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert (
        lines[0]
        == f"{empty}:1:1: a flow is a mapping with 'name' and 'steps' (or a Maestro file: appId, ---, commands)."
    ), done.stderr
    assert lines[-1] == "Nothing was run: fix the flow files above.", done.stderr
    assert not TestSession.objects.exists() and not Run.objects.exists()


def test_an_unknown_device_is_refused_at_validation_and_starts_nothing(stack, devices, alice, tmp_path):
    good = write(tmp_path, "good.yaml", LOGIN)
    junit = tmp_path / "dn.xml"
    done = cli(stack, alice, "run", good, "--device", "nope", "--junit", str(junit))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "--device nope: There is no device 'nope'. GET /api/devices/ lists them.",
        "Nothing was run: name a device that exists with --device.",
    ], done.stderr
    assert not junit.exists()
    assert not TestSession.objects.exists() and not Run.objects.exists()


def test_runs_belong_to_their_owner(stack, devices, alice, bob):
    reply = Rest(stack.base_url, alice).post("/api/runs/", {"flow": LOGIN, "filename": "login.yaml"})
    assert reply.status == 201, reply.body
    for path in (f"/api/runs/{reply.body['id']}/", f"/api/runs/{reply.body['id']}/junit.xml", "/api/runs/nope/"):
        assert Rest(stack.base_url, bob).get(path).status == 404
    assert wait_run(Rest(stack.base_url, alice), f"/api/runs/{reply.body['id']}/")["status"] == "passed"


def capture(stack, token, serial, flow) -> dict:
    rest = Rest(stack.base_url, token)
    reply = rest.post("/api/runs/", {"flow": flow, "filename": "tour.yaml", "device": serial})
    assert reply.status == 201, reply.body
    run = wait_run(rest, f"/api/runs/{reply.body['id']}/")
    assert run["status"] == "passed", run
    bundle = rest.get(f"/api/sessions/{run['session_id']}/capture/")
    assert bundle.status == 200
    return bundle.body


def test_capture_then_replay_gives_identical_hashes_every_time(stack, devices, alice, tmp_path):
    bundle = capture(stack, alice, devices[0].serial, SETTINGS_TOUR)
    assert bundle["version"] == 1 and len(bundle["steps"]) == 5
    assert bundle["provenance"]["device"]["serial"] == devices[0].serial and bundle["provenance"]["cognisim_version"]
    assert all(len(s["effect_hash"]) == 64 for s in bundle["steps"])
    assert bundle["events"][0]["seq"] == 1 and bundle["decisions"][0]["kind"] == "INVOKE"
    path = write(tmp_path, "bundle.json", json.dumps(bundle))
    for _ in range(2):
        done = cli(stack, alice, "replay", path, "--device", devices[0].serial)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "IDENTICAL" in done.stdout
    replays = Run.objects.filter(kind="replay").select_related("session")
    assert [r.status for r in replays] == ["identical", "identical"]
    for replay in replays:
        hashes = list(replay.session.steps.order_by("index").values_list("effect_hash", flat=True))
        assert hashes == [s["effect_hash"] for s in bundle["steps"]]
        assert replay.session.source == "replay"


def test_a_replayed_step_waits_as_the_captured_one_did_not_its_recorded_time_limit(stack, devices, alice, tmp_path):
    bundle = capture(stack, alice, devices[0].serial, SETTINGS_TOUR)
    asserted = [s for s in bundle["steps"] if s["action"] == "assert_visible"]
    assert asserted and all("timeout_ms" not in s["params"] for s in asserted)  # the default 5 s element wait
    done = cli(stack, alice, "replay", write(tmp_path, "bundle.json", json.dumps(bundle)))
    assert done.returncode == 0, done.stdout + done.stderr
    replay = Run.objects.get(kind="replay")
    replayed = list(replay.session.steps.order_by("index").values("params", "timeout_ms"))
    assert replayed == [{"params": s["params"], "timeout_ms": s["timeout_ms"]} for s in bundle["steps"]]


def test_a_replay_after_the_app_changed_names_the_first_diverging_step(stack, devices, alice, tmp_path):
    serial = devices[0].serial
    bundle = capture(stack, alice, serial, SETTINGS_TOUR)
    # Change what the phone shows: Wi-Fi off (a system setting, which the captured flow does not reset).
    driver = SimDriver(serial, settings.SIM_DEVICE_DIR)
    deadline = time.monotonic() + 10
    actions.perform(driver, action="launch_app", params={"package": SETTINGS, "clear_state": False}, deadline=deadline)
    actions.perform(driver, action="tap", params={"id": "wifi_switch"}, deadline=deadline)
    actions.perform(driver, action="press_key", params={"key": "home"}, deadline=deadline)

    done = cli(stack, alice, "replay", write(tmp_path, "bundle.json", json.dumps(bundle)), "--device", serial)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DIVERGED" in done.stdout and "first diverging step: 3 (launch_app)" in done.stdout

    replay = Run.objects.get(kind="replay")
    report = Rest(stack.base_url, alice).get(f"/api/replays/{replay.pk}/").body
    first = report["first_divergence"]
    assert report["status"] == "diverged" and first["index"] == 2 and first["action"] == "launch_app"
    assert first["expected_hash"] == bundle["steps"][2]["effect_hash"] != first["actual_hash"]
    assert first["expected_effect"]["screen"] != first["actual_effect"]["screen"]
    assert [s["match"] for s in report["steps"]][:2] == [True, True]


def test_a_tampered_bundle_is_refused_with_a_clear_error(stack, devices, alice, tmp_path):
    bundle = capture(stack, alice, devices[0].serial, SETTINGS_TOUR)
    rest = Rest(stack.base_url, alice)
    unknown, version, altered, step_field = (copy.deepcopy(bundle) for _ in range(4))
    unknown["signature"] = "trust me"
    version["version"] = 2
    altered["steps"][1]["effect"]["screen"] = "0" * 64
    step_field["steps"][0]["colour"] = "red"
    cases = [
        (unknown, "Unknown field 'signature'"),
        (version, "Unknown bundle version 2"),
        (altered, "steps[1].effect_hash does not match its effect"),
        (step_field, "Unknown field 'steps[0].colour'"),
    ]
    for body, message in cases:
        reply = rest.post("/api/replays/", {"bundle": body})
        assert reply.status == 400 and reply.body["code"] == "invalid_bundle", reply.body
        assert message in reply.body["message"], reply.body
    done = cli(stack, alice, "replay", write(tmp_path, "bad.json", json.dumps(altered)))
    assert done.returncode == 2 and "invalid_bundle: steps[1].effect_hash does not match" in done.stderr
    assert Run.objects.filter(kind="replay").count() == 0
