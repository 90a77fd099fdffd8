"""The accumulation window: pure decisions over timestamps, no clocks and no sleeps."""

from __future__ import annotations

import pytest

from turns.accumulate import BASE_S, CAP_S, Decision, belongs_to_turn, group_turns, unfinished, window_for

T0 = 1_000.0


def test_three_messages_100_ms_apart_are_one_turn() -> None:
    messages = [(T0, "open settings"), (T0 + 0.1, "turn on wifi"), (T0 + 0.2, "go back")]
    assert group_turns(messages) == [messages]


def test_two_messages_5_s_apart_are_two_turns() -> None:
    first, second = (T0, "open settings"), (T0 + 5.0, "turn on wifi")
    assert group_turns([first, second]) == [[first], [second]]


def test_even_an_unfinished_message_does_not_wait_5_s() -> None:
    first, second = (T0, "open settings and"), (T0 + 5.0, "turn on wifi")
    assert group_turns([first, second]) == [[first], [second]]


def test_a_finished_message_gets_the_base_window() -> None:
    decision = window_for([(T0, "open settings")])
    assert decision == Decision(BASE_S, f"base {BASE_S:g} s")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("open settings,", "it ends with ','"),
        ("open settings and", "it ends with 'and'"),
        ("open settings, THEN", "it ends with 'then'"),
        ('type "hello', "an open quote"),
        ("type “hello", "an open quote"),
        ("do this:", "it ends with ':'"),
        ("tap ok (the top", "an open parenthesis"),
        ("wait for…", "it ends with '…'"),
    ],
)
def test_unfinished_text_stretches_the_window(text: str, why: str) -> None:
    assert unfinished(text) == why
    decision = window_for([(T0, text)])
    assert decision.wait_s == pytest.approx(BASE_S + 1.5)
    assert f"looks unfinished ({why})" in decision.reason


@pytest.mark.parametrize("text", ["open settings", 'type "hello"', "tap Sign in.", "go back!", "and so on"])
def test_finished_text_does_not(text: str) -> None:
    assert unfinished(text) is None


def test_a_pause_that_ends_a_finished_message_ends_the_turn_but_not_after_a_comma() -> None:
    assert group_turns([(T0, "open settings"), (T0 + 1.2, "turn on wifi")]) == [
        [(T0, "open settings")],
        [(T0 + 1.2, "turn on wifi")],
    ]
    joined = [(T0, "open settings,"), (T0 + 1.2, "turn on wifi")]
    assert group_turns(joined) == [joined]


def test_fast_messages_stretch_the_window_and_slow_ones_do_not() -> None:
    fast = window_for([(T0, "open"), (T0 + 0.2, "settings"), (T0 + 0.4, "now")])
    assert fast.wait_s == pytest.approx(BASE_S + 2 * 0.5)
    assert "messages arrive fast (2 gap(s) under 1 s, shortest 200 ms)" in fast.reason
    slow = window_for([(T0, "open settings"), (T0 + 0.9 + 0.5, "now")])
    assert slow.wait_s == BASE_S and "fast" not in slow.reason


def test_the_window_never_passes_the_cap() -> None:
    burst = [(T0 + i * 0.05, "and") for i in range(10)]
    assert window_for(burst).wait_s == pytest.approx(BASE_S + 1.5 + 3 * 0.5)
    assert window_for(burst).wait_s <= CAP_S
    decision = window_for(burst, cap=2.0)
    assert decision.wait_s == 2.0 and decision.reason.endswith("capped at 2 s")
    assert window_for(burst, base=3.0).wait_s == CAP_S


def test_only_recent_gaps_count() -> None:
    old_burst = [(T0, "a"), (T0 + 0.1, "b"), (T0 + 0.2, "c"), (T0 + 2, "d"), (T0 + 4, "e"), (T0 + 6, "f")]
    assert window_for(old_burst).wait_s == BASE_S


def test_belongs_to_turn_is_inclusive_at_the_edge() -> None:
    decision = Decision(0.8, "base 0.8 s")
    assert belongs_to_turn(T0, T0 + 0.8, decision)
    assert not belongs_to_turn(T0, T0 + 0.801, decision)


def test_no_messages_and_custom_base() -> None:
    assert window_for([]).wait_s == BASE_S
    assert window_for([(T0, "x")], base=0.3).wait_s == 0.3
    assert group_turns([]) == []


def test_a_long_conversation_groups_as_people_type_it() -> None:
    messages = [
        (T0, "open settings,"),
        (T0 + 1.9, "turn on wifi"),
        (T0 + 2.0, "and bluetooth"),
        (T0 + 10.0, "now take a screenshot"),
        (T0 + 20.0, "log in as demo@example.com"),
        (T0 + 20.3, "with password secret123"),
    ]
    assert [len(turn) for turn in group_turns(messages)] == [3, 1, 2]
