"""The draft survives Run all and reloads, its steps can be edited, and a step that ran loads back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Step
from tests.ide.pages import compose, finished, new_row, open_session, press_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_draft_is_kept_and_edited_and_past_steps_load_back(page: Page, devices: Any) -> None:
    session_id = open_session(page, devices[0].serial, "Draft")
    draft = page.locator("#draft li")
    compose(page, "sleep", ms=100)
    page.get_by_role("button", name="Add to draft").click()
    compose(page, "assert_visible", **{"selector-kind": "id", "selector-value": "email"})
    page.get_by_role("button", name="Add to draft").click()
    expect(draft).to_have_count(2)

    # A reload keeps it.
    page.reload()
    expect(draft).to_have_count(2)
    expect(draft.nth(0)).to_contain_text("Sleep 100 ms")
    expect(draft.nth(1)).to_contain_text("Assert visible id email")

    # Edit a drafted step in the composer.
    page.get_by_role("button", name="Edit draft step 1").click()
    expect(page.locator("#composer-mode")).to_have_text("Editing draft step 1")
    expect(page.get_by_label("Action", exact=True)).to_have_value("sleep")
    expect(page.locator("#f-ms")).to_have_value("100")
    page.locator("#f-ms").fill("200")
    page.get_by_role("button", name="Save draft step").click()
    expect(draft.nth(0)).to_contain_text("Sleep 200 ms")
    expect(page.get_by_role("button", name="Add to draft")).to_be_visible()

    # Run all sends them in order and keeps the draft.
    page.get_by_role("button", name="Run all").click()
    expect(page.locator("#draft-status")).to_have_text("Sent 2 steps; the draft stays for another run.")
    finished(new_row(page, 0))
    finished(new_row(page, 1))
    expect(draft).to_have_count(2)
    page.reload()
    expect(draft).to_have_count(2)

    # A step that ran loads back into the composer and runs again.
    # Rows are numbered from 1, as people count (the API's index stays 0-based).
    expect(page.locator("#steps .step .idx")).to_have_text(["#1", "#2"])
    page.get_by_role("button", name="Load step #2 into the composer").click()
    expect(page.locator("#composer-mode")).to_have_text("From step #2")
    expect(page.get_by_label("Action", exact=True)).to_have_value("assert_visible")
    expect(page.locator("#f-selector-kind")).to_have_value("id")
    expect(page.locator("#f-selector-value")).to_have_value("email")
    again = finished(press_run(page))
    assert Step.objects.get(pk=again).params == {"id": "email"}
    assert list(Step.objects.filter(session_id=session_id).order_by("index").values_list("action", flat=True)) == [
        "sleep",
        "assert_visible",
        "assert_visible",
    ]
    assert Step.objects.get(session_id=session_id, index=0).params == {"ms": 200}
