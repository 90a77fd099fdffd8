"""Secrets the agent handles in the IDE: a password it asks for is typed into a password box and shown masked;
a secret it typed is masked in its row and exported as a variable, as one typed from the composer is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
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


def test_a_secret_the_agent_typed_is_masked_and_exported_as_a_variable(page: Page, devices: Any) -> None:
    open_session(page, devices[1].serial, "Agent types")
    chat(page, "type hello into the field")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Password").click()
    expect(page.locator("#chat-log li").last).to_contain_text("passed")
    typed = page.locator("#steps .step[data-index='1']")  # after the question
    expect(typed).to_have_attribute("data-status", "COMPLETED")
    expect(typed.locator(".desc")).to_have_text("•••••• into id com.cognisim.demo:id/password")

    page.get_by_role("button", name="Export flow…").click()
    export = page.get_by_role("dialog", name="Export the flow")
    with page.expect_download() as download:
        export.get_by_role("button", name="Check and download").click()
    expect(export.locator("#export-check")).to_have_text("Checked by the server: a valid flow of 1 step.")
    text = Path(download.value.path()).read_text()
    assert "-e SECRET_1=…" in text
    assert yaml.safe_load(text)["steps"] == [
        {"type": {"text": "${SECRET_1}", "into": {"id": "com.cognisim.demo:id/password"}}}
    ]
