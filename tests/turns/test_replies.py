"""The words of the agent's replies."""

from __future__ import annotations

import pytest

from turns.brains import answered, remaining_said
from turns.services import _not_run


@pytest.mark.parametrize(
    ("remaining", "said"),
    [
        ("turn on wifi", "turn on wifi"),
        ("[done: open Settings] turn on  wifi", "turn on wifi"),
        (answered("[done: open Settings; tap About] tap it", "the second one"), "tap it"),
        (answered(answered("log in", "a@b.c"), "x ] y"), "log in"),
        ("[done: open Settings]", ""),
    ],
)
def test_the_rest_of_an_instruction_is_quoted_in_the_users_words(remaining: str, said: str) -> None:
    assert remaining_said(remaining) == said


def test_a_failed_turn_names_the_rest_it_did_not_go_on_with() -> None:
    reply = _not_run("Step 2 (assert_visible) did not pass: not shown.", [], "[done: open Settings] turn on wifi")
    assert reply == 'Step 2 (assert_visible) did not pass: not shown. I did not go on with "turn on wifi".'
