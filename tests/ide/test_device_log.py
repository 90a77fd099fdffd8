"""The session page's device log (lines arrive live, filters apply at once, the download follows them) and its
recording."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from devices.drivers.sim import DEMO, SimDriver
from sessions.models import SessionEvent
from tests.ide.conftest import snap
from tests.ide.pages import finished, open_session, run
from tests.live import steps_observed
from tests.sessions.test_recording import decoded

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_device_log_streams_and_filters(page: Page, devices: Any) -> None:
    session_id = open_session(page, devices[0].serial, "Log")
    finished(run(page, "tap", **{"selector-kind": "id", "selector-value": "sign_in"}))
    lines = page.locator("#log-lines")
    expect(lines).to_contain_text("W LoginDemo: Sign-in failed: invalid email or password")
    SimDriver(devices[0].serial, settings.SIM_DEVICE_DIR).start_activity(DEMO, ".CrashActivity")
    expect(lines).to_contain_text("E AndroidRuntime: FATAL EXCEPTION: main")

    page.get_by_label("Lowest level shown").select_option("E")
    expect(lines.locator("li[data-level='W']")).to_have_count(0)
    expect(lines.locator("li").first).to_have_attribute("data-level", "E")
    expect(page.locator("#log-download")).to_have_attribute("href", f"/api/sessions/{session_id}/logs.txt?level=E")
    page.get_by_label("Lowest level shown").select_option("")
    page.get_by_label("Text in the log").fill("sign-in failed")
    expect(lines.locator("li")).to_have_count(1)
    expect(page.locator("#log-count")).to_contain_text("1 of ")
    page.get_by_label("Text in the log").fill("")
    page.locator("#log-lines").scroll_into_view_if_needed()
    snap(page, "device-log")


def test_the_recording_is_downloadable_from_the_session_page(page: Page, devices: Any) -> None:
    session_id = open_session(page, devices[0].serial, "Recording")
    finished(run(page, "tap", **{"selector-kind": "id", "selector-value": "sign_in"}))
    steps_observed(session_id)  # the screen after the tap is in (it is read after COMPLETED)
    link = page.get_by_role("link", name="Recording ↗")
    expect(link).to_have_attribute("href", f"/api/sessions/{session_id}/recording.webm")
    reply = page.request.get(link.get_attribute("href") or "")
    assert reply.ok and reply.headers["content-type"] == "video/webm"
    screens = SessionEvent.objects.filter(session_id=session_id, type="SCREEN").count()
    assert len(decoded(reply.body())) == screens + 1


# Each log filter's placeholder against the room its box has for text, in CSS pixels.
PLACEHOLDER_ROOM = """
() => ["log-tag", "log-text"].map((id) => {
  const box = document.getElementById(id);
  const style = getComputedStyle(box);
  const pen = document.createElement("canvas").getContext("2d");
  pen.font = style.font;
  const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [box.placeholder, Math.ceil(pen.measureText(box.placeholder).width), Math.floor(room)];
})
"""


def test_the_log_filters_show_their_whole_placeholders(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Log filters")
    for width in (1360, 1280, 1100, 900, 390):
        page.set_viewport_size({"width": width, "height": 1000})
        for placeholder, needs, room in page.evaluate(PLACEHOLDER_ROOM):
            assert needs <= room, f"{width} px wide: {placeholder!r} needs {needs} px, has {room}"
