"""At 390 px wide (a phone): no page scrolls sideways, step rows read as lines, the newest step is in view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ide.conftest import PASSWORD, WAIT_MS, set_password, snap
from tests.ide.pages import centre, compose, finished, new_row, open_session, press_run, screen_point, tree_node

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NO_SIDEWAYS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def phone(browser: Any, stack: Any, devices: Any, alice: str) -> Iterator[Page]:
    set_password("alice")
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login/")
    assert page.evaluate(NO_SIDEWAYS)
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    yield page
    context.close()


def test_at_390_px_nothing_scrolls_sideways_and_the_newest_step_shows(phone: Page, devices: Any) -> None:
    page = phone
    assert page.evaluate(NO_SIDEWAYS), "the home page scrolls sideways"
    open_session(page, devices[0].serial, "On a phone")
    assert page.evaluate(NO_SIDEWAYS), "the session page scrolls sideways"

    # The screen still taps by element.
    email = tree_node(page, id="email")
    page.mouse.click(*screen_point(page, *centre(email["bounds"])))
    expect(new_row(page, 0).locator(".desc")).to_have_text("id email")

    # Steps from the composer: each new one comes into view, and a long one wraps as words, not letters.
    long_text = "a rather long sentence typed into the email field to see how it wraps"
    for n in range(1, 9):
        if n == 4:
            compose(page, "type", text=long_text, **{"into-kind": "id", "into-value": "email"})
        else:
            compose(page, "sleep", ms=1)
        row = press_run(page)
        expect(row).to_be_in_viewport()
        finished(row)
    # (The column of the text was a few pixels wide: one letter a line.)
    what = page.locator("#steps .step").nth(4).locator(".what")
    box = what.bounding_box()
    assert box is not None and box["width"] > 150, box
    line = 1.3 * float(what.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert box["height"] < 6 * line, (box, line)
    assert page.evaluate(NO_SIDEWAYS), "the session page scrolls sideways with steps in it"
    snap(page, "session-390")

    page.goto("/")
    expect(page.locator("#devices-live")).to_have_attribute("data-state", "live")
    assert page.evaluate(NO_SIDEWAYS), "the home page scrolls sideways with a session in it"
    snap(page, "home-390")
