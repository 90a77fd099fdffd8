"""The run history in the admin: browsable, filterable, a session's steps and events inline and read-only."""

import pytest
from django.contrib.auth import get_user_model

from sessions import services
from sessions.lane import drain as lane


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("root", password="pw-for-tests")
    client.force_login(admin)
    return client


def test_sessions_can_be_browsed_filtered_and_opened(admin_client, user, device):
    session = services.session_open(owner=user, device_serial=device.serial, name="history")
    lane.session_setup(session_id=session.pk)
    services.step_submit(session_id=session.pk, owner=user, data={"action": "press_key", "key": "home"})

    listing = admin_client.get("/admin/test_sessions/testsession/", {"status__exact": "READY"})
    assert listing.status_code == 200 and b"history" in listing.content
    assert b"history" not in admin_client.get("/admin/test_sessions/testsession/", {"status__exact": "FAILED"}).content
    assert b"history" in admin_client.get("/admin/test_sessions/testsession/", {"q": device.serial}).content

    page = admin_client.get(f"/admin/test_sessions/testsession/{session.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "press_key" in html and "SESSION_STATUS" in html  # the step and the events, inline
    assert 'name="steps-0-action"' not in html  # read-only: shown, not editable
    for path in ("step", "sessionevent"):
        assert admin_client.get(f"/admin/test_sessions/{path}/").status_code == 200
    assert admin_client.get("/admin/devices/device/").status_code == 200
