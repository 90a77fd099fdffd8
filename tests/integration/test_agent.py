"""`cognisim agent` against the real adb server, with two simulated phones that speak the adb protocol."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cognisim_site.redis_server import free_port
from devices.adbsim import AdbSimPhone
from devices.adbsim.adbserver import PrivateAdbServer, poll
from sessions.accounts import api_user_create
from sessions.models import TestSession
from tests.integration.test_steps_end_to_end import LOGIN_STEPS
from tests.live import Rest, Socket, step_done, steps_observed, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def worker_running(serial: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"device-{serial}\0".encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def run_login_flow(stack, token, serial):
    session = Rest(stack.base_url, token).post("/api/sessions/", {"device": serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=token)
    wait_ready(sock)
    for step in LOGIN_STEPS:
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        sock.wait_for(step_done(ack["step_id"]), timeout=30)
    sock.close()
    steps = steps_observed(session["id"])  # effects are whole once the screen after each step was read
    return session, [(s.status, s.effect_hash) for s in steps]


@pytest.fixture
def adb_server(tmp_path):
    server = PrivateAdbServer(tmp_path / "adb-home").start()
    yield server
    server.stop()


def test_the_agent_registers_phones_runs_their_workers_and_follows_the_cable(
    stack, devices, alice, adb_server, tmp_path
):
    phones = [AdbSimPhone(f"adbsim-{n}", tmp_path / "phones").start() for n in (1, 2)]
    serials = [adb_server.attach(phone) for phone in phones]
    host_token = api_user_create(username="lab-host", host_agent=True, host="lab-1")
    metrics_port = free_port()
    env = {k: v for k, v in stack.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # the host's own, as on a host
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cognisim_site.cli",
            "agent",
            "--server",
            stack.base_url,
            "--token",
            host_token,
            "--host-name",
            "lab-1",
            "--adb-port",
            str(adb_server.port),
            "--heartbeat",
            "1",
            "--metrics-port",
            str(metrics_port),
        ],
        env=env,
    )
    rest = Rest(stack.base_url, alice)

    def device(serial):
        return next((d for d in rest.get("/api/devices/").body if d["serial"] == serial), None)

    try:
        poll(
            lambda: all((device(s) or {}).get("status") == "available" for s in serials),
            timeout=30,
            what="registration",
        )
        for serial in serials:
            facts = device(serial)
            assert (facts["host"], facts["transport"], facts["model"], facts["os_version"]) == (
                "lab-1",
                "adb",
                "CogniSim Virtual Phone",
                "14",
            )
            assert (facts["screen_width"], facts["screen_height"]) == (1080, 2400)
            assert worker_running(serial)

        on_sim = run_login_flow(stack, alice, devices[0].serial)[1]
        session, on_adb = run_login_flow(stack, alice, serials[0])
        assert on_adb == on_sim  # the same steps, the same effects, through the adb driver
        assert [status for status, _ in on_adb].count("FAILED") == 1  # the deliberate failing assertion
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as reply:
            host_metrics = reply.read().decode()  # the host's workers' steps, which the server cannot see
        assert "cognisim_agent_devices 2.0" in host_metrics
        assert 'cognisim_steps_total{action="assert_visible",status="FAILED"} 1.0' in host_metrics

        phones[0].stop()  # pull the cable
        poll(lambda: device(serials[0])["status"] == "offline", timeout=15, what="the phone to go offline")
        poll(lambda: not worker_running(serials[0]), timeout=15, what="its worker to stop")
        paused = TestSession.objects.get(pk=session["id"])
        assert paused.status == "IDLE" and paused.error["code"] == "device_offline"
        assert "unplugged" in paused.error["message"]
        assert device(serials[1])["status"] == "available" and worker_running(serials[1])

        phones[0].start()  # plug it back
        adb_server.detach(phones[0])
        adb_server.attach(phones[0])
        poll(lambda: device(serials[0])["status"] == "available", timeout=30, what="the phone to come back")
        poll(lambda: worker_running(serials[0]), timeout=15, what="its worker to start again")
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        for phone in phones:
            phone.stop()
    assert not any(worker_running(serial) for serial in serials)
