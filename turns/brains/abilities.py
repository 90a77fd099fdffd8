"""What a brain can do, in words, generated from the step schema (`core.steps`).

A refusal lists these, so its message can never promise an action the schema does not have:
every phrase belongs to one action of `core.steps.ACTIONS` (an action without a phrase is a
test failure, and a phrase for an action the schema dropped is never said), and the key names
are the schema's own.
"""

from __future__ import annotations

from functools import cache

from core.steps import ACTIONS, KEYS

PHRASES: dict[str, str] = {
    "launch_app": "open or restart an app (with its data cleared if you like)",
    "stop_app": "close an app",
    "tap": "tap something on the screen",
    "long_press": "long-press it",
    "type": "type into a field (sign in with an email and password, for instance)",
    "clear_text": "clear a field",
    "swipe": "swipe",
    "scroll_until_visible": "scroll to something",
    "press_key": "press a key ({keys})",
    "assert_visible": "check that something is shown",
    "assert_not_visible": "check that it is not shown",
    "wait_for": "wait for something to appear",
    "screenshot": "take a screenshot",
    "ask_user": "ask you for something",
    "sleep": "pause for a few seconds",
}
"""One phrase per action of the schema, in the schema's order when said."""
COMPOSED = {"turn a setting on or off": ("tap",)}
"""What the planner composes from actions, said only while those actions exist."""
_KEYS_SAID = ("back", "home", "enter", "del", "tab", "volume_up", "volume_down", "app_switch")


def _keys() -> str:
    said = [key.replace("_", " ") for key in _KEYS_SAID if key in KEYS]
    return ", ".join([*said, "…"])


@cache
def can_do() -> str:
    """ "I can open or restart an app …, or ask you for something." from the schema's actions."""
    phrases = [PHRASES[action].format(keys=_keys()) for action in ACTIONS if action in PHRASES]
    phrases += [phrase for phrase, needs in COMPOSED.items() if all(action in ACTIONS for action in needs)]
    return "I can " + ", ".join(phrases[:-1]) + ", or " + phrases[-1] + "."
