"""Other users' sessions and names stay theirs (issue 17, finding 7)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from devices.services import device_register_sim

pytestmark = pytest.mark.django_db


def test_the_devices_list_and_the_home_page_show_only_your_own_holders(client, alice, bob):
    device_register_sim(serial="priv-1")
    opened = client.post(
        "/api/sessions/",
        data=json.dumps({"device": "priv-1", "name": "alice's secret project"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {alice}",
    )
    assert opened.status_code == 201
    mine = client.get("/api/devices/", HTTP_AUTHORIZATION=f"Token {alice}").json()
    theirs = client.get("/api/devices/", HTTP_AUTHORIZATION=f"Token {bob}").json()
    assert [(d["serial"], d["held_by"]) for d in mine] == [("priv-1", opened.json()["id"])]
    assert [(d["serial"], d["status"], d["held_by"]) for d in theirs] == [("priv-1", "busy", None)]

    client.force_login(get_user_model().objects.get(username="bob"))
    page = client.get("/").content.decode()
    assert "priv-1" in page and "alice" not in page and "secret project" not in page
