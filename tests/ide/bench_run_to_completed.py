"""A click in the IDE → the step's COMPLETED badge, against the bare socket round trip of the same step in the
same run (docs/ide.md, docs/performance.md). A benchmark, not a test: run it by path,
`pytest tests/ide/bench_run_to_completed.py -s`; `IDE_BENCH_STEPS` sets the count (default 50).

Three figures, interleaved so they share the machine's mood:
- Run: a click on the composer's Run button (an instant `press_key`) → its row shows COMPLETED;
- screen: a click on the device's screen, on an element (recorded as `tap {id: title}`) → COMPLETED;
- socket: the same two steps sent by a plain WebSocket client (`EXECUTE_SINGLE` → `STEP_STATUS COMPLETED`), on
  a second session (the other simulated device, the same demo app open), so the page has nothing to do
  meanwhile. Every step must end COMPLETED: a failed one (a tap on an element that is not there waits
  for it for seconds) would measure something else.
Neither step changes the screen, so no screen capture is in any of them. The page waits for each badge with a
MutationObserver (no polling in the page while it is measured). Target: p50(click) ≤ 2 × p50(socket).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ide.pages import centre, compose, open_session, screen_point, tree_node
from tests.live import Rest, Socket, step_done, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(1800)]

STEPS = int(os.environ.get("IDE_BENCH_STEPS", "50"))
WARM_UP = 5
APP = "com.cognisim.demo"  # what the IDE's new-session form opens
KEY = {"action": "press_key", "key": "volume_up"}
TAP = {"action": "tap", "id": "title"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def socket_round_trip(sock: Socket, step: dict[str, Any]) -> float:
    started = time.perf_counter()
    sock.send({"type": "EXECUTE_SINGLE", "step": step, "request_id": "b"})
    ack = sock.wait_for(lambda m: m.get("type") == "ACK" and m.get("request_id") == "b")
    done = sock.wait_for(step_done(ack["step_id"]))
    elapsed = (time.perf_counter() - started) * 1000
    assert done["status"] == "COMPLETED", done
    return elapsed


# Resolves window.done once row `n` of the step list shows COMPLETED.
AWAIT_ROW = """n => { window.done = new Promise((resolve) => {
  const check = () => {
    const row = document.querySelectorAll('#steps .step')[n];
    if (row && row.dataset.status === 'COMPLETED') { observer.disconnect(); resolve(); }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.querySelector('#steps'),
                   {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status']});
  check();
}); }"""


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<28} p50 {percentile(ms, 0.5):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   "
        f"mean {statistics.fmean(ms):7.1f} ms"
    )


def test_click_to_completed_badge_against_the_socket(page: Page, devices: Any, stack: Any, alice: str) -> None:
    open_session(page, devices[0].serial, "Click → COMPLETED benchmark")
    reply = Rest(stack.base_url, alice).post("/api/sessions/", {"device": devices[1].serial, "app": {"package": APP}})
    other = reply.body["id"]
    sock = Socket(stack.ws_url(other, "last_seq=0"), token=alice)
    wait_ready(sock)
    compose(page, "press_key", key="volume_up")
    run = page.get_by_role("button", name="Run", exact=True)
    title = screen_point(page, *centre(tree_node(page, id="title")["bounds"]))
    socket_ms: list[float] = []
    n = 0
    for i in range(STEPS + WARM_UP):
        for click in (run.click, lambda: page.mouse.click(*title)):
            page.evaluate(AWAIT_ROW, n)
            click()
            page.evaluate("window.done")
            n += 1
        for step in (KEY, TAP):
            ms = socket_round_trip(sock, step)
            if i >= WARM_UP:
                socket_ms.append(ms)
    expect(page.locator("#steps .step")).to_have_count(n)
    sock.close()

    measured = page.evaluate(
        """() => performance.getEntriesByName('run-to-completed').map(m => {
             const step = window.cognisim.state.steps.get(m.detail.stepId);
             return [step.action, JSON.stringify(step.params), m.duration];
           })"""
    )
    by_run = [ms for action, _, ms in measured if action == "press_key"][WARM_UP:]
    by_screen = [ms for action, params, ms in measured if action == "tap" and params == '{"id":"title"}'][WARM_UP:]
    assert len(by_run) == len(by_screen) == STEPS and len(socket_ms) == 2 * STEPS
    pings = page.evaluate(
        """async () => {
             const out = [];
             for (let i = 0; i < 30; i++) {
               const t = performance.now();
               await window.cognisim.socket.request({type: 'PING'});
               out.push(performance.now() - t);
             }
             return out;
           }"""
    )
    socket_p50 = percentile(socket_ms, 0.5)
    print(f"\n{STEPS} of each, interleaved, after {WARM_UP} warm-up rounds (SQLite unless DATABASE_URL):")
    print(line("click Run → COMPLETED", by_run))
    print(line("click screen → COMPLETED", by_screen))
    print(line("socket step → COMPLETED", socket_ms))
    print(line("browser PING → PONG", pings))
    print(
        f"ratio click/socket p50: Run {percentile(by_run, 0.5) / socket_p50:.2f}×, "
        f"screen {percentile(by_screen, 0.5) / socket_p50:.2f}× (target ≤ 2×)"
    )
