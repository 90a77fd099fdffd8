"""Secrets never leave the worker: a run with `--secret` (its value from the environment) and a flow that
names one under `secrets:` leaves no trace of either value in anything it produces — the CLI's output,
JUnit, the HTML report, the run report, the steps, the events, the capture bundle and the database rows —
even when a failing step's message would quote it."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import serializers
from django.db import connection
from PIL import Image

from devices.uitree import parse
from runs.models import Run
from sessions.models import Artifact, Screen, SessionEvent, Step, TestSession
from sessions.secrets import BLACKOUT
from tests.live import Rest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret123"  # the demo app's own password: the flow signs in with it
PIN = "pin-4711-zebra"
FLOW = """\
name: Sign in with secrets
app: com.cognisim.demo
env: {EMAIL: demo@example.com}
secrets: [PIN]
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - type: {text: "${PIN}", into: {id: email}}
  - clear_text: {into: {id: email}}
  - type: {text: "${EMAIL}", into: {id: email}}
  - type: {text: "${PASSWORD}", into: {id: password}}
  - tap: {id: sign_in}
  - assert_visible: {text: "Welcome, Demo!"}
  - type: {text: "${PIN}"}
    optional: true
  - assert_visible: {text: "${PASSWORD} and ${PIN}", timeout_ms: 300}
"""


def cognisim_run(argv: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    """`cognisim run …` as CI runs it, with these variables added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **environment},
    )


def _everything(rest: Rest, run_id: str, session_id: str) -> dict[str, str]:
    """Every server-side artifact of the run, as text."""
    texts = {
        "run report": rest.get(f"/api/runs/{run_id}/").body,
        "run list": rest.get("/api/runs/").body,
        "junit.xml": rest.get(f"/api/runs/{run_id}/junit.xml").body,
        "junit.xml per step": rest.get(f"/api/runs/{run_id}/junit.xml?per_step=1").body,
        "session": rest.get(f"/api/sessions/{session_id}/").body,
        "steps": rest.get(f"/api/sessions/{session_id}/steps/").body,
        "capture bundle": rest.get(f"/api/sessions/{session_id}/capture/").body,
        "device log": rest.get(f"/api/sessions/{session_id}/logs.txt").body,
    }
    for screen in {s.screen_hash for s in Step.objects.filter(session_id=session_id) if s.screen_hash}:
        texts[f"screen {screen[:8]}"] = rest.get(f"/api/sessions/{session_id}/screens/{screen}.xml").body
    events, after = [], 0
    while True:
        page = rest.get(f"/api/sessions/{session_id}/events/?after={after}").body
        events += page["results"]
        if not page["has_more"]:
            break
        after = page["next_after"]
    texts["events"] = events
    for model, rows in (
        ("Run rows", Run.objects.all()),
        ("TestSession rows", TestSession.objects.all()),
        ("Step rows", Step.objects.all()),
        ("SessionEvent rows", SessionEvent.objects.all()),
        ("Artifact rows", Artifact.objects.all()),
    ):
        texts[model] = serializers.serialize("json", rows)
    return {
        name: value if isinstance(value, str) else value.decode() if isinstance(value, bytes) else json.dumps(value)
        for name, value in texts.items()
    }


def _database_scrubbed() -> None:
    """Earlier tests typed the demo password in the clear: their bytes stay in SQLite's freed pages and its
    write-ahead log until overwritten. Rewrite the file without them (VACUUM) and empty the log, so that what
    the test finds there is its own."""
    if connection.vendor != "sqlite":
        return
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        while cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:  # busy: a reader holds the log
            assert time.monotonic() < deadline, "the write-ahead log stayed in use for a minute"
            time.sleep(0.1)
    for path in (Path(connection.settings_dict["NAME"]), Path(f"{connection.settings_dict['NAME']}-wal")):
        assert not path.exists() or PASSWORD.encode() not in path.read_bytes(), path


def test_secret_values_are_in_no_artifact(stack, devices, alice, tmp_path):
    _database_scrubbed()
    flow, junit, page = tmp_path / "login.yaml", tmp_path / "junit.xml", tmp_path / "report.html"
    flow.write_text(FLOW)
    argv = ["run", str(flow), "--secret", "PASSWORD", "-e", f"PIN={PIN}", "--stream"]
    argv += ["--junit", str(junit), "--html", str(page), "--server", stack.base_url, "--token", alice]
    done = cognisim_run(argv, PASSWORD=PASSWORD)
    assert done.returncode == 1, done.stdout + done.stderr  # the last step fails, quoting both
    run = Run.objects.get()
    steps = list(Step.objects.filter(session_id=run.session_id).order_by("index"))
    # The secrets did their work on the device: it signed in, and the PIN was typed.
    # The PIN, typed into the email field (not a password field), is on a screen that is kept.
    # The optional `type` of the PIN with no field focused (the home screen has none) fails: its error names none.
    assert [s.status for s in steps] == ["COMPLETED"] * 7 + ["FAILED"] * 2, [(s.params, s.error) for s in steps]
    assert steps[-2].optional and steps[-2].error["message"].startswith("No focused text field")
    assert steps[-1].error["message"].startswith('Expected text "${PASSWORD} and ${PIN}" to be visible')

    artifacts = {"stdout": done.stdout, "stderr": done.stderr, "junit file": junit.read_text()}
    artifacts["html file"] = page.read_text()
    artifacts.update(_everything(Rest(stack.base_url, alice), str(run.pk), str(run.session_id)))
    assert "Welcome, Demo!" in artifacts["stdout"] and "${PASSWORD} and ${PIN}" in artifacts["junit file"]
    database = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":  # the file, with its freed pages and its write-ahead log
        for path in (Path(database), Path(f"{database}-wal")):
            if path.exists() and path.stat().st_size:
                artifacts[f"database file {path.name}"] = path.read_bytes().decode("latin-1")
    for name, text in artifacts.items():
        assert text or name == "stderr", name
        assert PASSWORD not in text, f"{PASSWORD!r} in the {name}"
        assert PIN not in text, f"{PIN!r} in the {name}"


HEADER_FLOW = """\
name: Sign in with a header secret
app: com.cognisim.demo
secrets: [PASSWORD]
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - type: {text: demo@example.com, into: {id: email}}
  - type: {text: "${PASSWORD}", into: {id: password}}
  - tap: {id: sign_in}
  - assert_visible: {text: "Welcome, Demo!"}
  - assert_visible: {text: "${PASSWORD}", timeout_ms: 300}
    optional: true
"""


def test_a_header_secret_takes_its_value_from_the_environment(stack, devices, alice, tmp_path):
    """`secrets: [PASSWORD]` and `PASSWORD=… cognisim run` (no `--secret`, no `-e`): the value is the
    environment variable's, it signs in, and the CLI masks it as it does a `--secret`'s."""
    flow, junit = tmp_path / "pass.yaml", tmp_path / "junit.xml"
    flow.write_text(HEADER_FLOW)
    argv = ["run", str(flow), "--junit", str(junit), "--server", stack.base_url, "--token", alice]
    done = cognisim_run(argv, PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = list(Step.objects.filter(session_id=Run.objects.get().session_id).order_by("index"))
    assert [s.status for s in steps] == ["COMPLETED"] * 5 + ["FAILED"], [(s.params, s.error) for s in steps]
    assert PASSWORD not in json.dumps([s.params for s in steps])
    assert "${PASSWORD}" in junit.read_text()  # the optional step's failure quotes it, masked
    for name, text in {"stdout": done.stdout, "stderr": done.stderr, "junit": junit.read_text()}.items():
        assert PASSWORD not in text, f"{PASSWORD!r} in the {name}"


@pytest.mark.parametrize("how", ["header", "--secret"])
def test_an_empty_secret_is_an_error_naming_it_and_nothing_runs(stack, devices, alice, tmp_path, how):
    """A CI secret that is not set (a fork's pull request, a misspelt name) arrives as an empty variable: its
    checks would test nothing (`assert_not_visible ""` passes), so the run is refused, exit 2."""
    flow = tmp_path / "empty.yaml"
    text = HEADER_FLOW if how == "header" else HEADER_FLOW.replace("secrets: [PASSWORD]\n", "")
    flow.write_text(text)
    argv = ["run", str(flow), "--server", stack.base_url, "--token", alice]
    done = cognisim_run(argv + (["--secret", "PASSWORD"] if how == "--secret" else []), PASSWORD="")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the secret '${PASSWORD}' is empty" in done.stdout + done.stderr
    assert not Run.objects.exists()


SHOT_FLOW = """\
name: A secret on the screen
app: com.cognisim.demo
secrets: [TOKEN]
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - type: {text: "user-${TOKEN}", into: {id: email}}
  - assert_visible: {text: "Nowhere", timeout_ms: 300}
"""
TOKEN = "Sup3rS3cr3tXyz"


def _black(png: bytes, bounds: tuple[int, int, int, int]) -> bool:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.crop(bounds).getextrema() == tuple((c, c) for c in BLACKOUT)


def test_the_failure_screenshot_does_not_show_a_secret(stack, devices, alice, tmp_path):
    """A secret typed into a field the phone shows (not a password field), then a failing step: the failure
    screenshot attached to JUnit, the picture inlined in the HTML report and the screen the API serves show a
    black box where the email field holds it."""
    flow, junit, page = tmp_path / "secret.yaml", tmp_path / "sec.xml", tmp_path / "sec.html"
    flow.write_text(SHOT_FLOW)
    argv = ["run", str(flow), "--secret", "TOKEN", "--junit", str(junit), "--html", str(page)]
    argv += ["--server", stack.base_url, "--token", alice]
    done = cognisim_run(argv, TOKEN=TOKEN)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = Step.objects.get(session_id=Run.objects.get().session_id, index=2)
    screen = Screen.objects.get(session_id=failed.session_id, screen_hash=failed.screen_hash)
    assert "user-${TOKEN}" in screen.ui_xml
    (email,) = [n for n in parse(screen.ui_xml) if n.resource_id.endswith(":id/email")]
    (attachment,) = (tmp_path / "sec-attachments").iterdir()
    inlined = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page.read_text())
    served = Rest(stack.base_url, alice).get(f"/api/sessions/{failed.session_id}/screens/{failed.screen_hash}.png")
    pictures = {"attachment": attachment.read_bytes(), "served": served.body}
    pictures.update({f"html picture {n}": base64.b64decode(data) for n, data in enumerate(inlined)})
    assert inlined
    for name, png in pictures.items():
        assert _black(png, email.bounds), name
