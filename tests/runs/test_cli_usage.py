"""`cognisim run` / `replay` usage errors found before any request: exit 2 with a message, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def cognisim(*argv: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.runcli", *argv], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.mark.parametrize("server", ["notaurl", "127.0.0.1:8123", "ftp://host", "http://", "http://[::1", "http://h:x"])
@pytest.mark.parametrize("command", ["run", "replay"])
def test_a_server_that_is_not_a_url_exits_2_saying_what_to_give(tmp_path, command, server):
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: x\nsteps:\n  - screenshot\n")
    done = cognisim(command, str(flow), "--server", server, "--token", "t")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"--server {server!r} is not a URL" in done.stderr and "--server http://127.0.0.1:8000" in done.stderr


def test_convert_reports_every_problem_of_a_maestro_file_with_its_line(tmp_path):
    flow = tmp_path / "bad.yaml"
    flow.write_text("appId: com.example\n---\n- launchApp\n- tapOn: {colour: red}\n- fooBar: 1\n")
    done = cognisim("convert", str(flow))
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    lines = done.stderr.splitlines()
    # in the order of the file:
    assert lines[0] == f"{flow}:4:10: tapOn: the selector needs text, id, a state or a relation."
    assert f"{flow}:4:11: tapOn: unknown selector field 'colour'." in lines
    assert f"{flow}:5:3: unknown Maestro command 'fooBar'." in lines and "Traceback" not in done.stderr


def test_convert_refuses_what_run_refuses_and_keeps_variables_given_at_run_time(tmp_path):
    flow = tmp_path / "app.yaml"
    flow.write_text('appId: com.example\n---\n- launchApp: {appId: "bad id"}\n- inputText: ${USER}\n')
    done = cognisim("convert", str(flow))
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert f"{flow}:3:3: step 2 (launch_app): 'package' is not a valid Android package name" in done.stderr
    assert "USER" not in done.stderr  # a variable's value comes with -e when the flow runs

    flow.write_text("appId: com.example\n---\n- launchApp\n- inputText: ${USER}\n")
    done = cognisim("convert", str(flow))
    assert done.returncode == 0, done.stderr
    assert "package: com.example" in done.stdout and "text: ${USER}" in done.stdout
