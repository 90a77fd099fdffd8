"""`cognisim up --web-processes N`: N daphne processes accept on one listening socket."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from cognisim_site.processes import daphne_argv, worker_argv
from cognisim_site.redis_server import free_port

pytestmark = pytest.mark.integration


def test_workers_send_heartbeats_and_task_events_when_asked(monkeypatch):
    monkeypatch.delenv("COGNISIM_TASK_EVENTS", raising=False)
    argv = worker_argv("sim-1")
    assert "-E" not in argv and "--without-heartbeat" not in argv  # Flower turns events on while it watches
    monkeypatch.setenv("COGNISIM_TASK_EVENTS", "1")
    assert "-E" in worker_argv("sim-1")


def test_daphne_can_take_an_inherited_socket():
    argv = daphne_argv("127.0.0.1", 8000, fd=7, proxy_headers=True)
    assert argv[argv.index("--fd") + 1] == "7" and "-p" not in argv and "--proxy-headers" in argv


def _get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=60) as reply:  # a web process still starting on a busy machine
        return reply.status, json.loads(reply.read())


def test_up_with_two_web_processes_serves_from_both(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGNISIM_HOME"] = str(tmp_path)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cognisim_site.cli",
            "up",
            "--port",
            str(port),
            "--sim-devices",
            "1",
            "--web-processes",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in up.stdout:
            if "Press Ctrl-C" in line:
                break
            if "CogniSim is up" in line:
                assert "(2 web processes)" in line
        base = f"http://127.0.0.1:{port}"
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(_get(base + "/healthz")[1]["pid"])  # a new connection each time
        assert len(pids) == 2, f"only {pids} answered"
        web_pids = {
            int(p) for p in subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True, text=True).stdout.split()
        }
        assert pids <= web_pids  # both are children of `cognisim up`

        while time.monotonic() < deadline:  # the worker beats: ready
            try:
                status, body = _get(base + "/readyz")
            except urllib.error.HTTPError:
                time.sleep(0.2)
                continue
            assert status == 200 and body["checks"]["workers"]["queues"] == 1
            break
        else:
            pytest.fail("never ready")

        one = sorted(pids)[0]
        os.kill(one, signal.SIGKILL)  # the other keeps serving while the supervisor starts a new one
        for _ in range(20):
            assert _get(base + "/healthz")[1]["pid"] != one
        metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
        assert re.search(r'^cognisim_workers_alive\{queue="device-sim-1"\} 1\.0$', metrics, re.M)
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
