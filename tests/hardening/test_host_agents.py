"""A host agent's token speaks for its own host only (issue 17, finding 5)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from devices.models import Device
from devices.services import device_register_sim
from sessions.accounts import api_user_create
from sessions.models import TestSession

pytestmark = pytest.mark.django_db


def post(client, path, token, body):
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    return client.post(path, data=json.dumps(body), content_type="application/json", **auth)


@pytest.fixture
def fleet(client):
    """Host A and host B, each with one phone online, and one simulated phone of the server."""
    tokens = {host: api_user_create(username=f"agent-{host}", host_agent=True, host=host) for host in ("a", "b")}
    for host in ("a", "b"):
        assert post(client, "/api/devices/register/", tokens[host], {"serial": f"phone-{host}"}).status_code == 200
        assert post(client, "/api/devices/heartbeat/", tokens[host], {"serials": [f"phone-{host}"]}).status_code == 200
    device_register_sim(serial="sim-1")
    assert set(Device.objects.values_list("serial", "host", "status")) == {
        ("phone-a", "a", "available"),
        ("phone-b", "b", "available"),
        ("sim-1", "localhost", "available"),
    }
    return tokens


def test_an_empty_heartbeat_takes_only_its_own_hosts_devices_offline(client, fleet):
    reply = post(client, "/api/devices/heartbeat/", fleet["a"], {"serials": []})
    assert reply.status_code == 200 and reply.json() == {"alive": 0, "host": "a"}
    assert dict(Device.objects.values_list("serial", "status")) == {
        "phone-a": "offline",
        "phone-b": "available",
        "sim-1": "available",
    }


def test_a_token_cannot_name_another_host(client, fleet):
    for path, body in (
        ("/api/devices/heartbeat/", {"host": "b", "serials": []}),
        ("/api/devices/heartbeat/", {"host": "localhost", "serials": []}),
        ("/api/devices/register/", {"host": "b", "serial": "new-phone"}),
    ):
        reply = post(client, path, fleet["a"], body)
        assert (reply.status_code, reply.json()["code"]) == (403, "host_mismatch"), body
    assert not Device.objects.filter(status="offline").exists()
    assert not Device.objects.filter(serial="new-phone").exists()


def test_another_hosts_online_device_cannot_be_taken_or_taken_offline(client, fleet):
    reply = post(client, "/api/devices/register/", fleet["a"], {"serial": "phone-b", "model": "Fake"})
    assert (reply.status_code, reply.json()["code"]) == (409, "device_of_another_host")
    reply = post(client, "/api/devices/register/", fleet["a"], {"serial": "sim-1"})
    assert reply.status_code == 409
    for serial in ("phone-b", "sim-1", "nothing"):
        reply = post(client, f"/api/devices/{serial}/offline/", fleet["a"], {})
        assert (reply.status_code, reply.json()["code"]) == (404, "not_found")
    assert set(Device.objects.values_list("serial", "host", "status", "model")) == {
        ("phone-a", "a", "available", ""),
        ("phone-b", "b", "available", ""),
        ("sim-1", "localhost", "available", "CogniSim Virtual Phone"),
    }


def test_an_offline_device_moves_to_the_host_it_is_plugged_into(client, fleet):
    assert post(client, "/api/devices/phone-b/offline/", fleet["b"], {}).json()["status"] == "offline"
    assert post(client, "/api/devices/register/", fleet["a"], {"serial": "phone-b"}).status_code == 200
    assert Device.objects.get(serial="phone-b").host == "a"
    assert post(client, "/api/devices/heartbeat/", fleet["a"], {"serials": ["phone-a", "phone-b"]}).json()["alive"] == 2
    assert Device.objects.get(serial="phone-b").status == "available"


def test_a_new_device_is_given_to_sessions_only_after_a_heartbeat_lists_it(client, fleet, alice):
    Device.objects.exclude(serial__startswith="phone-a").update(status="busy")
    reply = post(client, "/api/devices/register/", fleet["a"], {"serial": "0000-fake", "model": "Fake"})
    assert reply.status_code == 200 and reply.json()["status"] == "offline"
    opened = post(client, "/api/sessions/", alice, {})
    assert opened.status_code == 201 and opened.json()["device"] == "phone-a"  # not the new one, sorted first
    assert post(client, "/api/sessions/", alice, {"device": "0000-fake"}).status_code == 409
    post(client, "/api/devices/heartbeat/", fleet["a"], {"serials": ["phone-a", "0000-fake"]})
    assert Device.objects.get(serial="0000-fake").status == "available"
    assert TestSession.objects.count() == 1


def test_only_a_host_agents_token_may_register(client, fleet, alice):
    staff = get_user_model().objects.create(username="staff", is_staff=True)
    for token in (alice, Token.objects.create(user=staff).key):
        for path, body in (
            ("/api/devices/register/", {"serial": "x"}),
            ("/api/devices/heartbeat/", {"serials": []}),
            ("/api/devices/phone-a/offline/", {}),
        ):
            reply = post(client, path, token, body)
            assert (reply.status_code, reply.json()["code"]) == (403, "permission_denied"), (path, reply.json())
    assert Device.objects.filter(status="available").count() == 3
