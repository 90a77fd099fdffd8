"""The element inspector: the screen's UI tree (collapsible, searchable), an element's attributes and the
selectors that find it (ambiguous ones say so), and actions that put a step for it into the composer."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Step
from tests.ide.conftest import snap
from tests.ide.pages import centre, finished, open_session, press_run, screen_point, tree_node

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_inspector_shows_the_tree_and_puts_steps_into_the_composer(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Inspector")
    tree = page.locator("#tree")
    details = page.locator("#node-details")
    # The whole dump, nested: the login form's fields inside the content frame.
    expect(page.locator("#tree-count")).to_have_text("6 elements")
    content = tree.locator(f"li[data-i='{tree_node(page, id='content')['i']}']")
    expect(content.locator("li")).to_have_count(4)

    # Collapsing a branch hides its elements; expanding shows them again.
    content.locator(":scope > .tree-row .toggle").click()
    expect(content).to_have_attribute("aria-expanded", "false")
    expect(tree.get_by_role("button", name="EditText “Email” #email")).to_be_hidden()
    content.locator(":scope > .tree-row .toggle").click()
    expect(tree.get_by_role("button", name="EditText “Email” #email")).to_be_visible()

    # Search keeps the matches and the branches that lead to them.
    page.get_by_label("Search the elements").fill("sign")
    expect(page.locator("#tree-count")).to_have_text("2 of 6 match")
    expect(tree.locator("li.hit")).to_have_count(2)
    expect(tree.get_by_role("button", name="EditText “Email” #email")).to_have_count(0)

    # Picking the button: its attributes, and which selectors find it: "Sign in" is also the title's text.
    tree.get_by_role("button", name="Button “Sign in” #sign_in").click()
    expect(details.locator("h3")).to_have_text("Button “Sign in”")
    expect(details.locator(".attrs")).to_contain_text("com.cognisim.demo:id/sign_in")
    expect(details.locator(".attrs")).to_contain_text("clickable")
    by_text = details.locator(".selectors li[data-kind=text]")
    expect(by_text).to_have_class("ambiguous")
    expect(by_text).to_contain_text("ambiguous: 2 match, this is the 2nd (index 1)")
    expect(details.locator(".selectors li[data-kind=id]")).to_contain_text("unique")
    expect(page.locator("#pick-box")).to_be_visible()
    snap(page, "inspector")

    # An action puts the step into the composer with the chosen selector; the ambiguous one keeps its index.
    details.get_by_role("button", name="Assert visible").click()
    expect(page.get_by_label("Action", exact=True)).to_have_value("assert_visible")
    expect(page.locator("#f-selector-kind")).to_have_value("id")
    expect(page.locator("#f-selector-value")).to_have_value("sign_in")
    expect(page.locator("#composer-mode")).to_have_text("From Button “Sign in”")
    details.get_by_label("Text: Sign in").check()
    details.get_by_role("button", name="Tap", exact=True).click()
    expect(page.get_by_label("Action", exact=True)).to_have_value("tap")
    expect(page.locator("#f-selector-kind")).to_have_value("text")
    expect(page.locator("#f-selector-value")).to_have_value("Sign in")
    expect(page.locator("#f-selector-index")).to_have_value("1")
    tapped = finished(press_run(page))
    assert Step.objects.get(pk=tapped).params == {"text": "Sign in", "index": 1}

    # "Pick element": a click on the screen picks the element instead of tapping it.
    page.get_by_label("Search the elements").fill("")
    page.get_by_role("button", name="Pick element").click()
    password = tree_node(page, id="password")
    page.mouse.click(*screen_point(page, *centre(password["bounds"])))
    expect(details.locator("h3")).to_have_text("EditText “Password”")
    expect(details.locator(".attrs")).to_contain_text("password")
    expect(tree.locator("li[aria-selected=true]")).to_contain_text("#password")
    details.get_by_role("button", name="Type into").click()
    expect(page.get_by_label("Action", exact=True)).to_have_value("type")
    expect(page.locator("#f-into-value")).to_have_value("password")
    expect(page.locator("#f-secret")).to_be_checked()
    expect(page.locator("#f-text")).to_have_attribute("type", "password")
    assert page.locator("#steps .step").count() == 1
