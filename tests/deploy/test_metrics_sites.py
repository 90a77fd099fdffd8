"""Metrics are observed where things end, in the process that ends them, and show in the web's /metrics."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from prometheus_client import generate_latest

from cognisim_site.health import metrics_registry
from sessions.lane.drain import steps_requeue_lost
from sessions.models import Step, TestSession
from tests.live import Rest, Socket, wait_ready

FLOW = """\
name: Fails at step two
steps:
  - press_key: {key: home}
  - assert_visible: {text: Nothing like this is on screen, timeout_ms: 300}
  - long_press: {x: 10, y: 10}
"""


def samples() -> dict[str, float]:
    text = generate_latest(metrics_registry()).decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def grew(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0) - before.get(name, 0)


def planned(values: dict[str, float]) -> float:
    prefix = 'cognisim_turn_planning_seconds_count{brain="offline",'
    return sum(value for name, value in values.items() if name.startswith(prefix))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_steps_runs_and_turns_are_counted_by_the_workers_that_end_them(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    before = samples()
    run = rest.post("/api/runs/", {"flow": FLOW, "device": devices[0].serial})
    assert run.status == 201, run.body
    deadline = time.monotonic() + 120
    while rest.get(f"/api/runs/{run.body['id']}/").body["status"] == "running":
        assert time.monotonic() < deadline, "the run has no verdict"
        time.sleep(0.2)

    session = rest.post("/api/sessions/", {"device": devices[1].serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    wait_ready(sock)
    sock.send({"type": "CHAT", "text": "bake me a cake"})
    sock.wait_for(lambda m: m.get("type") == "AGENT_MESSAGE", timeout=60)
    sock.close()

    after = samples()
    assert grew(before, after, 'cognisim_steps_total{action="press_key",status="COMPLETED"}') == 1
    assert grew(before, after, 'cognisim_steps_total{action="assert_visible",status="FAILED"}') == 1
    assert grew(before, after, 'cognisim_steps_total{action="long_press",status="CANCELLED"}') == 1  # never ran
    assert grew(before, after, 'cognisim_step_seconds_count{action="press_key",phase="on_device"}') == 1
    assert grew(before, after, 'cognisim_step_seconds_count{action="long_press",phase="on_device"}') == 0
    assert grew(before, after, 'cognisim_run_verdicts_total{kind="flow",verdict="failed"}') == 1
    assert planned(after) - planned(before) == 1


@pytest.mark.django_db
def test_a_lost_step_whose_retries_are_spent_is_counted_failed_once_committed(django_capture_on_commit_callbacks):
    owner = get_user_model().objects.create(username="lost-step-owner")
    session = TestSession.objects.create(owner=owner, status=TestSession.Status.CANCELLED)
    step = Step.objects.create(
        session=session, index=0, action="swipe", params={}, status=Step.Status.RUNNING, timeout_ms=1000
    )
    name = 'cognisim_steps_total{action="swipe",status="FAILED"}'
    before = samples()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        steps_requeue_lost(step)
    assert grew(before, samples(), name) == 0  # not before the transaction commits
    for callback in callbacks:
        callback()
    assert grew(before, samples(), name) == 1
