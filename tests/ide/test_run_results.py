"""A failed CI run on the home page and in its session's error, as `cognisim run` reads it: the failed step
counted ("1 of 7 failed", not "setup failed") and numbered from 1 (the CLI's "step 5")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from runs.models import Run
from tests.runs.test_cli_runs import cli, write

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NATIVE = """\
name: Fails at five
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - assert_visible: {text: Sign in, index: 0}
  - press_key: {key: volume_up}
  - press_key: {key: volume_up}
  - assert_visible: {text: Nothing like this}
  - press_key: {key: volume_up}
  - screenshot
"""

MAESTRO = """\
appId: com.cognisim.demo
name: Maestro fails at three
---
- launchApp:
    clearState: true
- assertVisible: Nothing like this
- back
"""

RETRY = """\
name: Retry fails
app: com.cognisim.demo
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - retry:
      max_attempts: 2
      steps:
        - assert_visible: {text: Nothing like this}
  - screenshot
"""


@pytest.mark.parametrize(
    ("name", "text", "step", "steps"),
    # launchApp with clearState is two steps here (stop_app, launch_app): the Maestro flow fails at step 3 of 4.
    [("native.yaml", NATIVE, 5, 7), ("maestro.yaml", MAESTRO, 3, 4), ("retry.yaml", RETRY, 2, 3)],
)
def test_a_failed_run_reads_as_its_failed_steps_numbered_from_1(
    stack: Any, devices: Any, alice: str, tmp_path: Any, client: Any, name: str, text: str, step: int, steps: int
) -> None:
    done = cli(stack, alice, "run", write(tmp_path, name, text), "--device", devices[0].serial)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"^\s+step {step} \(", done.stdout, re.MULTILINE), done.stdout  # the CLI's summary

    session = Run.objects.get().session
    assert session.status == "FAILED"
    assert session.error["message"].startswith(f"Step {step} failed: "), session.error
    assert session.error["step_index"] == step - 1  # the API's index stays 0-based

    client.force_login(get_user_model().objects.get(username="alice"))
    html = client.get("/").content.decode()
    row = html[html.index(f'href="/sessions/{session.pk}/"') :]
    result = re.search(r'<td data-label="Result" class="result"><span class="(\w+)">([^<]*)</span>', row)
    assert result is not None and result.groups() == ("bad", f"1 of {steps} failed"), row[:2000]
