"""No user can starve another: caps on waiting sessions and runs in flight (issue 17, finding 4)."""

from __future__ import annotations

import json
import time

import pytest

from runs.models import Run, WebhookDelivery
from sessions.models import TestSession
from tests.runs.test_cli_runs import LOGIN
from tests.runs.test_saved_flows import as_meta, sign

pytestmark = pytest.mark.django_db


def post(client, path, token, body):
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    return client.post(path, data=json.dumps(body), content_type="application/json", **auth)


def test_waiting_sessions_are_capped_per_user_and_the_error_names_the_cap(client, alice, bob, settings):
    settings.MAX_WAITING_SESSIONS_PER_USER = 3  # no device is registered: every session waits
    for _ in range(3):
        assert post(client, "/api/sessions/", alice, {"queue": True}).status_code == 201
    reply = post(client, "/api/sessions/", alice, {"queue": True})
    assert (reply.status_code, reply.json()["code"], reply.json()["limit"]) == (429, "waiting_limit", 3)
    assert "waiting" in reply.json()["message"]
    assert post(client, "/api/sessions/", bob, {"queue": True}).status_code == 201  # others are not starved
    assert TestSession.objects.filter(owner__username="alice").count() == 3


def test_runs_in_flight_are_capped_per_user_webhooks_included(client, alice, bob, settings):
    settings.MAX_RUNS_IN_FLIGHT_PER_USER = 2
    for _ in range(2):
        assert post(client, "/api/runs/", alice, {"flow": LOGIN}).status_code == 201
    reply = post(client, "/api/runs/", alice, {"flow": LOGIN})
    assert (reply.status_code, reply.json()["code"], reply.json()["limit"]) == (429, "run_limit", 2)
    assert post(client, "/api/runs/", bob, {"flow": LOGIN}).status_code == 201

    created = post(client, "/api/flows/", alice, {"flow": LOGIN}).json()
    body = b"{}"
    headers = as_meta(sign(created["webhook_secret"], body, delivery="retry-me"))
    path = f"/api/flows/{created['id']}/trigger/"
    refused = client.post(path, data=body, content_type="application/json", **headers)
    assert (refused.status_code, refused.json()["code"]) == (429, "run_limit")
    assert not WebhookDelivery.objects.exists()  # a delivery that started nothing may be sent again

    running = Run.objects.filter(owner__username="alice").first()
    assert post(client, f"/api/runs/{running.pk}/stop/", alice, {}).status_code == 200
    again = client.post(path, data=body, content_type="application/json", **headers)
    assert again.status_code == 201, again.json()
    assert Run.objects.filter(owner__username="alice").count() == 3


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_socket_flooding_messages_gets_rate_limited_errors_and_stays_open(stack, devices, alice):
    from tests.live import Rest, Socket, session_status

    session = Rest(stack.base_url, alice).post("/api/sessions/", {"device": devices[0].serial}).body
    sock = Socket(stack.ws_url(session["id"], "last_seq=0"), token=alice)
    sock.wait_for(session_status("READY"))
    for n in range(200):
        sock.send({"type": "PING", "request_id": n})
    replies = [sock.wait_for(lambda m: m.get("type") in ("PONG", "ERROR")) for _ in range(200)]
    limited = [r for r in replies if r["type"] == "ERROR"]
    assert limited and all(r["code"] == "rate_limited" and r["retry_after_ms"] > 0 for r in limited)
    assert sorted(r["request_id"] for r in replies) == list(range(200))  # every frame answered, none lost silently
    assert sum(r["type"] == "PONG" for r in replies) >= 60  # the burst passes
    time.sleep(limited[-1]["retry_after_ms"] / 1000)  # the socket's own deadline, as a client would wait
    sock.send({"type": "PING", "request_id": "after"})
    assert sock.wait_for(lambda m: m.get("request_id") == "after")["type"] == "PONG"
    sock.close()


def test_the_token_bucket_allows_a_burst_then_the_rate(monkeypatch):
    from core import ratelimit

    now = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    bucket = ratelimit.TokenBucket(rate=10, burst=3)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.1)
    now[0] += 0.11
    assert bucket.take() == 0 and bucket.take() > 0
    now[0] += 100
    assert [bucket.take() for _ in range(4)][:3] == [0, 0, 0]
