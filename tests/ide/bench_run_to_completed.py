"""Click "Run" → COMPLETED badge, measured in the browser (docs/ide.md). A benchmark, not a test:
run it by path, `pytest tests/ide/bench_run_to_completed.py -s`; `IDE_BENCH_STEPS` sets the count."""

from __future__ import annotations

import os
import statistics
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ide.pages import compose, open_session

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STEPS = int(os.environ.get("IDE_BENCH_STEPS", "50"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_click_run_to_completed_badge(page: Page, devices: Any) -> None:
    open_session(page, devices[0].serial, "Run → COMPLETED benchmark")
    compose(page, "press_key", key="back")  # an instant step on the simulated device
    run = page.get_by_role("button", name="Run", exact=True)
    for n in range(STEPS + 5):  # the first five warm up
        run.click()
        expect(page.locator(f'#steps .step[data-index="{n}"]')).to_have_attribute("data-status", "COMPLETED")
    measured = page.evaluate("performance.getEntriesByName('run-to-completed').map(m => m.duration)")
    assert len(measured) == STEPS + 5
    ms = measured[5:]
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    print(
        f"\nclick Run → COMPLETED badge over {len(ms)} steps: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"mean {statistics.fmean(ms):.1f} ms, max {max(ms):.1f} ms"
    )
