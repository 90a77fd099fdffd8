"""`/healthz`, `/readyz` and `/metrics` on the real database and the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from cognisim_site import health
from core import metrics
from devices.models import Device
from devices.services import device_register_sim
from devices.workers import registry_redis, worker_beat, worker_gone, workers_alive, workers_key
from sessions.accounts import api_user_create
from sessions.models import TestSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_readiness(settings):
    settings.READYZ_CACHE_SECONDS = 0
    health._cached = None
    yield
    health._cached = None


@pytest.fixture
def serial():
    name = f"h{os.getpid()}-1"
    yield name
    registry_redis().delete(f"device-{name}")
    worker_gone(node="w@test", queues=[f"device-{name}"])


def test_healthz_answers_without_auth_or_backends(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok", "pid": os.getpid()}


def test_readyz_needs_a_live_worker_for_every_device_that_is_not_offline(client, serial):
    Device.objects.create(serial=f"{serial}-gone", status=Device.Status.OFFLINE)  # needs no worker
    assert client.get("/readyz").status_code == 200  # no device at all: nothing to wait for

    device_register_sim(serial=serial)
    reply = client.get("/readyz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "not_ready" and body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    workers = body["checks"]["workers"]
    assert not workers["ok"] and workers["error"] == f"RuntimeError: no live worker on device-{serial}"

    worker_beat(node="w@test", queues=[f"device-{serial}"])
    reply = client.get("/readyz")
    assert reply.status_code == 200 and reply.json()["checks"]["workers"]["queues"] == 1

    worker_gone(node="w@test", queues=[f"device-{serial}"])
    assert client.get("/readyz").status_code == 503


def test_readyz_is_cached_for_a_few_seconds(client, serial, settings):
    settings.READYZ_CACHE_SECONDS = 60
    device_register_sim(serial=serial)
    assert client.get("/readyz").status_code == 503
    worker_beat(node="w@test", queues=[f"device-{serial}"])
    assert client.get("/readyz").status_code == 503  # the cached answer
    health._cached = None
    assert client.get("/readyz").status_code == 200


def test_a_beat_older_than_three_intervals_is_not_alive(serial, settings):
    settings.WORKER_BEAT_SECONDS = 1
    queue = f"device-{serial}"
    registry_redis().zadd(workers_key(queue), {"w@test": timezone.now().timestamp() - 5})
    assert workers_alive([queue]) == {queue: 0}
    worker_beat(node="w@test", queues=[queue])
    assert workers_alive([queue]) == {queue: 1}


def test_metrics_are_refused_without_the_token_from_elsewhere(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    reply = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert reply.status_code == 403 and reply.json()["code"] == "forbidden"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # METRICS_ALLOW_FROM: loopback


def test_metrics_without_a_token_answer_only_the_allowed_networks(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def _samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_gauges_are_read_at_scrape_time(client, serial):
    device = device_register_sim(serial=serial)
    api_user_create(username="metrics-owner")
    owner = get_user_model().objects.get(username="metrics-owner")
    TestSession.objects.create(owner=owner, device=device, status=TestSession.Status.RUNNING)
    TestSession.objects.create(owner=owner, status=TestSession.Status.COMPLETED)
    TestSession.objects.create(owner=owner, status=TestSession.Status.COMPLETED)
    registry_redis().rpush(f"device-{serial}", "a", "b", "c")
    worker_beat(node="w@test", queues=[f"device-{serial}"])

    samples = _samples(client.get("/metrics").content.decode())
    assert samples['cognisim_sessions{status="RUNNING"}'] == 1
    assert samples['cognisim_sessions{status="COMPLETED"}'] == 2
    assert samples['cognisim_sessions{status="IDLE"}'] == 0
    assert samples['cognisim_devices{state="available",transport="sim"}'] == 1
    assert samples[f'cognisim_queue_depth{{queue="device-{serial}"}}'] == 3
    assert samples[f'cognisim_workers_alive{{queue="device-{serial}"}}'] == 1


def test_a_finished_step_is_counted_with_its_three_phases():
    now = timezone.now()
    step = SimpleNamespace(
        action="tap",
        status="COMPLETED",
        queued_at=now - timedelta(seconds=0.5),
        started_at=now - timedelta(seconds=0.2),
        finished_at=now,
    )
    count = metrics.STEPS.labels(action="tap", status="COMPLETED")._value.get()
    sums = {p: metrics.STEP_SECONDS.labels(action="tap", phase=p)._sum.get() for p in metrics.PHASES}
    metrics.step_finished(step=step)
    assert metrics.STEPS.labels(action="tap", status="COMPLETED")._value.get() == count + 1
    added = {p: metrics.STEP_SECONDS.labels(action="tap", phase=p)._sum.get() - sums[p] for p in metrics.PHASES}
    assert added == pytest.approx({"queue_wait": 0.3, "on_device": 0.2, "total": 0.5})

    never_ran = SimpleNamespace(action="tap", status="CANCELLED", queued_at=now, started_at=None, finished_at=now)
    waits = metrics.STEP_SECONDS.labels(action="tap", phase="queue_wait")._sum.get()
    metrics.step_finished(step=never_ran)
    assert metrics.STEP_SECONDS.labels(action="tap", phase="queue_wait")._sum.get() == waits


def test_metrics_from_other_processes_are_added_up(client):
    """Workers and the scheduler are other processes: what they observe shows in the web's /metrics."""
    observe = textwrap.dedent(
        """
        from core import metrics
        metrics.sweeper_recovered(done={"steps_recover_orphans": 2, "work_redispatch": 0})
        metrics.run_ended(kind="flow", verdict="passed")
        metrics.turn_planned(brain="offline", outcome="planned", seconds=0.004)
        """
    )
    before = _samples(client.get("/metrics").content.decode())
    for _ in range(2):
        subprocess.run([sys.executable, "-c", observe], check=True, env=dict(os.environ), timeout=60)
    after = _samples(client.get("/metrics").content.decode())
    orphans = 'cognisim_sweeper_recoveries_total{duty="steps_recover_orphans"}'
    passed = 'cognisim_run_verdicts_total{kind="flow",verdict="passed"}'
    planned = 'cognisim_turn_planning_seconds_count{brain="offline",outcome="planned"}'
    assert after[orphans] - before.get(orphans, 0) == 4
    assert after[passed] - before.get(passed, 0) == 2
    assert after[planned] - before.get(planned, 0) == 2
    assert 'cognisim_sweeper_recoveries_total{duty="work_redispatch"}' not in after
