"""A session's secrets are encrypted in the database: a copy of it (a backup, SQLite's freed pages) shows none."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from core.sealed import seal, unseal
from sessions.models import TestSession

pytestmark = pytest.mark.django_db

VALUE = "hunter2-Pass-9876"


def test_secrets_are_stored_sealed_and_read_back_open(settings):
    user = get_user_model().objects.create_user("carol", password="x")
    session = TestSession.objects.create(owner=user, name="s", secrets={"PASSWORD": VALUE})
    TestSession.objects.filter(pk=session.pk).update(secrets={"PASSWORD": VALUE, "PIN": "4321"})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secrets FROM {TestSession._meta.db_table} WHERE id = %s", [session.pk.hex])
        (raw,) = cursor.fetchone()
    assert VALUE not in str(raw) and "sealed" in str(raw)
    assert TestSession.objects.get(pk=session.pk).secrets == {"PASSWORD": VALUE, "PIN": "4321"}
    assert TestSession.objects.values_list("secrets", flat=True).get(pk=session.pk)["PIN"] == "4321"


def test_a_value_sealed_with_another_key_reads_as_empty_and_a_plain_one_as_it_is(settings):
    sealed = seal({"PASSWORD": VALUE})
    settings.SECRET_KEY = "another key"
    assert unseal(sealed) == {}
    assert unseal({"PASSWORD": VALUE}) == {"PASSWORD": VALUE}  # stored before sealing
