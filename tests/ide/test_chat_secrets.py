"""Secrets the agent handles in the IDE: a password it asks for is typed into a password box and shown masked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ide.pages import open_session

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def chat(page: Page, text: str) -> None:
    page.get_by_label("Instruction for the agent").fill(text)
    page.get_by_role("button", name="Send").click()


def test_a_password_the_agent_asks_for_is_typed_in_a_password_box_and_shown_masked(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Agent asks")
    chat(page, "sign in as demo@example.com")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("What password should I sign in as demo@example.com with?")
    answer = dialog.get_by_label("Your answer")
    expect(answer).to_have_attribute("type", "password")
    answer.fill("secret123")
    dialog.get_by_role("button", name="Send answer").click()
    expect(page.locator("#chat-log li").last).to_contain_text("steps passed")
    asked = page.locator("#steps .step[data-index='0']")
    expect(asked.locator(".answer")).to_have_text("Answer: ••••••")
    expect(page.locator("#steps")).not_to_contain_text("secret123")
    expect(page.locator("#steps")).not_to_contain_text("${_")
