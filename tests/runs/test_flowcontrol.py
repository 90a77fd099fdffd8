"""Control flow on the worker (devices/flowcontrol.py) against the simulated phone: repeat (times,
while visible, while not visible), retry, run_flow when, optional inner steps, nesting, failures."""

from __future__ import annotations

import copy
import time

import pytest

from devices import actions, flowcontrol
from devices.drivers.sim import DEMO, SETTINGS, SimDriver
from devices.flowcontrol import CompoundFailed


@pytest.fixture
def phone(tmp_path):
    driver = SimDriver("sim-1", tmp_path)
    actions.perform(driver, action="launch_app", params={"package": DEMO, "clear_state": True}, deadline=_later())
    return driver


def _later(seconds: float = 20) -> float:
    return time.monotonic() + seconds


def run(driver, action, **params):
    return flowcontrol.perform(driver, action=action, params=params, deadline=_later())


SIGN_IN = [
    {"action": "type", "text": "demo@example.com", "into": {"id": "email"}},
    {"action": "type", "text": "secret123", "into": {"id": "password"}},
    {"action": "tap", "id": "sign_in"},
]
SCROLL = {"action": "swipe", "direction": "up"}


def signed_in(driver):
    run(driver, "run_flow", steps=SIGN_IN)


def test_repeat_times_runs_the_block_that_often_and_reports_every_inner_step(phone):
    outcome = run(phone, "repeat", times=3, steps=[{"action": "assert_visible", "text": "Sign in", "index": 0}])
    assert outcome.result["rounds"] == 3
    assert [(r["round"], r["index"], r["status"]) for r in outcome.result["steps"]] == [
        (1, 0, "passed"),
        (2, 0, "passed"),
        (3, 0, "passed"),
    ]
    assert all(isinstance(r["duration_ms"], int) for r in outcome.result["steps"])
    assert outcome.effect["action"] == "repeat" and len(outcome.effect["steps"]) == 3


def test_repeat_while_not_visible_scrolls_until_the_row_shows(phone):
    signed_in(phone)
    outcome = run(phone, "repeat", **{"while": {"not_visible": {"text": "Item 20"}}, "steps": [SCROLL]})
    assert 1 <= outcome.result["rounds"] < 20
    actions.perform(phone, action="assert_visible", params={"text": "Item 20"}, deadline=_later())


def test_repeat_while_visible_stops_when_it_is_gone(phone):
    signed_in(phone)
    outcome = run(phone, "repeat", **{"while": {"visible": {"text": "Item 1"}}, "times": 10, "steps": [SCROLL]})
    assert 1 <= outcome.result["rounds"] < 10
    with pytest.raises(Exception, match="Item 1"):
        actions.perform(phone, action="assert_visible", params={"text": "Item 1"}, deadline=_later())


def test_a_while_that_never_ends_fails_at_the_round_limit(phone):
    with pytest.raises(CompoundFailed) as caught:
        run(
            phone,
            "repeat",
            **{"while": {"visible": {"text": "Sign in", "index": 0}}, "steps": [{"action": "screenshot"}]},
        )
    assert caught.value.code == "repeat_limit" and "after 100 rounds" in caught.value.message


def test_run_flow_when_runs_only_if_the_screen_says_so(phone):
    skipped = run(
        phone, "run_flow", when={"visible": {"text": "Sign out"}}, steps=[{"action": "tap", "text": "Sign out"}]
    )
    assert skipped.result == {"rounds": 0, "ran": False, "steps": []}
    ran = run(phone, "run_flow", when={"not_visible": {"text": "Sign out"}}, steps=SIGN_IN)
    assert ran.result["ran"] and [r["status"] for r in ran.result["steps"]] == ["passed"] * 3
    actions.perform(phone, action="assert_visible", params={"text": "Welcome, Demo!"}, deadline=_later())


def test_retry_runs_the_block_again_until_it_passes(phone):
    block = [{"action": "assert_visible", "text": "Welcome, Demo!"}]  # not signed in: fails every time
    with pytest.raises(CompoundFailed) as caught:
        run(phone, "retry", max_attempts=2, steps=block)
    assert caught.value.message.startswith("All 2 attempts failed; the last: round 2, step 1 (assert_visible)")
    assert [r["round"] for r in caught.value.details["steps"]] == [1, 2]
    assert not caught.value.retryable

    signed_in(phone)
    attempt = [SCROLL, {"action": "assert_visible", "text": "Item 30"}]  # each attempt scrolls further
    outcome = run(phone, "retry", max_attempts=10, steps=attempt)
    rows = outcome.result["steps"]
    assert outcome.result["rounds"] == rows[-1]["round"] >= 2
    assert [r["status"] for r in rows[:2]] == ["passed", "failed"] and rows[-1]["status"] == "passed"


def test_blocks_nest_and_report_their_own_inner_steps(phone):
    attempt = [
        {"action": "run_flow", "when": {"visible": {"text": "Sign in", "index": 0}}, "steps": SIGN_IN},
        {"action": "assert_visible", "text": "Welcome, Demo!"},
    ]
    outcome = run(phone, "retry", max_attempts=3, steps=attempt)
    assert outcome.result["rounds"] == 1 and outcome.result["steps"][0]["result"]["ran"] is True
    nested = outcome.result["steps"][0]["result"]["steps"]
    assert [r["action"] for r in nested] == ["type", "type", "tap"]


def test_an_optional_inner_step_may_fail_and_a_required_one_fails_the_block(phone):
    outcome = run(phone, "run_flow", when={"visible": {"text": "Sign in", "index": 0}}, steps=[
        {"action": "tap", "id": "no_such_button", "optional": True},
        {"action": "assert_visible", "id": "email"},
    ])  # fmt: skip
    rows = outcome.result["steps"]
    assert [r["status"] for r in rows] == ["failed", "passed"] and rows[0]["optional"]
    assert rows[0]["error"]["code"] == "element_not_found"

    with pytest.raises(CompoundFailed) as caught:
        run(
            phone,
            "repeat",
            times=2,
            steps=[{"action": "assert_visible", "id": "email"}, {"action": "tap", "id": "gone"}],
        )
    assert caught.value.code == "element_not_found"
    assert caught.value.message.startswith("round 1, step 2 (tap): No element with id")
    assert [r["status"] for r in caught.value.details["steps"]] == ["passed", "failed"]


class CountingPhone(SimDriver):
    """The simulated phone, counting the UI tree reads it answers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dumps = 0

    def dump_ui(self, **kwargs):
        self.dumps += 1
        return super().dump_ui(**kwargs)


def test_a_condition_reads_the_screen_once(tmp_path):
    phone = CountingPhone("sim-2", tmp_path)
    actions.perform(phone, action="launch_app", params={"package": DEMO, "clear_state": True}, deadline=_later())
    phone.dumps = 0
    skipped = run(phone, "run_flow", when={"visible": {"text": "Sign out"}}, steps=[{"action": "screenshot"}])
    assert skipped.result["ran"] is False
    assert phone.dumps == 2  # the condition, then the state the step reports (no inner step read one)
    phone.dumps = 0
    outcome = run(phone, "repeat", times=3, **{"while": {"visible": {"text": "Sign in", "index": 0}}}, steps=[
        {"action": "screenshot"},
    ])  # fmt: skip
    # Per round: the condition, and the screenshot step's read of the screen after it.
    assert outcome.result["rounds"] == 3 and phone.dumps == 3 * 2


def test_conditions_and_inner_steps_take_states_and_relations(tmp_path):
    phone = SimDriver("sim-3", tmp_path)
    actions.perform(phone, action="launch_app", params={"package": SETTINGS}, deadline=_later())
    bluetooth_off = {"id": "bluetooth_switch", "checked": False}
    outcome = run(phone, "repeat", times=3, **{"while": {"visible": bluetooth_off}}, steps=[
        {"action": "tap", "id": "android:id/title", "above": {"text": "Airplane mode"}},  # Bluetooth's row
    ])  # fmt: skip
    assert outcome.result["rounds"] == 1
    (row,) = outcome.result["steps"]
    assert row["result"]["element"]["text"] == "Bluetooth"
    ran = run(phone, "run_flow", when={"visible": {"text": "Wi-Fi", "child_of": {"id": "recycler_view"}}}, steps=[
        {"action": "assert_visible", "id": "bluetooth_switch", "checked": True, "below": {"text": "Wi-Fi"}},
        {"action": "assert_not_visible", "id": "bluetooth_switch", "enabled": False, "timeout_ms": 200},
    ])  # fmt: skip
    assert ran.result["ran"] and [r["status"] for r in ran.result["steps"]] == ["passed", "passed"]


def test_a_condition_of_both_kinds_holds_when_both_do(phone):
    """`{visible, not_visible}`: both must hold (Maestro's `when` with both); a repeat stops once either fails."""
    both = {"visible": {"text": "Email"}, "not_visible": {"text": "Welcome, Demo!"}}
    tap = [{"action": "assert_visible", "text": "Sign in", "index": 0}]
    assert run(phone, "run_flow", when=both, steps=tap).result["ran"] is True
    assert run(phone, "run_flow", when={**both, "visible": {"text": "Item 1"}}, steps=tap).result["ran"] is False
    assert run(phone, "run_flow", when={**both, "not_visible": {"text": "Email"}}, steps=tap).result["ran"] is False
    outcome = run(phone, "repeat", times=5, steps=SIGN_IN, **{"while": both})
    assert outcome.result["rounds"] == 1  # signed in: "Welcome, Demo!" shows, so the condition no longer holds


class Killed(BaseException):
    """The worker dies: nothing after this point runs."""


def dying_after(saves, journal):
    """A journal's `save` that keeps what it saves in `journal` and kills the block after `saves` saves."""

    def save(entries):
        journal[:] = copy.deepcopy(entries)
        if sum("row" in e for e in entries) >= saves:
            raise Killed

    return save


def typed(driver):
    return [e["args"]["text"] for e in driver.action_log() if e["op"] == "input_text"]


def test_a_block_resumed_from_its_journal_goes_on_after_its_last_saved_inner_step(phone):
    steps = [{"action": "type", "text": "a", "into": {"id": "email"}}, {"action": "sleep", "ms": 10}]
    journal: list = []
    with pytest.raises(Killed):
        flowcontrol.perform(
            phone,
            action="repeat",
            params={"times": 4, "steps": steps},
            deadline=_later(),
            progress=flowcontrol.Progress(save=dying_after(5, journal)),  # round 3's type saved, its sleep not yet
        )
    assert typed(phone) == ["a"] * 3
    outcome = flowcontrol.perform(
        phone,
        action="repeat",
        params={"times": 4, "steps": steps},
        deadline=_later(),
        progress=flowcontrol.Progress(entries=journal),
    )
    assert typed(phone) == ["a"] * 4  # each round typed once, over both attempts
    actions.perform(phone, action="assert_visible", params={"text": "aaaa"}, deadline=_later())
    rows = outcome.result["steps"]
    assert [(r["round"], r["index"], r["status"]) for r in rows] == [
        (n, i, "passed") for n in range(1, 5) for i in range(2)
    ]  # every inner step reported once
    assert rows[0]["result"] == journal[0]["row"]["result"] and len(outcome.effect["steps"]) == 8


def test_a_resumed_block_replays_its_conditions_and_nested_blocks(tmp_path):
    phone = CountingPhone("sim-4", tmp_path)
    actions.perform(phone, action="launch_app", params={"package": DEMO, "clear_state": True}, deadline=_later())
    inner = {"action": "repeat", "times": 2, "steps": [{"action": "type", "text": "b", "into": {"id": "email"}}]}
    params = {"times": 3, "while": {"visible": {"id": "email"}}, "steps": [inner]}
    journal: list = []
    with pytest.raises(Killed):
        progress = flowcontrol.Progress(save=dying_after(3, journal))  # round 2's first type saved
        flowcontrol.perform(phone, action="repeat", params=params, deadline=_later(), progress=progress)
    assert typed(phone) == ["b"] * 3 and [e.get("seen") for e in journal if "seen" in e] == [True, True]
    phone.dumps = 0
    outcome = flowcontrol.perform(
        phone, action="repeat", params=params, deadline=_later(), progress=flowcontrol.Progress(entries=journal)
    )
    assert typed(phone) == ["b"] * 6
    # Read live: round 2's last type (its field, the screen after), round 3's condition and its two types; what is
    # replayed reads nothing.
    assert phone.dumps == 2 + 1 + 2 * 2
    assert outcome.result["rounds"] == 3
    nested = [r["result"]["steps"] for r in outcome.result["steps"]]
    assert [[(r["round"], r["status"]) for r in rows] for rows in nested] == [[(1, "passed"), (2, "passed")]] * 3
