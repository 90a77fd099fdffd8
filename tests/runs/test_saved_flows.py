"""Saved flows: creation with line-numbered errors, the signed webhook, and cron-scheduled runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from rest_framework.authtoken.models import Token

from runs.models import Run, SavedFlow, WebhookDelivery
from runs.services import flows_schedule_due, saved_flow_create
from sessions.models import TestSession
from tests.live import Rest
from tests.runs.test_cli_runs import LOGIN, wait_run

pytestmark = pytest.mark.django_db(transaction=True)


def sign(secret: str, body: bytes, *, timestamp: int | None = None, delivery: str | None = None) -> dict[str, str]:
    """The three headers of a signed delivery (docs/ci.md)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    delivery = delivery or str(uuid.uuid4())
    message = f"{timestamp}.{delivery}.".encode() + body
    return {
        "X-CogniSim-Timestamp": str(timestamp),
        "X-CogniSim-Delivery": delivery,
        "X-CogniSim-Signature": "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(),
    }


def as_meta(headers: dict[str, str]) -> dict[str, str]:
    """Headers as the Django test client takes them."""
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def call(client, method, path, token, body=None):
    return getattr(client, method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


def hook(base_url: str, flow_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/api/flows/{flow_id}/trigger/", data=body, method="POST")
    for key, value in {"Content-Type": "application/json", **headers}.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_flow_is_saved_with_its_secret_shown_once(client, alice):
    reply = call(
        client, "post", "/api/flows/", alice, {"flow": LOGIN, "filename": "login.yaml", "cron": "0  3 * * 1-5"}
    )
    assert reply.status_code == 201, reply.json()
    created = reply.json()
    assert created["name"] == "Sign in" and created["cron"] == "0 3 * * 1-5" and created["enabled"] is True
    assert created["webhook_secret"].startswith("whsec_")
    assert created["trigger_url"] == f"http://testserver/api/flows/{created['id']}/trigger/"
    shown = call(client, "get", f"/api/flows/{created['id']}/", alice).json()
    assert "webhook_secret" not in shown and shown["id"] == created["id"]
    listed = call(client, "get", "/api/flows/", alice).json()
    assert [f["id"] for f in listed] == [created["id"]] and "webhook_secret" not in listed[0]
    stored = SavedFlow.objects.get()
    assert created["webhook_secret"] not in json.dumps(
        [getattr(stored, f.attname) for f in SavedFlow._meta.fields], default=str
    )

    again = call(client, "post", "/api/flows/", alice, {"flow": LOGIN})
    assert again.status_code == 409 and again.json()["code"] == "flow_exists"
    assert call(client, "delete", f"/api/flows/{created['id']}/", alice).status_code == 204
    assert call(client, "get", f"/api/flows/{created['id']}/", alice).status_code == 404


def test_a_flow_belongs_to_its_owner(client, alice, bob):
    flow_id = call(client, "post", "/api/flows/", alice, {"flow": LOGIN}).json()["id"]
    for method, path in (("get", ""), ("delete", ""), ("post", "run/")):
        assert call(client, method, f"/api/flows/{flow_id}/{path}", bob).status_code == 404
    assert SavedFlow.objects.filter(pk=flow_id).exists() and not Run.objects.exists()


def test_an_invalid_flow_or_cron_is_refused_with_line_numbers_and_nothing_saved(client, alice):
    bad = "name: x\nsteps:\n  - screenshot\n  - tapp: {text: OK}\n  - sleep:\n      ms: soon\n"
    reply = call(client, "post", "/api/flows/", alice, {"flow": bad, "filename": "bad.yaml"})
    assert reply.status_code == 400
    body = reply.json()
    assert body["code"] == "invalid_flow"
    assert [e["line"] for e in body["errors"]] == [4, 6], body
    assert body["errors"][0]["text"].startswith("bad.yaml:4:5: step 2: unknown action 'tapp'.")
    assert body["errors"][1]["text"] == "bad.yaml:6:7: step 3 (sleep): 'ms' must be an integer."
    assert body["errors"][1]["column"] == 7 and body["errors"][1]["file"] == "bad.yaml"
    assert body["message"].startswith("bad.yaml:4:5: ") and body["message"].endswith("(and 1 more)")

    reply = call(client, "post", "/api/flows/", alice, {"flow": LOGIN, "cron": "61 * * * *"})
    assert reply.status_code == 400
    assert reply.json() == {"code": "invalid_cron", "message": "cron: minute: 61 is outside 0-59", "field": "cron"}
    reply = call(client, "post", "/api/flows/", alice, {"flow": LOGIN, "cron": "0 0 31 2 *"})
    assert reply.status_code == 400 and reply.json()["message"] == "cron: never fires: no day 31 in February"
    assert not SavedFlow.objects.exists()


def test_a_flow_for_an_unknown_device_is_refused_before_it_is_saved(client, alice):
    reply = call(client, "post", "/api/flows/", alice, {"flow": LOGIN, "device": "nope"})
    assert reply.status_code == 400, reply.json()
    assert reply.json() == {
        "code": "invalid",
        "message": "device: There is no device 'nope'. GET /api/devices/ lists them.",
        "field": "device",
    }
    assert not SavedFlow.objects.exists() and not Run.objects.exists()


def test_a_webhook_without_the_right_signature_is_refused_and_starts_nothing(client, alice):
    flow_id = call(client, "post", "/api/flows/", alice, {"flow": LOGIN}).json()["id"]
    body = b'{"ref": "main"}'
    cases = [
        ({}, 401, "signature_missing"),
        (as_meta(sign("whsec_guess", body)), 403, "signature_invalid"),
        (
            as_meta({**sign("whsec_guess", body), "X-CogniSim-Signature": "sha256=" + "0" * 64}),
            403,
            "signature_invalid",
        ),  # noqa: E501
        # the old form (the body alone, no timestamp or delivery id) is refused, naming what is missing
        ({"HTTP_X_COGNISIM_SIGNATURE": "sha256=" + "0" * 64}, 401, "signature_missing"),
        (as_meta({**sign("whsec_guess", body), "X-CogniSim-Timestamp": "²"}), 401, "signature_missing"),
        (as_meta({**sign("whsec_guess", body), "X-CogniSim-Delivery": "a b"}), 401, "signature_missing"),
        ({"HTTP_AUTHORIZATION": "Bearer whsec_guess"}, 403, "signature_invalid"),
        ({"HTTP_AUTHORIZATION": f"Token {alice}"}, 401, "signature_missing"),  # a user token is not the secret
    ]
    for headers, status, code in cases:
        reply = client.post(f"/api/flows/{flow_id}/trigger/", data=body, content_type="application/json", **headers)
        assert reply.status_code == status, (headers, reply.json())
        assert reply.json()["code"] == code and reply.json()["message"]
    unknown = client.post(
        "/api/flows/00000000-0000-0000-0000-000000000000/trigger/",
        data=body,
        content_type="application/json",
        **as_meta(sign("whsec_guess", body)),
    )
    assert unknown.status_code == 403
    assert not Run.objects.exists() and not TestSession.objects.exists()


@pytest.mark.integration
def test_a_signed_webhook_starts_an_ordinary_run_that_passes(stack, devices, alice):
    rest = Rest(stack.base_url, alice)
    created = rest.post("/api/flows/", {"flow": LOGIN, "filename": "login.yaml", "device": devices[0].serial})
    assert created.status == 201, created.body
    flow_id, secret = created.body["id"], created.body["webhook_secret"]
    body = json.dumps({"ref": "refs/heads/main", "after": "abc123"}).encode()

    tampered = {**sign(secret, body), "X-CogniSim-Signature": sign(secret, body + b" ")["X-CogniSim-Signature"]}
    assert hook(stack.base_url, flow_id, body, tampered)[0] == 403
    status, started = hook(stack.base_url, flow_id, body, sign(secret, body))
    assert status == 201, started
    assert started["trigger"] == "webhook" and started["saved_flow_id"] == flow_id
    assert started["meta"] == {"webhook": {"ref": "refs/heads/main", "after": "abc123"}}  # kept and shown
    run = wait_run(rest, f"/api/runs/{started['id']}/")
    assert run["status"] == "passed" and run["device"] == devices[0].serial and run["steps_done"] == 7
    assert Run.objects.get().session.source == "ci"
    assert rest.get(f"/api/flows/{flow_id}/").body["last_run"] == {
        "id": started["id"],
        "status": "passed",
        "trigger": "webhook",
    }

    status, bearer = hook(stack.base_url, flow_id, b"", {"Authorization": f"Bearer {secret}"})
    assert status == 201, bearer
    assert wait_run(rest, f"/api/runs/{bearer['id']}/")["status"] == "passed"
    now = rest.post(f"/api/flows/{flow_id}/run/")
    assert now.status == 201 and now.body["trigger"] == "manual"
    assert wait_run(rest, f"/api/runs/{now.body['id']}/")["status"] == "passed"
    assert Run.objects.count() == 3


@pytest.mark.integration
def test_the_schedule_starts_a_due_flow_once_per_minute(stack, devices, alice):
    owner = Token.objects.get(key=alice).user
    # Minutes the real clock will not reach while the tests run, so the live sweeper cannot interfere.
    due, _ = saved_flow_create(owner=owner, flow_text=LOGIN, name="due", cron="30 4 29 2 *")
    saved_flow_create(owner=owner, flow_text=LOGIN, name="not due", cron="31 4 29 2 *")
    saved_flow_create(owner=owner, flow_text=LOGIN, name="disabled", cron="30 4 29 2 *", enabled=False)
    saved_flow_create(owner=owner, flow_text=LOGIN, name="unscheduled")

    started = flows_schedule_due(now=datetime(2028, 2, 29, 4, 30, 5, tzinfo=UTC))
    assert [(r.saved_flow_id, r.trigger) for r in started] == [(due.pk, "schedule")]
    assert flows_schedule_due(now=datetime(2028, 2, 29, 4, 30, 59, tzinfo=UTC)) == []
    assert flows_schedule_due(now=datetime(2028, 2, 29, 4, 32, tzinfo=UTC)) == []  # neither names 4:32
    assert Run.objects.count() == 1
    due.refresh_from_db()
    assert due.last_scheduled_at == datetime(2028, 2, 29, 4, 30, tzinfo=UTC) and due.last_run_id == started[0].pk
    run = wait_run(Rest(stack.base_url, alice), f"/api/runs/{started[0].pk}/")
    assert run["status"] == "passed" and run["trigger"] == "schedule"


def test_a_signed_delivery_starts_one_run_and_a_replay_of_it_is_refused(client, alice, settings):
    created = call(client, "post", "/api/flows/", alice, {"flow": LOGIN}).json()
    flow_id, secret, body = created["id"], created["webhook_secret"], b'{"ref": "main"}'
    path = f"/api/flows/{flow_id}/trigger/"
    headers = as_meta(sign(secret, body, delivery="gh-1"))

    first = client.post(path, data=body, content_type="application/json", **headers)
    assert first.status_code == 201, first.json()
    again = client.post(path, data=body, content_type="application/json", **headers)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_delivery")
    assert Run.objects.count() == 1

    # Outside the replay window either way: refused even though the signature is right.
    window = settings.WEBHOOK_TOLERANCE_SECONDS
    for skew in (-window - 5, window + 5):
        stale = as_meta(sign(secret, body, timestamp=int(time.time()) + skew))
        reply = client.post(path, data=body, content_type="application/json", **stale)
        assert (reply.status_code, reply.json()["code"]) == (403, "signature_expired")
    assert Run.objects.count() == 1

    # A delivery is remembered only as long as its signature could be replayed.
    WebhookDelivery.objects.update(signed_at=datetime(2020, 1, 1, tzinfo=UTC))
    other = client.post(path, data=body, content_type="application/json", **as_meta(sign(secret, body)))
    assert other.status_code == 201
    assert list(WebhookDelivery.objects.values_list("delivery", flat=True)) != ["gh-1"]
    assert Run.objects.count() == 2
