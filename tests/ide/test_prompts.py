"""Questions for the tester (`ask_user`): Stop stays reachable, the prompt can wait, an empty answer is
confirmed, and every answer shows in its step's row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Step
from tests.ide.conftest import snap
from tests.ide.pages import finished, open_session, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_question_can_wait_is_confirmed_when_empty_and_never_blocks_stop(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Questions")
    dialog = page.get_by_role("dialog")

    first = run(page, "ask_user", prompt="What code did the SMS bring?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Stop session")).to_be_enabled()
    # An empty answer is not sent without a second press.
    dialog.get_by_role("button", name="Send answer").click()
    expect(dialog.locator("#input-confirm")).to_have_text("The answer is empty. Send it empty anyway?")
    expect(first).to_have_attribute("data-status", "STARTED")
    snap(page, "input-prompt")

    # Escape puts the question off: it waits in a banner, and the page (Stop included) is usable.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    banner = page.locator("#input-banner")
    expect(banner).to_contain_text("What code did the SMS bring?")
    expect(page.get_by_role("button", name="Stop session")).to_be_enabled()
    banner.get_by_role("button", name="Answer…").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("Your answer").fill("424242")
    dialog.get_by_role("button", name="Send answer").click()
    expect(first.locator(".answer")).to_have_text("Answer: “424242”")
    assert Step.objects.get(pk=finished(first)).result == {"value": "424242"}
    expect(banner).to_be_hidden()

    # Confirmed, an empty answer is an answer.
    second = run(page, "ask_user", prompt="Anything to add?")
    dialog.get_by_role("button", name="Send answer").click()
    dialog.get_by_role("button", name="Send empty answer").click()
    expect(second.locator(".answer")).to_have_text("Answer: (empty)")
    assert Step.objects.get(pk=finished(second)).result == {"value": ""}

    # A question with choices offers them as buttons.
    chosen = run(page, "ask_user", prompt="Which build?", choices="debug, release")
    expect(dialog.get_by_role("group", name="Answers to choose from").get_by_role("button")).to_have_text(
        ["debug", "release"]
    )
    dialog.get_by_role("button", name="release").click()
    expect(chosen.locator(".answer")).to_have_text("Answer: “release”")
    assert Step.objects.get(pk=finished(chosen)).params["choices"] == ["debug", "release"]

    # Stop from inside the prompt ends the session; the question is cancelled.
    third = run(page, "ask_user", prompt="Shall we go on?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Stop session").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#session-status")).to_have_attribute("data-status", re.compile("COMPLETED|CANCELLED"))
    expect(third).to_have_attribute("data-status", "CANCELLED")
    expect(third.locator(".answer")).to_have_text("No answer: the question was cancelled.")
    # An ended session says so: no green "Live", no live view to open.
    expect(page.locator("#conn")).to_have_text("Ended")
    expect(page.locator("#conn")).to_have_attribute("data-state", "ended")
    live = page.locator("#live-link")
    expect(live).to_have_text("Live view (ended)")
    expect(live).not_to_have_attribute("href", re.compile(".*"))
    expect(live).to_have_attribute("aria-disabled", "true")


def test_the_choices_show_after_a_reload_and_for_a_question_from_chat(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Choices")
    dialog = page.get_by_role("dialog")
    choices = dialog.get_by_role("group", name="Answers to choose from").get_by_role("button")

    chosen = run(page, "ask_user", prompt="Which build?", choices="debug, release")
    expect(choices).to_have_text(["debug", "release"])
    # The page rebuilds the question from the events: the choices come back with it.
    page.reload()
    expect(dialog).to_be_visible()
    expect(dialog.locator("#input-prompt")).to_have_text("Which build?")
    expect(choices).to_have_text(["debug", "release"])
    dialog.get_by_role("button", name="debug").click()
    expect(page.locator(f"#step-{chosen.get_attribute('data-step-id')} .answer")).to_have_text("Answer: “debug”")
    expect(dialog).to_be_hidden()

    # The agent's question (its step's params are not on the page yet) offers its choices too.
    page.get_by_label("Instruction for the agent").fill("type hello into the field")
    page.get_by_role("button", name="Send").click()
    expect(dialog).to_be_visible()
    expect(choices).to_have_text(["Email", "Password"])
    dialog.get_by_role("button", name="Email").click()
    expect(dialog).to_be_hidden()
