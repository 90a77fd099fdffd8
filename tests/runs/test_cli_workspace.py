"""`cognisim run` on folders of flows against the real stack: native and Maestro files, a workspace
config, tags, files run from other files, metadata, reports (JUnit checked against the schema, HTML),
the terminal's width, and cancellation by SIGTERM / SIGINT mid-run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
import yaml

from runs.models import Run
from sessions.models import TestSession
from tests.live import Rest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))

NATIVE = """\
name: Native sign in
app: com.cognisim.demo
tags: [smoke]
env: {EMAIL: demo@example.com}
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - run_flow: {file: subflows/sign_in.yaml, env: {PASSWORD: secret123}}
  - assert_visible: {text: "Welcome, Demo!"}
  - screenshot
"""
SIGN_IN = """\
appId: com.cognisim.demo
---
- tapOn: {id: email}
- inputText: ${EMAIL}
- tapOn: {id: password}
- inputText: ${PASSWORD}
- tapOn: Sign in
"""
MAESTRO = """\
appId: com.cognisim.demo
name: Maestro sign in
tags: [smoke, maestro]
env:
  EMAIL: demo@example.com
---
- launchApp:
    clearState: true
- assertVisible: {text: Sign in, index: 0}
- runFlow:
    file: subflows/sign_in.yaml
    env: {PASSWORD: secret123}
- assertVisible: "Welcome, Demo!"
- scrollUntilVisible:
    element: Item 12
    direction: DOWN
- tapOn: Item 12
- assertNotVisible: Sign in
- back
"""
BROKEN = """\
appId: com.cognisim.demo
name: Broken
tags: [smoke]
---
- launchApp
- assertVisible: Nothing like this
- tapOn: Sign in
"""
SLOW = """\
name: Slow
tags: [slow]
steps:
  - sleep: {ms: 1500}
  - sleep: {ms: 1500}
  - sleep: {ms: 1500}
"""
CONFIG = """\
flows:
  - "*"
excludeTags: [slow]
"""


def cli(stack, token, *argv, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "flows"
    (root / "subflows").mkdir(parents=True)
    (root / "native.yaml").write_text(NATIVE)
    (root / "maestro.yaml").write_text(MAESTRO)
    (root / "broken.yaml").write_text(BROKEN)
    (root / "slow.yaml").write_text(SLOW)
    (root / "subflows" / "sign_in.yaml").write_text(SIGN_IN)
    (root / "config.yaml").write_text(CONFIG)
    return root


def test_a_folder_runs_its_flows_native_and_maestro_with_reports(stack, devices, alice, workspace, tmp_path):
    junit, page = tmp_path / "out" / "junit.xml", tmp_path / "out" / "report.html"
    junit.parent.mkdir()
    done = cli(
        stack,
        alice,
        "run",
        str(workspace),
        "--junit",
        str(junit),
        "--html",
        str(page),
        "--meta",
        "commit=abc123",
        "--meta",
        "build_url=https://ci.example/build/7",
        "--parallel",
        timeout=180,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # broken.yaml fails
    runs = {r.filename.rsplit("/", 1)[-1]: r for r in Run.objects.all()}
    assert set(runs) == {"native.yaml", "maestro.yaml", "broken.yaml"}  # slow.yaml: excluded by config.yaml
    assert runs["native.yaml"].status == "passed" and runs["maestro.yaml"].status == "passed", done.stdout
    assert runs["maestro.yaml"].syntax == "maestro" and runs["native.yaml"].syntax == "native"
    assert set(runs["native.yaml"].files) == {f"{workspace.as_posix()}/subflows/sign_in.yaml"}
    assert runs["broken.yaml"].status == "failed"
    assert all(r.meta == {"commit": "abc123", "build_url": "https://ci.example/build/7"} for r in runs.values())
    assert "meta: build_url=https://ci.example/build/7 commit=abc123" in done.stdout
    assert f"step 3 ({workspace}/broken.yaml:6) assert_visible text=Nothing like this: assertion_failed" in done.stdout

    xml = junit.read_text()
    SCHEMA.validate(xml)
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"Native sign in", "Maestro sign in", "Broken"}
    out = cases["Native sign in"].find("system-out").text
    assert f"[{workspace}/subflows/sign_in.yaml:4]" in out  # inlined from the other file, with its own lines
    broken = cases["Broken"]
    attachment = re.search(r"\[\[ATTACHMENT\|([^\]]+)\]\]", broken.find("system-out").text).group(1)
    assert (junit.parent / attachment).read_bytes().startswith(b"\x89PNG")
    assert float(root.get("time")) >= max(float(s.get("time")) for s in root.findall("testsuite"))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["meta.commit"] == "abc123"

    html = page.read_text()
    assert html.startswith("<!doctype html>") and "2 of 3 flows passed" in html
    assert html.count("data:image/png;base64,") >= 2  # the screenshot step and the failure, inlined
    assert "Nothing like this" in html and "https://" not in html.split("build_url=")[0]

    reply = Rest(stack.base_url, alice).get(f"/api/runs/{runs['native.yaml'].pk}/")
    assert reply.body["meta"]["commit"] == "abc123" and reply.body["syntax"] == "native"


def test_tags_choose_flows_and_nothing_matching_is_an_error(stack, devices, alice, workspace):
    done = cli(stack, alice, "run", str(workspace), "--include-tags", "maestro")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.name for r in Run.objects.all()] == ["Maestro sign in"]
    done = cli(stack, alice, "run", str(workspace / "native.yaml"), "--exclude-tags", "smoke")
    assert done.returncode == 2 and "no flow matches the tags" in done.stderr
    assert Run.objects.count() == 1


def test_an_invalid_file_anywhere_in_the_bundle_runs_nothing(stack, devices, alice, workspace):
    (workspace / "subflows" / "sign_in.yaml").write_text(SIGN_IN + "- evalScript: ${output.x}\n")
    done = cli(stack, alice, "run", str(workspace))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{workspace}/subflows/sign_in.yaml:8:3: the Maestro command 'evalScript' cannot run on CogniSim" in (
        done.stderr
    )
    assert not Run.objects.exists() and not TestSession.objects.exists()


def test_convert_prints_the_native_form(stack, alice, workspace):
    done = subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", "convert", str(workspace / "maestro.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    native = yaml.safe_load(done.stdout)
    assert list(native) == ["name", "app", "tags", "env", "steps"]
    assert native["steps"][5] == {
        "scroll_until_visible": {"text": "Item 12", "text_match": "maestro", "direction": "down"}
    }
    assert native["steps"][3] == {"run_flow": {"file": "subflows/sign_in.yaml", "env": {"PASSWORD": "secret123"}}}
    bad = subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", "convert", str(workspace / "native.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "this is not a Maestro flow file" in bad.stderr


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_mid_run_cancels_the_run_on_the_server_and_writes_the_partial_junit(
    stack, devices, alice, workspace, tmp_path, signum, code
):
    junit = tmp_path / "partial.xml"
    argv = [
        sys.executable,
        "-m",
        "cognisim_site.runcli",
        "run",
        str(workspace / "slow.yaml"),
        str(workspace / "native.yaml"),
        "--junit",
        str(junit),
        "--html",
        str(tmp_path / "partial.html"),
        "--server",
        stack.base_url,
        "--token",
        alice,
    ]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = _wait(lambda: Run.objects.filter(session__steps__status="RUNNING").first())
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stdout + stderr
    run.refresh_from_db()
    name = signal.Signals(signum).name
    assert run.status == "cancelled" and run.cancel_reason.startswith(f"{name}: cognisim run was stopped"), run
    assert Run.objects.count() == 1  # the second flow never started
    session = run.session
    _wait(lambda: TestSession.objects.get(pk=session.pk).status in TestSession.TERMINAL)
    device = session.device
    _wait(lambda: type(device).objects.get(pk=device.pk).status == "available")  # the device is free again
    assert f"Cancelled by {name}" in stdout

    xml = junit.read_text()
    SCHEMA.validate(xml)
    cases = {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}
    assert cases["Slow"].find("error").get("type") == "cancelled"
    assert cases["Native sign in"].find("skipped").get("message").startswith(f"not started: {name}")

    # the step the signal caught running is reported as a cancelled step is, and counted
    out = cases["Slow"].find("system-out").text
    assert "RUNNING" not in out and "SKIPPED" in out, out
    counts = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped of (\d+)", stdout)
    assert counts, stdout
    passed, failed, skipped, total = map(int, counts.groups())
    assert (passed + failed + skipped, total) == (3, 3), stdout
    page = (tmp_path / "partial.html").read_text()
    assert "class='running'" not in page and "class='skipped'>skipped<" in page, page


def _terminal_run(argv: list[str], columns: int) -> tuple[int, str]:
    """Run `argv` with its output on a pseudo-terminal `columns` wide; its exit code and what it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env={**env, "TERM": "xterm"}
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_progress_fits_its_width(stack, devices, alice, tmp_path):
    long_name = "A step whose name is much longer than any terminal is wide " * 4
    flow = tmp_path / "a-flow-file-with-a-rather-long-name-for-the-table.yaml"
    flow.write_text(
        "name: Wide\nsteps:\n" + "".join(f"  - sleep: {{ms: 200, name: '{n} {long_name}'}}\n" for n in range(6))
    )
    argv = [
        sys.executable,
        "-m",
        "cognisim_site.runcli",
        "run",
        str(flow),
        "--server",
        stack.base_url,
        "--token",
        alice,
    ]
    code, drawn = _terminal_run(argv, 80)
    assert code == 0, drawn
    visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)  # colours and cursor moves
    live_rows = [row for row in re.split(r"[\r\n]+", visible) if "/6" in row]
    assert live_rows, visible  # the live table was drawn
    assert all(len(row) <= 80 for row in live_rows), [r for r in live_rows if len(r) > 80]


def test_without_a_terminal_progress_is_plain_lines(stack, devices, alice, workspace):
    done = cli(stack, alice, "run", str(workspace / "native.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b[" not in done.stdout and "\r" not in done.stdout
    lines = [line for line in done.stdout.splitlines() if "/8 PASSED" in line]
    assert len(lines) == 8 and lines[1].startswith(f"{workspace}/native.yaml: 2/8 PASSED tap id=email")


CONTROL = """\
name: Control
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - run_flow:
      when: {visible: {text: Sign in, index: 0}}
      steps:
        - type: {text: demo@example.com, into: {id: email}}
        - type: {text: secret123, into: {id: password}}
        - tap: {id: sign_in}
  - run_flow:
      when: {visible: {text: Sign in, index: 0}}
      steps: [{tap: {text: Sign in}}]
  - repeat: {times: 2, steps: [{swipe: {direction: up}}]}
  - repeat:
      while: {not_visible: {text: Item 30}}
      steps: [{swipe: {direction: up}}]
  - retry:
      max_attempts: 5
      steps:
        - tap: {text: Item 31}
        - assert_visible: {text: Item 31}
  - tap: {id: no_such_thing}
    optional: true
  - assert_visible: {text: Item 30}
"""
MAESTRO_CONTROL = """\
appId: com.cognisim.demo
name: Maestro control
---
- launchApp:
    clearState: true
- runFlow:
    when:
      notVisible: "Welcome, Demo!"
    file: subflows/sign_in.yaml
    env: {EMAIL: demo@example.com, PASSWORD: secret123}
- repeat:
    while:
      notVisible: Item 25
    commands:
      - scroll
- retry:
    maxRetries: 2
    commands:
      - tapOn: Item 25
- eraseText: 3
- tapOn:
    id: missing
    optional: true
"""


def test_each_control_flow_form_runs_on_the_worker_and_reports_its_inner_steps(
    stack, devices, alice, workspace, tmp_path
):
    (workspace / "control.yaml").write_text(CONTROL)
    (workspace / "maestro_control.yaml").write_text(MAESTRO_CONTROL)
    junit = tmp_path / "control.xml"
    done = cli(
        stack, alice, "run", str(workspace / "control.yaml"), str(workspace / "maestro_control.yaml"),
        "--junit", str(junit), timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rest = Rest(stack.base_url, alice)
    native, maestro = (rest.get(f"/api/runs/{r.pk}/").body for r in Run.objects.order_by("created_at"))
    steps = {s["index"]: s for s in native["steps"]}
    assert [s["status"] for s in native["steps"]] == ["passed"] * 6 + ["failed", "passed"]
    assert native["status"] == "passed" and steps[6]["optional"]  # an optional step that failed fails nothing
    assert "control.yaml: 7/8 FAILED (optional) tap id=no_such_thing" in done.stdout
    assert re.search(r"control\.yaml \(Control\): 7 passed, 0 failed, 1 optional failed, 0 skipped", done.stdout)
    assert [r["action"] for r in steps[1]["steps"]] == ["type", "type", "tap"]  # when: ran
    assert steps[2]["steps"] == []  # when: the sign-in form was gone, nothing ran
    assert [r["round"] for r in steps[3]["steps"]] == [1, 2]  # times
    assert len(steps[4]["steps"]) >= 1 and steps[4]["steps"][0]["line"] == 17  # while, with the inner step's line
    assert steps[5]["steps"][-1]["status"] == "passed" and steps[5]["steps"][0]["label"] == "tap text=Item 31"
    assert maestro["status"] == "passed", maestro
    assert [s["action"] for s in maestro["steps"]] == [
        "stop_app", "launch_app", "run_flow", "repeat", "retry", "repeat", "tap",
    ]  # fmt: skip
    assert [r["file"] for r in maestro["steps"][2]["steps"]] == [f"{workspace}/subflows/sign_in.yaml"] * 5
    xml = junit.read_text()
    SCHEMA.validate(xml)
    out = {c.get("name"): c.find("system-out").text for c in ET.fromstring(xml).iter("testcase")}
    assert re.search(r"\n  4\.1 +PASSED .* swipe direction=up \(round 2\)", out["Control"])  # indented, with its round
