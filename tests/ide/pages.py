"""Helpers for driving the IDE's pages in the browser tests."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

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
}).observe(document.querySelector('#steps'), {
  subtree: true, attributes: true, attributeFilter: ['data-status'], attributeOldValue: true,
});
"""


def statuses(page: Page, step_id: int) -> list[str]:
    """The statuses a row showed, oldest first, ending with the one it shows now."""
    seen = page.evaluate(f"(window.seen['{step_id}'] || [])")
    return [*seen, page.locator(f"#step-{step_id}").get_attribute("data-status")]


def open_session(page: Page, serial: str, name: str) -> str:
    """Open a session from the home page (the demo app opens at setup) and wait for its screen and tree."""
    page.goto("/")
    page.get_by_label("Device", exact=True).select_option(serial)
    page.get_by_label("Session name").fill(name)
    page.get_by_role("button", name="Open session").click()
    expect(page).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}/$"))
    expect(page.locator("#session-status")).to_have_text("READY")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#screen")).to_have_attribute("src", re.compile(r"/screens/[0-9a-f]{64}\.png$"))
    expect(page.locator("#tree .node").first).to_be_visible()
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


def run(page: Page, action: str, **fields: Any) -> Locator:
    """Compose a step, press Run, and return the row of the step it added."""
    compose(page, action, **fields)
    return press_run(page)


def press_run(page: Page) -> Locator:
    """Press Run on what the composer holds and return the row of the step it added."""
    before = page.locator("#steps .step").count()
    page.get_by_role("button", name="Run", exact=True).click()
    row = page.locator("#steps .step").nth(before)
    expect(row).to_have_attribute("data-index", str(before))
    return row


def new_row(page: Page, before: int) -> Locator:
    """The row of the step number `before` (0-based), once it exists."""
    row = page.locator("#steps .step").nth(before)
    expect(row).to_have_attribute("data-index", str(before))
    return row


def finished(row: Locator, status: str = "COMPLETED") -> int:
    expect(row).to_have_attribute("data-status", status)
    return int(row.get_attribute("data-step-id") or 0)


def screen_point(page: Page, x: int, y: int) -> tuple[float, float]:
    """Where on the page a device pixel of the screen picture is."""
    # A new screen may be loading into the picture (naturalWidth 0 until it has): wait until it is in.
    page.wait_for_function(
        "() => { const i = document.querySelector('#screen'); return i.complete && i.naturalWidth > 0; }"
    )
    box = page.locator("#screen").bounding_box()
    assert box is not None
    width, height = page.evaluate("[document.querySelector('#screen').naturalWidth, "
                                  "document.querySelector('#screen').naturalHeight]")
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def centre(bounds: list[int]) -> tuple[int, int]:
    return (bounds[0] + bounds[2]) // 2, (bounds[1] + bounds[3]) // 2


def tree_node(page: Page, **wanted: Any) -> dict[str, Any]:
    """The first node of the screen's tree (as the page loaded it) with these attributes."""
    nodes = page.evaluate("window.cognisim.state.tree.nodes")
    return next(n for n in nodes if all(n.get(k) == v for k, v in wanted.items()))
