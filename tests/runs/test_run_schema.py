"""The OpenAPI document says what the runs endpoints answer: every field it requires is in the answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from runs.models import Run
from sessions.models import TestSession

pytestmark = pytest.mark.django_db


def _schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = body.get("items", body)
    return document["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]


def test_the_run_list_and_a_run_have_every_field_their_schema_requires():
    user = get_user_model().objects.create_user("carol", password="x")
    run = Run.objects.create(owner=user, session=TestSession.objects.create(owner=user, name="r"), steps_total=0)
    client = Client()
    client.force_login(user)
    document = client.get("/api/schema/?format=json").json()
    listed = client.get("/api/runs/").json()
    one = client.get(f"/api/runs/{run.pk}/").json()
    summary, report = _schema(document, "/api/runs/"), _schema(document, "/api/runs/{run_id}/")
    assert set(summary["required"]) <= listed[0].keys(), "the list leaves out a run's steps"
    assert set(report["required"]) <= one.keys() and "steps" in report["required"]
