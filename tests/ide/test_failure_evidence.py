"""A failed step shows the screen at the moment it failed: its picture and its UI tree."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Screen, Step
from tests.ide.conftest import snap
from tests.ide.pages import finished, open_session, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_failed_step_shows_the_screen_and_tree_it_failed_on(page: Page, devices: Any) -> None:
    session_id = open_session(page, devices[0].serial, "Evidence")
    tapped = finished(run(page, "tap", **{"selector-kind": "id", "selector-value": "sign_in"}))
    failed = run(page, "assert_visible", **{"selector-kind": "text", "selector-value": "Welcome, Demo!"})
    finished(failed, "ERROR")
    at_failure = Step.objects.get(pk=tapped).effect["screen"]  # the form with its error message

    for attempt in ("live", "after a reload"):
        button = failed.get_by_role("button", name="Screen when step #2 failed")
        expect(button, attempt).to_have_attribute("data-screen", at_failure)
        button.click()
        shot = page.locator("#shot-dialog")
        expect(shot).to_be_visible()
        expect(shot.locator("#shot-title")).to_have_text("When step #2 failed: Assert visible")
        src = f"/api/sessions/{session_id}/screens/{at_failure}.png"
        expect(page.locator("#shot-img")).to_have_attribute("src", src)
        page.wait_for_function("() => document.querySelector('#shot-img').naturalWidth > 0")
        png = page.request.get(src)
        assert png.body() == Screen.objects.get(session_id=session_id, screen_hash=at_failure).picture.read()
        # The tree of that screen, searchable: the message the check did not expect is there.
        tree = shot.locator("#shot-tree")
        expect(tree).to_contain_text("“Invalid email or password”")
        shot.get_by_label("Search this screen's elements").fill("invalid")
        expect(tree.locator("li.hit")).to_have_count(1)
        tree.get_by_role("button", name="TextView “Invalid email or password” #error").click()
        expect(shot.locator("#shot-details")).to_contain_text("com.cognisim.demo:id/error")
        snap(page, "failure-screen")
        page.keyboard.press("Escape")
        expect(shot).to_be_hidden()
        page.reload()
        expect(failed).to_have_attribute("data-status", "ERROR")
