"""The admin: history is read-only (no Add or Change form that can only end in a 500); what may be edited saves."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from devices.models import Device
from runs.models import Run, SavedFlow
from sessions.models import Decision, Screen, SessionEvent, Step, TestSession, UserQuota
from turns.models import Turn

pytestmark = pytest.mark.django_db

READ_ONLY = {TestSession, Step, SessionEvent, Decision, Turn, Run}
NO_ADD = READ_ONLY | {Device, SavedFlow}


@pytest.fixture
def rows() -> dict[type, Any]:
    user = get_user_model().objects.create_user("carol", password="x")
    device = Device.objects.create(serial="adm-1", name="Phone", status=Device.Status.AVAILABLE)
    session = TestSession.objects.create(owner=user, device=device, name="Admin")
    step = Step.objects.create(session=session, index=0, action="screenshot", timeout_ms=1000)
    run = Run.objects.create(owner=user, session=session, steps_total=1)
    return {
        TestSession: session,
        Device: device,
        Step: step,
        SessionEvent: SessionEvent.objects.create(session=session, seq=1, type="SESSION_STATUS"),
        Decision: Decision.objects.create(session=session, step=step, kind=Decision.Kind.INVOKE),
        Screen: Screen.objects.create(session=session, screen_hash="0" * 64),
        Turn: Turn.objects.create(session=session, messages=[{"text": "hi", "at": 0}]),
        Run: run,
        SavedFlow: SavedFlow.objects.create(owner=user, name="f", flow="steps: []", webhook_nonce="n"),
        UserQuota: UserQuota.objects.create(user=user, max_active_sessions=3),
    }


def url(model: type, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_admin_page_answers_and_history_cannot_be_added_or_changed(
    admin_client: Client, rows: dict[type, Any]
) -> None:
    ours = [m for m in admin.site._registry if m._meta.app_label in {"test_sessions", "devices", "runs", "turns"}]
    assert set(ours) >= NO_ADD | {UserQuota}
    for model in ours:
        assert admin_client.get(url(model, "changelist")).status_code == 200, model
        add = admin_client.get(url(model, "add"))
        if model in NO_ADD:
            assert add.status_code == 403, model
            listing = admin_client.get(url(model, "changelist")).content.decode()
            assert f'href="{url(model, "add")}"' not in listing, model
        else:
            assert add.status_code == 200, model
            assert admin_client.post(url(model, "add"), {}).status_code == 200, model  # the form's errors
        obj = rows.get(model)
        if obj is not None:
            page = admin_client.get(url(model, "change", obj.pk))
            assert page.status_code == 200, model
            if model in READ_ONLY:
                assert b'name="_save"' not in page.content, model


def test_what_may_be_edited_saves(admin_client: Client, rows: dict[type, Any]) -> None:
    device = rows[Device]
    answer = admin_client.post(url(Device, "change", device.pk), {"name": "Bench phone", "status": "maintenance"})
    assert answer.status_code == 302
    device.refresh_from_db()
    assert (device.name, device.status, device.serial) == ("Bench phone", "maintenance", "adm-1")

    flow = rows[SavedFlow]
    assert admin_client.post(url(SavedFlow, "change", flow.pk), {}).status_code == 302  # "enabled" unticked
    flow.refresh_from_db()
    assert flow.enabled is False and flow.flow == "steps: []"

    quota = rows[UserQuota]
    same_user = {"user": quota.user_id, "max_active_sessions": 5, "steps_per_window": ""}
    assert admin_client.post(url(UserQuota, "add"), same_user).status_code == 200  # one quota per user: refused
    assert admin_client.post(url(UserQuota, "change", quota.pk), same_user).status_code == 302
    quota.refresh_from_db()
    assert quota.max_active_sessions == 5
