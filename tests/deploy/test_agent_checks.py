"""`cognisim agent` stops before it starts anything on a bad setting or server URL, and stops when the server
refuses its token (a 401 or 403 does not fix itself): one line that says so, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cognisim_site.redis_server import free_port

BAD = [
    ("DEBUG", "maybe"),
    ("REDIS_URL", "http://x"),
    ("DATABASE_URL", "mysql://x"),
    ("LEASE_TTL_SECONDS", "-3"),
    ("LOG_FORMAT", "yaml"),
]


def _agent(env: dict[str, str], server: str, token: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    argv = ["agent", "--server", server, "--token", token, "--adb-port", str(free_port()), "--heartbeat", "0.5"]
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.cli", *argv], env=env, capture_output=True, text=True, timeout=timeout
    )


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return {**env, "COGNISIM_HOME": str(tmp_path), **extra}


@pytest.mark.parametrize(("name", "value"), BAD, ids=[name for name, _ in BAD])
def test_a_bad_setting_stops_the_agent_before_it_starts(tmp_path, name, value):
    done = _agent(_env(tmp_path, **{name: value}), "http://127.0.0.1:9", "t0k3n", timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cognisim: configuration error: {name} must be"), lines


@pytest.mark.parametrize("server", ["notaurl", "http://", "ftp://host", "http://host:port"])
def test_a_server_that_is_not_a_url_is_a_usage_error(tmp_path, server):
    done = _agent(_env(tmp_path), server, "t0k3n", timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"argument --server: must be a URL starting with http:// or https:// and a host, got {server!r}" in (
        done.stderr
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["unknown", "not-a-host-agent"])
def test_a_refused_token_stops_the_agent(stack, alice, kind):
    token = {"unknown": "0" * 40, "not-a-host-agent": alice}[kind]
    done = _agent(dict(stack.env), stack.base_url, token)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    code = {"unknown": 401, "not-a-host-agent": 403}[kind]
    assert last.startswith(f"cognisim agent: the server refused this agent's token ({code} on /api/devices/"), last
    assert "host agent's token of its own" in last
