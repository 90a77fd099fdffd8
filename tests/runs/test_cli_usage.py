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
