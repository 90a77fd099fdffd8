"""Faults of the devices and their workers, against real processes: an infrastructure fault pauses or retries,
it never reads as a failed test."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings

from devices.drivers.sim import SimDriver, set_sim_faults
from devices.models import Device
from sessions.models import SessionEvent, Step, TestSession
from sessions.recovery import sessions_resume_paused
from tests.live import Rest, Socket, run_until_done, session_status, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SLEEP_THEN_TAP = """name: Sleep then tap
steps:
  - sleep: {ms: 1500}
  - tap: {x: 41, y: 42}
  - tap: {x: 43, y: 44}
"""


def test_a_device_unreachable_through_every_retry_pauses_the_run_which_resumes_and_passes(stack, devices, alice):
    serial = devices[0].serial
    rest = Rest(stack.base_url, alice)
    run = rest.post("/api/runs/", {"flow": SLEEP_THEN_TAP, "device": serial})
    assert run.status == 201, run.body
    sock = Socket(stack.ws_url(run.body["session_id"], "last_seq=0"), token=alice)
    sock.wait_for(lambda m: m.get("type") == "STEP_STATUS" and m["status"] == "STARTED", timeout=90)
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, fail_next=4)  # the tap and its 3 retries find no phone

    paused = sock.wait_for(session_status("IDLE"), timeout=90)
    assert paused["error"]["code"] == "device_offline" and serial in paused["error"]["message"], paused
    report = run_until_done(Rest(stack.base_url, alice), run.body["id"], timeout=180)
    assert report["status"] == "passed", report  # resumed on its own once the device answered again

    log = SimDriver(serial, settings.SIM_DEVICE_DIR).action_log()
    assert [(e["args"]["x"], e["args"]["y"]) for e in log if e["op"] == "tap"] == [(41, 42), (43, 44)]  # once each
    tap = Step.objects.get(session_id=run.body["session_id"], index=1)
    assert tap.status == "COMPLETED"
    statuses = [
        e.payload["status"]
        for e in SessionEvent.objects.filter(session_id=run.body["session_id"], type="STEP_STATUS").order_by("seq")
        if e.payload.get("step_id") == tap.pk
    ]
    assert "ERROR" not in statuses and statuses.count("RETRYING") >= 3, statuses


def test_a_transient_transport_fault_during_setup_is_retried(stack, devices, alice):
    serial = devices[0].serial
    set_sim_faults(serial, settings.SIM_DEVICE_DIR, fail_next=2)
    reply = Rest(stack.base_url, alice).post("/api/sessions/", {"device": serial})
    assert reply.status == 201, reply.body
    sock = Socket(stack.ws_url(reply.body["id"], "last_seq=0"), token=alice)
    wait_ready(sock, timeout=90)
    assert not [m for m in sock.events() if m.get("type") == "SESSION_STATUS" and m["status"] == "FAILED"]


TAP_SLEEP_TAP = """name: Tap, sleep, tap
steps:
  - tap: {x: 71, y: 1}
  - sleep: {ms: 3000}
  - tap: {x: 72, y: 1}
"""


def taps(serial):
    return [e["args"]["x"] for e in SimDriver(serial, settings.SIM_DEVICE_DIR).action_log() if e["op"] == "tap"]


@pytest.mark.timeout(600)
def test_a_hung_worker_pauses_its_run_which_waits_for_its_device_and_goes_on_there(stack, devices, alice):
    """SIGSTOP the device's worker mid-step: its lease lapses and the step is queued again, but only that worker
    consumes the device's queue. With no heartbeat for WORKER_LOST_SECONDS the device goes offline and the run
    pauses. It does not move to the free phone beside it (its later steps would meet a phone in another state:
    a failure that is not the app's, QA): it goes on on its own device once that is back, and the result the
    woken worker still had for the step it was running is dropped (fenced out)."""
    serial = devices[0].serial
    rest = Rest(stack.base_url, alice)
    run = rest.post("/api/runs/", {"flow": TAP_SLEEP_TAP, "device": serial})
    assert run.status == 201, run.body
    sock = Socket(stack.ws_url(run.body["session_id"], "last_seq=0"), token=alice)
    sock.wait_for(lambda m: m.get("step_index") == 1 and m.get("status") == "STARTED", timeout=90)
    pid = stack.supervisor.pid(serial)
    os.kill(pid, signal.SIGSTOP)
    try:
        paused = sock.wait_for(session_status("IDLE"), timeout=300)
        assert paused["error"]["code"] == "device_offline" and "No worker" in paused["error"]["message"], paused
        assert "goes on by itself once its device is back" in paused["error"]["message"], paused
        assert sessions_resume_paused() == 0  # the sweeper's pass, now: the free phone beside it is not taken
        assert Device.objects.get(serial=devices[1].serial).status == "available"
    finally:
        os.kill(pid, signal.SIGCONT)
    report = run_until_done(rest, run.body["id"], timeout=180)
    assert report["status"] == "passed", report
    assert TestSession.objects.get(pk=run.body["session_id"]).device.serial == serial
    assert taps(serial) == [71, 72] and taps(devices[1].serial) == []
    sleep = Step.objects.get(session_id=run.body["session_id"], index=1)
    assert sleep.status == "COMPLETED" and sleep.attempt >= 2
    ends = [
        e.payload["status"]
        for e in SessionEvent.objects.filter(session_id=run.body["session_id"], type="STEP_STATUS")
        if e.payload.get("step_id") == sleep.pk and e.payload["status"] in ("COMPLETED", "ERROR")
    ]
    assert ends == ["COMPLETED"]  # the woken worker's late result was dropped
