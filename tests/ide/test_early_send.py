"""What a tester sends before the session socket is open (the page shows READY from the server's page at
once, the socket opens a moment later) waits for it and goes out once it is: nothing typed is dropped."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sessions.models import Step
from tests.ide.pages import compose, finished, open_session
from turns.models import Turn

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The page's session sockets stay CONNECTING until the test calls window.openSockets(); other sockets are real.
HOLD_SESSION_SOCKETS = """
(() => {
  const Real = window.WebSocket;
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  window.openSockets = () => release();
  class Held {
    constructor(url, protocols) {
      if (!String(url).includes("/ws/sessions/")) return new Real(url, protocols);
      this.readyState = Real.CONNECTING;
      gate.then(() => {
        const ws = (this.real = new Real(url, protocols));
        ws.onopen = (e) => { this.readyState = ws.readyState; this.onopen?.(e); };
        ws.onmessage = (e) => this.onmessage?.(e);
        ws.onerror = (e) => this.onerror?.(e);
        ws.onclose = (e) => { this.readyState = ws.readyState; this.onclose?.(e); };
      });
    }
    send(data) { this.real.send(data); }
    close(code, reason) { if (this.real) this.real.close(code, reason); }
  }
  Object.assign(Held, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Held;
})();
"""


def test_a_chat_and_a_step_sent_before_the_socket_is_open_go_out_once_it_is(page: Page, devices: Any) -> None:
    session_id = open_session(page, devices[0].serial, "Early")
    page.add_init_script(HOLD_SESSION_SOCKETS)
    page.reload()
    conn = page.locator("#conn")
    expect(page.locator("#session-status")).to_have_text("READY")
    expect(conn).to_have_attribute("data-state", "connecting")

    page.get_by_label("Instruction for the agent").fill("log in")
    page.get_by_role("button", name="Send").click()
    compose(page, "press_key", key="back")
    page.get_by_role("button", name="Run", exact=True).click()
    you = page.locator("#chat-log li.chat-you").last
    expect(you).to_have_text("You log in (sent when connected)")
    expect(conn).to_have_text("Connecting… · 2 waiting to be sent")
    expect(page.locator("#composer-error")).to_be_hidden()
    assert not Turn.objects.filter(session_id=session_id).exists()

    page.evaluate("window.openSockets()")
    expect(conn).to_have_text("Live")
    expect(you).to_have_text("You log in")
    expect(page.locator("#chat-log")).not_to_contain_text("Not connected")
    finished(page.locator("#steps .step", has=page.locator(".action", has_text="Press key")))
    assert Step.objects.filter(session_id=session_id, action="press_key").count() == 1
    turn = Turn.objects.get(session_id=session_id)
    assert [m["text"] for m in turn.messages] == ["log in"]
