"""The IDE in a real headless Chromium against the live stack: sign in, open a session, drive the device."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from sessions.models import Screen, Step, TestSession
from tests.ide.conftest import snap
from tests.live import Rest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Every status each step row showed, in order (a row may pass through a status faster than a poll).
WATCH_STATUSES = """
window.seen = {};
new MutationObserver((records) => {
  for (const r of records) {
    const id = r.target.dataset.stepId;
    if (!id) continue;
    const list = (window.seen[id] = window.seen[id] || []);
    if (r.oldValue) list.push(r.oldValue);
  }
  for (const row of document.querySelectorAll('#steps .step')) {
    row.dataset.final = row.dataset.status;
  }
}).observe(document.querySelector('#steps'), {
  subtree: true, attributes: true, attributeFilter: ['data-status'], attributeOldValue: true,
});
"""


def statuses(page: Page, step_id: int) -> list[str]:
    """The statuses a row showed, oldest first, ending with the one it shows now."""
    seen = page.evaluate(f"(window.seen['{step_id}'] || [])")
    return [*seen, page.locator(f"#step-{step_id}").get_attribute("data-status")]


def open_session(page: Page, serial: str, name: str) -> str:
    page.goto("/")
    page.get_by_label("Device", exact=True).select_option(serial)
    page.get_by_label("Session name").fill(name)
    page.get_by_role("button", name="Open session").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}/$"))
    expect(page.locator("#session-status")).to_have_text("READY")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#screen")).to_have_attribute("src", re.compile(r"/screens/[0-9a-f]{64}\.png$"))
    page.evaluate(WATCH_STATUSES)
    return page.url.rstrip("/").rsplit("/", 1)[1]


def compose(page: Page, action: str, **fields: Any) -> None:
    """Fill the composer: `fields` are input ids without the `f-` prefix; bools tick checkboxes."""
    page.get_by_label("Action", exact=True).select_option(action)
    for name, value in fields.items():
        box = page.locator(f"#f-{name}")
        if isinstance(value, bool):
            box.set_checked(value)
        elif box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(str(value))
        else:
            box.fill(str(value))


def run(page: Page, action: str, **fields: Any) -> Any:
    """Compose a step, press Run, and return the row of the step it added."""
    compose(page, action, **fields)
    return press_run(page)


def press_run(page: Page) -> Any:
    """Press Run on what the composer holds and return the row of the step it added."""
    before = page.locator("#steps .step").count()
    page.get_by_role("button", name="Run", exact=True).click()
    row = page.locator("#steps .step").nth(before)
    expect(row).to_have_attribute("data-index", str(before))
    return row


def finished(row: Any, status: str = "COMPLETED") -> int:
    expect(row).to_have_attribute("data-status", status)
    return int(row.get_attribute("data-step-id"))


def test_a_tester_drives_a_session_from_the_browser(page: Page, devices: Any, stack: Any, alice: str) -> None:
    session_id = open_session(page, devices[0].serial, "Login smoke")
    first_screen = page.locator("#screen").get_attribute("src")

    launch = finished(run(page, "launch_app", package="com.cognisim.demo", clear_state=True))
    assert statuses(page, launch) == ["QUEUED", "STARTED", "COMPLETED"]
    row = run(page, "type", text="demo@example.com", **{"into-kind": "id", "into-value": "email"})
    expect(row.locator(".desc")).to_have_text("“demo@example.com” into id email")
    finished(row)
    finished(run(page, "type", text="secret123", **{"into-kind": "id", "into-value": "password"}))

    # Selectors suggested from the screen: the datalist completes the chosen kind; a chip (a button,
    # reached by keyboard here) sets the kind and the value.
    compose(page, "tap", **{"selector-kind": "id"})
    options = page.locator("#f-selector-value-list option")
    expect(options.and_(page.locator("[value=sign_in]"))).to_have_count(1)
    ids = set(options.evaluate_all("os => os.map(o => o.value)"))
    assert {"email", "password", "sign_in", "title"} <= ids and "Sign in" not in ids
    page.locator("#f-selector-kind").select_option("text")
    page.locator("#f-selector-value").fill("sign")
    chips = page.locator("#f-selector-suggestions").get_by_role("button")
    expect(chips).to_have_text(["Text: Sign in", "Resource id: sign_in"])
    snap(page, "suggestions")
    chips.filter(has_text="Resource id: sign_in").press("Enter")  # focus and key in one go: chips re-render
    expect(page.locator("#f-selector-kind")).to_have_value("id")
    expect(page.locator("#f-selector-value")).to_have_value("sign_in")
    expect(page.locator("#f-selector-value")).to_be_focused()
    tapped = finished(press_run(page))

    # After the screen changed, the suggestions are the new screen's.
    compose(page, "assert_visible", **{"selector-kind": "text", "selector-value": "welcome"})
    page.locator("#f-selector-suggestions").get_by_role("button", name="Text: Welcome, Demo!").click()
    expect(page.locator("#f-selector-value")).to_have_value("Welcome, Demo!")
    welcome_row = press_run(page)
    welcome = finished(welcome_row)
    assert statuses(page, welcome) == ["QUEUED", "STARTED", "COMPLETED"]
    expect(page.locator("#screen")).not_to_have_attribute("src", first_screen or "")

    # Each step's screen on demand: the tap's is the screen it led to; the check, which changed
    # nothing, shows the same one.
    tap_screen = Step.objects.get(pk=tapped).effect["screen"]
    assert Step.objects.get(pk=welcome).effect["screen"] == tap_screen
    expect(welcome_row.get_by_role("button", name=re.compile(r"^Screen after step"))).to_have_attribute(
        "data-screen", tap_screen
    )
    page.locator(f"#step-{tapped}").get_by_role("button", name=re.compile(r"^Screen after step")).click()
    shot = page.locator("#shot-dialog")
    expect(shot).to_be_visible()
    src = f"/api/sessions/{session_id}/screens/{tap_screen}.png"
    expect(page.locator("#shot-img")).to_have_attribute("src", src)
    page.wait_for_function("() => document.querySelector('#shot-img').naturalWidth > 0")
    png = page.request.get(src)
    assert png.ok and png.headers["content-type"] == "image/png"
    assert png.body()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.body() == bytes(Screen.objects.get(session_id=session_id, screen_hash=tap_screen).png)
    snap(page, "step-screen")
    page.keyboard.press("Escape")
    expect(shot).to_be_hidden()

    # A failed check: the row says so in words, the session goes on.
    failed = run(page, "assert_visible", **{"selector-kind": "text", "selector-value": "Nothing like this"})
    failed_id = finished(failed, "ERROR")
    expect(failed.locator(".error")).to_contain_text("Check failed")
    expect(failed.locator(".error")).to_contain_text("Nothing like this")
    assert statuses(page, failed_id) == ["QUEUED", "STARTED", "ERROR"]

    # The composer refuses a bad step naming the field, and nothing is queued.
    compose(page, "launch_app", package="not a package")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#composer-error")).to_contain_text("package")
    expect(page.locator("#f-package")).to_have_attribute("aria-invalid", "true")

    # The test asks the tester; the answer completes the step.
    asking = run(page, "ask_user", prompt="What code did the SMS bring?")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("What code did the SMS bring?")
    expect(page.locator("#session-status")).to_have_text("WAITING_INPUT")
    snap(page, "input-prompt")
    dialog.get_by_label("Your answer").fill("424242")
    dialog.get_by_role("button", name="Send answer").click()
    asked = finished(asking)
    expect(dialog).to_be_hidden()
    assert Step.objects.get(pk=asked).result == {"value": "424242"}

    # Clicking the screen taps there, in device pixels.
    page.locator("#screen").click(position={"x": 10, "y": 10})
    tap = page.locator("#steps .step").last
    expect(tap.locator(".desc")).to_have_text(re.compile(r"^\(\d+, \d+\)$"))
    finished(tap)
    x, y = Step.objects.get(pk=tap.get_attribute("data-step-id")).params.values()
    width, height = devices[0].screen_width, devices[0].screen_height
    assert 0 < x < width * 0.1 and 0 < y < height * 0.1

    # Chat: the agent plans and runs the instruction, and its answer shows in the panel.
    page.get_by_label("Instruction for the agent").fill("open settings and turn on wifi")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-log li")).to_have_count(2)
    expect(page.locator("#chat-log li").last).to_contain_text("Wi-Fi", timeout=30_000)
    snap(page, "session")

    # Export: the flow lists the session's steps, in order.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export flow (YAML)").click()
    flow = Path(download.value.path()).read_text()
    actions = re.findall(r"^  - action: (\w+)$", flow, re.M)
    assert actions == list(
        Step.objects.filter(session_id=session_id).order_by("index").values_list("action", flat=True)
    )
    parsed = yaml.safe_load(flow)
    assert parsed["name"] == "Login smoke"
    assert parsed["steps"][1] == {"action": "type", "text": "demo@example.com", "into": {"id": "email"}}

    page.get_by_role("button", name="Stop session").click()
    expect(page.locator("#session-status")).to_have_text(re.compile("COMPLETED|CANCELLED"))
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    expect(page.locator("#page-error")).to_contain_text("This session is over")
    assert TestSession.objects.get(pk=session_id).status in {"COMPLETED", "CANCELLED"}

    # The page matches the database: every step once, with its final status.
    shown = page.locator("#steps .step").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.index), r.dataset.status])"
    )
    stored = Rest(stack.base_url, alice).get(f"/api/sessions/{session_id}/steps/").body
    wire = {"FAILED": "ERROR", "RUNNING": "STARTED"}
    assert shown == [[s["index"], wire.get(s["status"], s["status"])] for s in stored]

    # Drawn afresh from the history, every completed step offers the screen the steps API names.
    page.reload()
    screens = {str(s["id"]): (s["effect"] or {}).get("screen") for s in stored if s["status"] == "COMPLETED"}
    assert sum(1 for hash_ in screens.values() if hash_) >= 6
    page.wait_for_function(
        """([screens, count]) => document.querySelectorAll('#steps .step').length === count
          && Object.entries(screens).every(([id, hash]) =>
            (document.querySelector(`#step-${id} .shot`)?.dataset.screen ?? null) === hash)""",
        arg=[screens, len(stored)],
    )


def test_the_session_limit_is_explained(page: Page, devices: Any, stack: Any, alice: str) -> None:
    rest = Rest(stack.base_url, alice)
    for device in devices:
        assert rest.post("/api/sessions/", {"device": device.serial}).status == 201
    page.goto("/")
    page.get_by_role("button", name="Open session").click()
    expect(page.get_by_role("alert")).to_contain_text("2 is the most you can have at once")
    expect(page.locator("#devices .badge.dev-busy")).to_have_count(2)
    snap(page, "home")
    for session in rest.get("/api/sessions/").body:
        rest.post(f"/api/sessions/{session['id']}/stop/")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_the_page_reconnects_after_the_server_drops_and_matches_the_database(
    page: Page, devices: Any, stack: Any, alice: str
) -> None:
    session_id = open_session(page, devices[1].serial, "Reconnect")
    for _ in range(8):  # a run of a few seconds: the web server dies in its middle
        compose(page, "sleep", ms=400)
        page.get_by_role("button", name="Add to draft").click()
        compose(page, "press_key", key="back")
        page.get_by_role("button", name="Add to draft").click()
    expect(page.locator("#draft li")).to_have_count(16)
    page.get_by_role("button", name="Run all").click()
    expect(page.locator("#draft-count")).to_have_text("0 steps")
    expect(page.locator('#steps .step[data-index="2"]')).to_have_attribute("data-status", "COMPLETED")

    conn = page.locator("#conn")
    old = stack.kill("web")
    unfinished = Step.objects.filter(session_id=session_id).exclude(status__in=Step.TERMINAL).count()
    assert unfinished > 0, "the run ended before the server went down; make it longer"
    expect(conn).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    stack.wait_back("web", old)
    expect(conn).to_have_attribute("data-state", "live")

    last = page.locator('#steps .step[data-index="15"]')
    expect(last).to_have_attribute("data-status", "COMPLETED")
    session = TestSession.objects.get(pk=session_id)
    expect(conn).to_have_attribute("data-last-seq", str(session.last_seq))
    shown = page.locator("#steps .step").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.stepId), Number(r.dataset.index), r.dataset.status])"
    )
    stored = list(Step.objects.filter(session_id=session_id).order_by("index").values_list("id", "index", "status"))
    assert shown == [list(row) for row in stored]
    assert len(shown) == 16 and {status for _, _, status in shown} == {"COMPLETED"}
