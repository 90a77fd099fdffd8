"""A bad setting stops `cognisim web`, `worker` and `up` at once: one line naming it, exit 1, no traceback,
and a supervised process that meets one is not restarted (cognisim_site/config.py, docs/settings.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cognisim_site.config import EXIT_CONFIG
from cognisim_site.processes import Supervisor, daphne_argv
from cognisim_site.redis_server import free_port

BAD = [
    ("LEASE_TTL_SECONDS", "-3"),
    ("STEP_DEFAULT_TIMEOUT_MS", "0"),
    ("SECURE_SSL_REDIRECT", "maybe"),
    ("REDIS_URL", "htp://bad"),
    ("SESSION_IDLE_SECONDS", ""),
    ("MAX_ACTIVE_SESSIONS_PER_USER", "abc"),
    ("METRICS_ALLOW_FROM", "notacidr"),
    ("DATABASE_URL", "mysql://cognisim:hunter2@db/cognisim"),
    ("LOG_FORMAT", "yaml"),
    ("SWEEP_INTERVAL_SECONDS", "nan"),
]


def _env(tmp_path, **bad: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["COGNISIM_HOME"] = str(tmp_path)
    return {**env, **bad}


def _cli(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.cli", *command], env=env, capture_output=True, text=True, timeout=60
    )


def _refused(done: subprocess.CompletedProcess[str], name: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cognisim: configuration error: {name}"), lines
    return lines[0]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[name for name, _ in BAD])
def test_web_refuses_a_bad_setting_in_one_line(tmp_path, name, value):
    done = _cli(_env(tmp_path, **{name: value}), "web", "--processes", "2", "--port", str(free_port()))
    line = _refused(done, name)
    assert repr(value.replace("hunter2", "***")) in line and "hunter2" not in line


def test_s3_artifacts_without_boto3_say_what_to_install(tmp_path):
    pytest.importorskip("storages")
    if __import__("importlib").util.find_spec("boto3") is not None:
        pytest.skip("boto3 is installed here")
    line = _refused(
        _cli(_env(tmp_path, ARTIFACTS_S3_BUCKET="bkt"), "worker", "--device", "sim-1"), "ARTIFACTS_S3_BUCKET="
    )
    assert "pip install 'cognisim[s3]'" in line


def test_up_refuses_a_bad_setting_before_it_starts_anything(tmp_path):
    done = _cli(_env(tmp_path, LEASE_TTL_SECONDS="-3"), "up", "--port", str(free_port()), "--sim-devices", "1")
    _refused(done, "LEASE_TTL_SECONDS")
    assert "Started a private Redis" not in done.stdout


def test_good_values_are_taken(tmp_path):
    env = _env(
        tmp_path,
        SECURE_SSL_REDIRECT="On",
        REDIS_URL="rediss://cache.example:6380/1",
        LOG_LEVEL="warning",
        RATE_LIMIT_STEPS="0",
        LANE_LINGER_SECONDS="0",
    )
    code = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.LOG_LEVEL, s.RATE_LIMIT_STEPS)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "WARNING", "0"], done.stderr


def test_a_supervised_process_with_a_bad_setting_stops_its_supervisor(tmp_path):
    """Not restarted for ever: the child exits with EXIT_CONFIG, and `watch` returns naming it."""
    supervisor = Supervisor(log=False)
    env = _env(tmp_path, METRICS_ALLOW_FROM="notacidr")
    try:
        proc = supervisor.start("web", daphne_argv("127.0.0.1", free_port()), env)
        started = time.monotonic()
        supervisor.watch()
        assert supervisor.failed == "web" and proc.returncode == EXIT_CONFIG
        assert supervisor.children["web"].proc is proc, "started once"
        assert time.monotonic() - started < 60
    finally:
        supervisor.stop()
