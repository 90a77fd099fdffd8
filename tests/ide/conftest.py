"""A real headless Chromium (Debian's, driven by Playwright) signed in to the live stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 30_000  # generous: the machine is shared, and the stack restarts in some tests


@pytest.fixture(scope="module")
def browser(stack: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium) and CHROMIUM is not set")
    # Playwright's sync API parks a running event loop on this thread, which Django's ORM guard
    # mistakes for async code; the ORM calls here run between Playwright's calls, never inside them.
    # Set only in this process, after the stack copied its environment, and only for this module.
    with pytest.MonkeyPatch.context() as env, sync_playwright() as p:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def snap(page: Any, name: str) -> None:
    """Refresh docs/screenshots/ when asked to (IDE_SCREENSHOTS=1), so test runs leave the tree alone."""
    if os.environ.get("IDE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def set_password(username: str) -> None:
    user = get_user_model().objects.get(username=username)
    user.set_password(PASSWORD)
    user.save()


@pytest.fixture
def page(browser: Any, stack: Any, devices: Any, alice: str) -> Iterator[Any]:
    """A fresh browser context, signed in as alice through the login page."""
    from playwright.sync_api import expect

    set_password("alice")
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    page = context.new_page()
    page.goto("/login/")
    snap(page, "sign-in")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    yield page
    context.close()
