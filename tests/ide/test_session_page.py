"""The IDE in a real headless Chromium against the live stack: sign in, open a session, drive the device."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from core.steps import step_catalog
from sessions.models import Screen, Step, TestSession
from tests.ide.conftest import snap
from tests.ide.pages import compose, finished, open_session, press_run, run, statuses
from tests.live import Rest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

def test_a_tester_drives_a_session_from_the_browser(page: Page, devices: Any, stack: Any, alice: str) -> None:
    session_id = open_session(page, devices[0].serial, "Login smoke")
    first_screen = page.locator("#screen").get_attribute("src")

    # The composer is built from the server's step catalog (core.steps), not from a copy of it.
    catalog = {entry["action"]: entry for entry in step_catalog()}
    actions = page.locator("#action option").evaluate_all("os => os.map(o => o.value)")
    assert actions == list(catalog)
    compose(page, "press_key")
    keys = page.locator("#f-key option").evaluate_all("os => os.map(o => o.value)")
    assert keys == next(f["choices"] for f in catalog["press_key"]["fields"] if f["name"] == "key")
    expect(page.locator("#action-summary")).to_have_text(catalog["press_key"]["summary"])

    launch = finished(run(page, "launch_app", package="com.cognisim.demo", clear_state=True))
    assert statuses(page, launch) == ["QUEUED", "STARTED", "COMPLETED"]
    row = run(page, "type", text="demo@example.com", **{"into-kind": "id", "into-value": "email"})
    expect(row.locator(".desc")).to_have_text("“demo@example.com” into id email")
    finished(row)
    # Into a password field (so says the screen's tree): the composer makes it a secret, masked on the page.
    compose(page, "type", text="secret123", **{"into-kind": "id", "into-value": "password"})
    expect(page.locator("#f-secret")).to_be_checked()
    expect(page.locator("#f-text")).to_have_attribute("type", "password")
    password = press_run(page)
    expect(password.locator(".desc")).to_have_text("•••••• into id password")
    finished(password)

    # Selectors suggested from the screen: the datalist completes the chosen kind; a chip (a button,
    # reached by keyboard here) sets the kind and the value.
    compose(page, "tap", **{"selector-kind": "id"})
    options = page.locator("#f-selector-value-list option")
    expect(options.and_(page.locator("[value=sign_in]"))).to_have_count(1)
    ids = set(options.evaluate_all("os => os.map(o => o.value)"))
    assert {"email", "password", "sign_in", "title"} <= ids and "Sign in" not in ids
    page.locator("#f-selector-kind").select_option("text")
    page.locator("#f-selector-value").fill("demo@")  # what was typed into a field is never offered: it does not stay
    expect(page.locator("#f-selector-suggestions")).to_be_hidden()
    page.locator("#f-selector-value").fill("sign")
    chips = page.locator("#f-selector-suggestions").get_by_role("button")
    # "Sign in" is the title's text and the button's: each chip finds its own element, by its index (QA: the
    # title's chip tapped the button)
    expect(chips).to_have_text(["Text: Sign in (match #0)", "Text: Sign in (match #1)", "Resource id: sign_in"])
    snap(page, "suggestions")
    chips.filter(has_text="(match #1)").click()
    expect(page.locator("#f-selector-index")).to_have_value("1")
    page.locator("#f-selector-value").fill("sign")
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
    assert png.body() == Screen.objects.get(session_id=session_id, screen_hash=tap_screen).picture.read()
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
    expect(page.locator("#session-status")).to_have_attribute("data-status", "WAITING_INPUT")
    expect(page.locator("#session-status")).to_have_text("WAITING FOR INPUT")
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

    # Export: the flow lists the session's passing steps, in order, and opens the app first.
    page.get_by_role("button", name="Export flow…").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Check and download").click()
    flow = Path(download.value.path()).read_text()
    parsed = yaml.safe_load(flow)
    passing = Step.objects.filter(session_id=session_id, status="COMPLETED").exclude(action="ask_user")
    expected = list(passing.order_by("index").values_list("action", flat=True))
    assert [next(iter(step)) for step in parsed["steps"]] == expected
    assert parsed["name"] == "Login smoke" and parsed["app"] == "com.cognisim.demo"
    assert parsed["steps"][1] == {"type": {"text": "demo@example.com", "into": {"id": "email"}}}
    page.get_by_role("button", name="Close").click()

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


def test_the_session_limit_is_explained_with_stop_buttons(page: Page, devices: Any, stack: Any, alice: str) -> None:
    rest = Rest(stack.base_url, alice)
    opened = [rest.post("/api/sessions/", {"device": d.serial, "name": f"On {d.serial}"}).body for d in devices]
    page.goto("/")
    page.get_by_role("button", name="Open session").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("2 is the most you can have at once")
    expect(page.locator("#devices .badge.dev-busy")).to_have_count(2)
    snap(page, "home")

    # Stop one of them from the message itself; then there is room for a new one.
    alert.get_by_role("button", name=f"Stop On {devices[0].serial}").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    stopped = TestSession.objects.get(pk=opened[0]["id"])
    assert stopped.status in TestSession.TERMINAL
    expect(page.locator(f"#sessions tr[data-session='{stopped.pk}'] .badge")).to_have_text("COMPLETED · no steps")
    page.get_by_role("button", name="Open session").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}/$"))
    rest.post(f"/api/sessions/{opened[1]['id']}/stop/")
    rest.post(f"/api/sessions/{page.url.rstrip('/').rsplit('/', 1)[1]}/stop/")

    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_someone_elses_session_is_a_friendly_404_and_there_is_a_favicon(
    page: Page, devices: Any, stack: Any, bob: str
) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto("/")
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/favicon.svg")
    icon = page.request.get("/favicon.ico")
    assert icon.ok and icon.headers["content-type"] == "image/svg+xml" and b"<svg" in icon.body()
    expect(page.locator("#devices-live")).to_have_attribute("data-state", "live")
    assert problems == []

    bobs = Rest(stack.base_url, bob).post("/api/sessions/", {"device": devices[0].serial}).body["id"]
    answer = page.goto(f"/sessions/{bobs}/")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("belongs to someone else")
    page.get_by_role("navigation", name="Where to go").get_by_role("link", name="Your sessions").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    Rest(stack.base_url, bob).post(f"/api/sessions/{bobs}/stop/")


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
    expect(page.locator("#draft-status")).to_have_text("Sent 16 steps; the draft stays for another run.")
    expect(page.locator("#draft-count")).to_have_text("16 steps")
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
