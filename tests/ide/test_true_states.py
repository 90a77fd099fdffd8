"""Every state the IDE shows is true: RUNNING only while a step runs, a finished session with failures is
not green, 0 steps is not "passed", the device list follows the devices live, the chat comes back whole."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from devices.services import device_mark_offline, device_register_sim
from tests.ide.pages import finished, open_session, run
from tests.live import Rest, Socket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RECORD_THINKING = """
window.thought = false;
new MutationObserver(() => {
  if (document.querySelector('#chat-log .thinking')) window.thought = true;
}).observe(document.querySelector('#chat-log'), {childList: true, subtree: true});
"""


def test_the_badges_say_what_really_happens(page: Page, devices: Any, stack: Any, alice: str) -> None:
    session_id = open_session(page, devices[0].serial, "True states")
    badge = page.locator("#session-status")
    expect(badge).to_have_text("READY")

    # RUNNING while the step runs, and only then (the stored status stays RUNNING).
    row = run(page, "sleep", ms=1500)
    expect(row).to_have_attribute("data-status", "STARTED")
    expect(badge).to_have_text("RUNNING")
    finished(row)
    expect(badge).to_have_text("READY")
    expect(badge).to_have_attribute("data-status", "RUNNING")

    finished(run(page, "assert_visible", **{"selector-kind": "text", "selector-value": "Nothing like this"}), "ERROR")
    expect(page.locator("#steps-summary")).to_have_text("2 steps · 1 passed · 1 failed")
    page.get_by_role("button", name="Stop session").click()
    expect(badge).to_have_text("COMPLETED · 1 failed")
    expect(badge).to_have_class(re.compile(r"\bst-ERROR\b"))

    # A session that ran nothing did not pass anything.
    rest = Rest(stack.base_url, alice)
    empty = rest.post("/api/sessions/", {"device": devices[1].serial, "name": "Nothing run"}).body["id"]
    assert rest.post(f"/api/sessions/{empty}/stop/").status == 200

    page.goto("/")
    ran = page.locator(f"#sessions tr[data-session='{session_id}']")
    expect(ran.locator(".badge")).to_have_text("COMPLETED · 1 failed")
    expect(ran.locator(".result")).to_have_text("1 of 2 failed")
    idle = page.locator(f"#sessions tr[data-session='{empty}']")
    expect(idle.locator(".badge")).to_have_text("COMPLETED · no steps")
    expect(idle.locator(".result")).to_have_text("no steps")
    page.goto(f"/sessions/{empty}/")
    expect(page.locator("#session-status")).to_have_text("COMPLETED · no steps")


def test_the_device_list_is_live(page: Page, devices: Any, stack: Any, alice: str) -> None:
    page.goto("/")
    expect(page.locator("#devices-live")).to_have_attribute("data-state", "live")
    row = page.locator(f"#devices tr[data-serial='{devices[1].serial}']")
    expect(row.locator(".badge")).to_have_text("available")

    rest = Rest(stack.base_url, alice)
    session = rest.post("/api/sessions/", {"device": devices[1].serial, "name": "Taken"}).body
    expect(row.locator(".badge")).to_have_text("busy")
    expect(row.get_by_role("link", name="you — Taken")).to_have_attribute("href", f"/sessions/{session['id']}/")
    expect(page.get_by_label("Device", exact=True).locator(f"option[value='{devices[1].serial}']")).to_contain_text(
        "busy"
    )
    rest.post(f"/api/sessions/{session['id']}/stop/")
    expect(row.locator(".badge")).to_have_text("available")

    # Only for signed-in people.
    anonymous = Socket(f"ws://{stack.host}:{stack.port}/ws/devices/")
    assert anonymous.close_code() == 4401

    device_mark_offline(serial=devices[0].serial, reason="Unplugged.")
    expect(page.locator(f"#devices tr[data-serial='{devices[0].serial}'] .badge")).to_have_text("offline")
    device_register_sim(serial=devices[0].serial)
    expect(page.locator(f"#devices tr[data-serial='{devices[0].serial}'] .badge")).to_have_text("available")


def test_the_chat_thinks_and_comes_back_whole(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Chat")
    page.evaluate(RECORD_THINKING)
    page.get_by_label("Instruction for the agent").fill("open settings and turn on wifi")
    page.get_by_role("button", name="Send").click()
    log = page.locator("#chat-log li")
    expect(log.last).to_contain_text("Wi-Fi")
    assert page.evaluate("window.thought"), "no “thinking…” while the agent planned"
    expect(log).to_have_count(2)
    expect(page.locator("#chat-log .thinking")).to_have_count(0)

    # After a reload the conversation is whole: the tester's own line, then the answer.
    page.reload()
    expect(log).to_have_count(2)
    expect(log.nth(0)).to_have_text("You open settings and turn on wifi")
    expect(log.nth(1)).to_contain_text("Wi-Fi")
    expect(log.nth(1)).to_have_class(re.compile("chat-agent"))
