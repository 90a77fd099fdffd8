"""The commands refuse what cannot work before they start anything: one line, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return {**env, "COGNISIM_HOME": str(tmp_path), **extra}


def _cli(env: dict[str, str], *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cognisim_site.cli", *command], env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [("up", "--sim-devices", "1"), ("web",), ("web", "--processes", "2")],
    ids=["up", "web", "web-2-processes"],
)
def test_a_port_in_use_is_refused_before_anything_starts(tmp_path, busy_port, command):
    done = _cli(_env(tmp_path), *command, "--port", str(busy_port))
    line = _one_line(done)
    assert line == (
        f"cognisim {command[0]}: port {busy_port} on 127.0.0.1 is in use by another process; "
        "stop it or choose another with --port"
    )
    assert "Started a private Redis" not in done.stdout and "CogniSim is up" not in done.stdout
    assert not (tmp_path / "demo_password").exists() and not (tmp_path / "db.sqlite3").exists()


@pytest.mark.parametrize("processes", ["0", "-1", "65", "100000", "two"])
@pytest.mark.parametrize("option", [("web", "--processes"), ("up", "--web-processes")], ids=["web", "up"])
def test_web_processes_are_bounded(tmp_path, option, processes):
    done = _cli(_env(tmp_path), *option, processes)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"argument {option[1]}: must be a number of processes from 1 to 64, got '{processes}'" in done.stderr


@pytest.mark.parametrize("phones", ["-1", "65", "2.5", "two"])
def test_simulated_phones_are_bounded(tmp_path, phones):
    """`up --sim-devices -1` started a stack with no phone and said nothing (QA)."""
    done = _cli(_env(tmp_path), "up", "--sim-devices", phones)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"argument --sim-devices: must be a number of phones from 0 to 64, got '{phones}'" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_probe_of_a_worker_without_redis_says_so_in_one_line(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _cli(_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0"), "probe", "--worker", "control")
    line = _one_line(done)
    assert line.startswith("control: Redis unreachable (") and f"127.0.0.1:{port}" in line, line


@pytest.mark.parametrize(
    ("key", "warned"),
    [(None, "is not set"), ("short-key", "has 9 characters"), ("k" * 64, None)],
    ids=["missing", "short", "good"],
)
def test_a_server_on_postgresql_without_a_shared_secret_key_is_warned(tmp_path, busy_port, key, warned):
    """Each host would make its own key: the sessions' sealed secrets unreadable on the others."""
    env = _env(tmp_path, DATABASE_URL="postgres://cognisim@127.0.0.1:5432/cognisim")
    env.pop("SECRET_KEY", None)
    if key is not None:
        env["SECRET_KEY"] = key
    done = _cli(env, "web", "--port", str(busy_port))  # warns, then stops at the busy port
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"cognisim web: port {busy_port} "), lines
    if warned is None:
        assert len(lines) == 1, lines
    else:
        assert len(lines) == 2 and lines[0].startswith(f"cognisim: warning: SECRET_KEY {warned} "), lines
        assert "at least 50 characters" in lines[0] and "on every process" in lines[0]


def test_a_local_install_keeps_its_own_key_without_a_warning(tmp_path, busy_port):
    env = _env(tmp_path)
    env.pop("SECRET_KEY", None)
    done = _cli(env, "web", "--port", str(busy_port))
    assert "warning" not in done.stderr and _one_line(done).startswith("cognisim web: port"), done.stderr
