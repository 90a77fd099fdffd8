"""Auto-wait through `cognisim run` against the real stack: a step that gives `timeout_ms` (Maestro's
`extendedWaitUntil … timeout`) waits that long for its element, past the 5 s default."""

from __future__ import annotations

import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from runs.models import Run
from sessions.models import Step

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAESTRO = """\
appId: com.cognisim.demo
name: Waits its own timeout
---
- launchApp: {clearState: true}
- extendedWaitUntil:
    visible: Sign in
    timeout: 7000
- extendedWaitUntil:
    notVisible: {id: sign_in}
    timeout: 6500
"""


def test_a_given_timeout_is_the_element_wait_not_the_default(stack, devices, alice, tmp_path):
    flow, junit = tmp_path / "waits.yaml", tmp_path / "junit.xml"
    flow.write_text(MAESTRO)
    done = subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", "run", str(flow), "--junit", str(junit)]
        + ["--server", stack.base_url, "--token", alice],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (case,) = ET.parse(junit).getroot().iter("testcase")
    failure = case.find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert "assert_not_visible" in message and "waits.yaml:8" in message, message
    assert 'but it is still at' in message and "after 6500 ms." in message, message
    run = Run.objects.get()
    step = Step.objects.get(session_id=run.session_id, action="assert_not_visible")
    assert step.params["timeout_ms"] == 6500 and step.timeout_ms == 11_500
