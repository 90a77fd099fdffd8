"""The screen is a controller: clicks tap elements (recorded as selectors), typing goes to the focused field,
drags swipe along a drawn path, the wheel scrolls, a held click long-presses; hovering shows the element."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Step, TestSession
from tests.ide.conftest import snap
from tests.ide.pages import centre, finished, new_row, open_session, screen_point, tree_node

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def params(step_id: int) -> dict[str, Any]:
    return Step.objects.get(pk=step_id).params


def test_the_mouse_and_keyboard_drive_the_device(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Controller")
    rows = page.locator("#steps .step")

    # Hover: the element under the pointer is outlined and described, with what a click would record.
    email = tree_node(page, id="email")
    page.mouse.move(*screen_point(page, *centre(email["bounds"])))
    expect(page.locator("#hover-box")).to_be_visible()
    expect(page.locator("#hover-info")).to_contain_text("EditText “Email”")
    expect(page.locator("#hover-info")).to_contain_text("click: tap id email")
    expect(page.locator("#tree .tree-row.hovered")).to_contain_text("#email")
    snap(page, "controller-hover")

    # A click taps the element, recorded by its id (a field's text changes as one types).
    page.mouse.click(*screen_point(page, *centre(email["bounds"])))
    tapped = new_row(page, 0)
    expect(tapped.locator(".desc")).to_have_text("id email")
    assert params(finished(tapped)) == {"id": "email"}

    # Typing goes to the focused field as one `type` step; Tab is a key.
    expect(page.locator("#screen-stage")).to_be_focused()
    page.keyboard.type("demo@example.com")
    typed = new_row(page, 1)
    expect(typed.locator(".desc")).to_have_text("“demo@example.com”")
    assert params(finished(typed)) == {"text": "demo@example.com"}
    page.keyboard.press("Tab")
    assert params(finished(new_row(page, 2))) == {"key": "tab"}

    # The focus is now on the password field: what is typed there is masked on the page.
    page.keyboard.type("secret123")
    expect(page.locator("#kbd-status")).to_contain_text("••••••")
    secret = new_row(page, 3)
    expect(secret.locator(".desc")).to_have_text("••••••")
    secret_id = finished(secret)  # the step keeps a reference; the value is the session's secret
    assert params(secret_id) == {"text": "${_TYPED_3}"}
    assert TestSession.objects.get(steps__pk=secret_id).secrets == {"_TYPED_3": "secret123"}
    expect(page.locator("body")).not_to_contain_text("secret123")

    # Enter is a key too: it signs in.
    page.keyboard.press("Enter")
    assert params(finished(new_row(page, 4))) == {"key": "enter"}
    expect(page.locator("#tree")).to_contain_text("“Welcome, Demo!”")
    expect(page.locator("#tree")).to_contain_text("“Item 1”")

    # The wheel scrolls: wheel down is a swipe up, and the list moves on.
    items = tree_node(page, id="items")
    page.mouse.move(*screen_point(page, *centre(items["bounds"])))
    page.mouse.wheel(0, 400)
    assert params(finished(new_row(page, 5))) == {"direction": "up"}
    expect(page.locator("#tree")).not_to_contain_text("“Item 1”")

    # A drag is a swipe from where it started to where it ended, its path drawn while it moves.
    x, top, bottom = centre(items["bounds"])[0], items["bounds"][1] + 100, items["bounds"][3] - 100
    page.mouse.move(*screen_point(page, x, bottom))
    page.mouse.down()
    for n in range(1, 11):
        page.mouse.move(*screen_point(page, x, bottom - (bottom - top) * n // 10))
    expect(page.locator("#gesture polyline")).to_have_count(1)
    assert int(page.locator("#gesture").get_attribute("data-points") or 0) >= 5
    snap(page, "controller-drag")
    page.mouse.up()
    swiped = params(finished(new_row(page, 6)))
    assert set(swiped) == {"from", "to", "duration_ms"}
    assert swiped["from"]["y"] - swiped["to"]["y"] > (bottom - top) * 0.8
    assert abs(swiped["from"]["x"] - x) < 10 and abs(swiped["to"]["x"] - x) < 10

    # A held click is a long press on the element, for as long as it was held.
    expect(page.locator("#tree")).not_to_contain_text("“Item 9”")
    item = next(n for n in page.evaluate("window.cognisim.state.tree.nodes") if n["text"].startswith("Item "))
    page.mouse.move(*screen_point(page, *centre(item["bounds"])))
    page.mouse.down()
    expect(page.locator("#press-ring")).to_be_visible()
    page.wait_for_timeout(800)  # the gesture is the holding itself
    page.mouse.up()
    pressed = params(finished(new_row(page, 7)))
    assert pressed["text"] == item["text"] and 700 <= pressed["duration_ms"] <= 10_000

    # Where no element is, a click taps the point.
    page.mouse.click(*screen_point(page, 540, 40))
    point = params(finished(new_row(page, 8)))
    assert set(point) == {"x", "y"} and abs(point["x"] - 540) < 8 and abs(point["y"] - 40) < 8
    assert rows.count() == 9
