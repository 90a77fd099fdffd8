"""Flow files through `cognisim run` against the real stack: text is typed as it is written (YAML 1.2's
core schema, as Maestro reads it), `env` on an inline `runFlow` applies inside it, and a flow with
nothing to run passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from runs.models import Run
from sessions.models import Step

ROOT = str(Path(__file__).resolve().parents[2])
SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAESTRO_TEXT = """\
appId: com.cognisim.demo
name: Maestro text as written
env: {PIN: 0123, FLAG: yes}
---
- launchApp: {clearState: true}
- tapOn: {id: email}
- inputText: 0123
- assertVisible: "0123"
- eraseText
- inputText: 12:30
- assertVisible: "12:30"
- eraseText
- inputText: true
- assertVisible: "true"
- eraseText
- inputText: 1.50
- assertVisible: "1.50"
- eraseText
- inputText: ${PIN}-${FLAG}
- assertVisible: 0123-yes
"""
NATIVE_TEXT = """\
name: Native text as written
app: com.cognisim.demo
env: {PIN: 0123, ON: on}
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - type: {text: 0123, into: {id: email}}
  - assert_visible: {text: "0123"}
  - clear_text: {into: {id: email}}
  - type: {text: "${PIN}-${ON}", into: {id: email}}
  - assert_visible: {text: 0123-on}
"""


def cli(stack, token, *argv, timeout=180):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv, "--server", stack.base_url, "--token", token],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def typed(run: Run) -> list[str]:
    return [s.params["text"] for s in Step.objects.filter(session_id=run.session_id, action="type").order_by("index")]


def test_numbers_and_booleans_are_typed_as_written(stack, devices, alice, tmp_path):
    (tmp_path / "maestro.yaml").write_text(MAESTRO_TEXT)
    (tmp_path / "native.yaml").write_text(NATIVE_TEXT)
    junit = tmp_path / "junit.xml"
    done = cli(stack, alice, "run", str(tmp_path), "--junit", str(junit))
    assert done.returncode == 0, done.stdout + done.stderr
    SCHEMA.validate(str(junit))
    runs = {run.name: run for run in Run.objects.all()}
    assert typed(runs["Maestro text as written"]) == ["0123", "12:30", "true", "1.50", "0123-yes"]
    assert typed(runs["Native text as written"]) == ["0123", "0123-on"]

    converted = subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", "convert", str(tmp_path / "maestro.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert converted.returncode == 0, converted.stderr
    for line in ("text: '0123'", "text: '12:30'", "text: 'true'", "text: '1.50'", "PIN: '0123'", "FLAG: 'yes'"):
        assert line in converted.stdout, converted.stdout


INLINE_ENV = """\
appId: com.cognisim.demo
name: Inline env
env: {WORD: outer}
---
- launchApp: {clearState: true}
- runFlow:
    when: {visible: Sign in}
    env: {WORD: inner, ONLY: here}
    commands:
      - tapOn: {id: email}
      - inputText: ${WORD}-${ONLY}
- assertVisible: inner-here
- eraseText
- runFlow:
    env: {WORD: plain}
    commands:
      - inputText: ${WORD}
- assertVisible: plain
- eraseText
- runFlow:
    when: {platform: Android}
    commands:
      - inputText: ${WORD}
- assertVisible: outer
"""
NATIVE_INLINE_ENV = """\
name: Native inline env
app: com.cognisim.demo
env: {WORD: outer}
steps:
  - launch_app: {package: com.cognisim.demo, clear_state: true}
  - run_flow:
      when: {visible: {text: Sign in, index: 0}}
      env: {WORD: inner}
      steps: [{type: {text: "${WORD}", into: {id: email}}}]
  - assert_visible: {text: inner}
  - run_flow: {env: {WORD: plain}, steps: [{type: {text: "${WORD}", into: {id: password}}}]}
  - type: {text: "${WORD}", into: {id: email}}
"""
NOTHING = """\
appId: com.cognisim.demo
name: Nothing on Android
---
- runFlow:
    when: {platform: iOS}
    commands:
      - tapOn: Allow
- hideKeyboard
- waitForAnimationToEnd
"""


def test_inline_run_flow_env_applies_inside_and_a_flow_with_nothing_to_do_passes(stack, devices, alice, tmp_path):
    (tmp_path / "inline.yaml").write_text(INLINE_ENV)
    (tmp_path / "native.yaml").write_text(NATIVE_INLINE_ENV)
    (tmp_path / "nothing.yaml").write_text(NOTHING)
    junit = tmp_path / "junit.xml"
    done = cli(stack, alice, "run", str(tmp_path), "--junit", str(junit))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unknown field" not in done.stdout + done.stderr
    runs = {run.name: run for run in Run.objects.all()}
    assert typed(runs["Inline env"]) == ["plain", "outer"]  # the inner type runs inside the run_flow step
    inner = Step.objects.get(session_id=runs["Inline env"].session_id, action="run_flow")
    assert inner.params["steps"][1] == {"action": "type", "text": "inner-here"}
    assert typed(runs["Native inline env"]) == ["plain", "outer"]
    inner = Step.objects.get(session_id=runs["Native inline env"].session_id, action="run_flow")
    assert inner.params["steps"][0]["text"] == "inner"

    nothing = runs["Nothing on Android"]
    assert (nothing.status, nothing.steps_total) == ("passed", 0)
    assert "0 passed, 0 failed, 0 skipped of 0" in done.stdout, done.stdout
    SCHEMA.validate(str(junit))
    suite = next(s for s in ET.parse(junit).getroot() if s.get("name") == "Nothing on Android")
    (case,) = suite.iter("testcase")
    assert case.find("failure") is None and case.find("error") is None and case.find("skipped") is None


def test_a_control_character_in_a_name_is_refused_before_anything_runs(stack, devices, alice, tmp_path):
    (tmp_path / "esc.yaml").write_text('name: "Red\\x1b[31m"\nsteps:\n  - {screenshot: {}, name: "a\\x01"}\n')
    (tmp_path / "label.yaml").write_text('appId: com.cognisim.demo\n---\n- tapOn: {id: a, label: "go\\x1b[2J"}\n')
    junit = tmp_path / "junit.xml"
    done = cli(stack, alice, "run", str(tmp_path), "--junit", str(junit))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\x01" not in done.stdout + done.stderr
    assert "esc.yaml:1:1: 'name' must not contain control characters (found U+001B)." in done.stderr
    assert "label.yaml:3:18: tapOn: 'label' must not contain control characters (found U+001B)." in done.stderr
    assert not Run.objects.exists()


def test_a_missing_file_is_said_not_to_exist_and_variables_in_paths_are_replaced(stack, devices, alice, tmp_path):
    (tmp_path / "subflows").mkdir()
    (tmp_path / "subflows" / "open.yaml").write_text(
        "appId: com.cognisim.demo\n---\n- launchApp: {clearState: true}\n- assertVisible: {text: Sign in, index: 0}\n"
    )
    missing = tmp_path / "missing.yaml"
    missing.write_text("appId: com.cognisim.demo\n---\n- runFlow: does/not/exist.yaml\n")
    done = cli(stack, alice, "run", str(missing))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was not sent" not in done.stderr and "'files'" not in done.stderr
    assert (
        f"missing.yaml:3:3: step 1 (run_flow): the file 'does/not/exist.yaml' does not exist: "
        f"there is no {tmp_path}/does/not/exist.yaml (a path is relative to the file that names it)." in (done.stderr)
    ), done.stderr

    flow = tmp_path / "vars.yaml"
    flow.write_text(
        "appId: com.cognisim.demo\nname: Paths with variables\nenv: {DIR: nowhere, NAME: open}\n---\n"
        "- runFlow: ${DIR}/${NAME}.yaml\n- runFlow: {file: '${DIR}/open.yaml', env: {X: y}}\n"
    )
    done = cli(stack, alice, "run", str(flow), "-e", "DIR=subflows")
    assert done.returncode == 0, done.stdout + done.stderr
    run = Run.objects.get(name="Paths with variables")
    assert list(run.files) == [f"{tmp_path}/subflows/open.yaml"]
    assert run.steps_total == 6


def test_per_step_names_carry_the_index_and_maestro_limits_name_maestro_fields(stack, devices, alice, tmp_path):
    flow = tmp_path / "labels.yaml"
    flow.write_text(
        "name: Labels\napp: com.cognisim.demo\nsteps:\n"
        "  - launch_app: {package: com.cognisim.demo, clear_state: true}\n"
        "  - assert_visible: {text: Sign in, index: 0}\n"
        "  - assert_visible: {text: Sign in, index: 1}\n"
        "  - retry: {max_attempts: 1, steps: [screenshot]}\n"
        "  - run_flow: {when: {visible: {text: Sign in, index: 0}}, steps: [screenshot]}\n"
    )
    junit = tmp_path / "junit.xml"
    done = cli(stack, alice, "run", str(flow), "--junit", str(junit), "--junit-per-step")
    assert done.returncode == 0, done.stdout + done.stderr
    SCHEMA.validate(str(junit))
    assert [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")] == [
        "launch_app package=com.cognisim.demo clear_state=true",
        "assert_visible text=Sign in index=0",
        "assert_visible text=Sign in index=1",
        "retry up to 1 attempt",
        "run_flow 1 step when visible text=Sign in index=0",
    ]

    maestro = tmp_path / "limits.yaml"
    maestro.write_text(
        "appId: com.cognisim.demo\n---\n- retry: {maxRetries: 20, commands: [back]}\n"
        "- extendedWaitUntil: {visible: A, timeout: 100000000}\n- tapOnn: x\n"
    )
    done = cli(stack, alice, "run", str(maestro))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{maestro}:3:11: retry: 'maxRetries' must be a whole number from 0 to 9, not 20." in done.stderr
    assert f"{maestro}:4:35: extendedWaitUntil: 'timeout' must be a whole number from 1 to 600000" in done.stderr
    assert f"{maestro}:5:3: unknown Maestro command 'tapOnn'." in done.stderr
    assert "max_attempts" not in done.stderr and "timeout_ms" not in done.stderr
