"""Which chat messages make one logical turn: an adaptive accumulation window.

People type an instruction as a burst of short messages ("open settings," … "then turn
on wifi"). After each message the turn waits `window_for(messages).wait_s` for another
one; a message that arrives within that window joins the turn, a later one starts the
next turn. The window starts short (`base`) and stretches when the last message looks
unfinished or when messages are arriving fast, never beyond `cap`.

Everything here is pure: timestamps are passed in (seconds, any monotonic origin), so the
turn pipeline, its logs and the tests all see the same decisions and the same reasons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

BASE_S = 0.8
CAP_S = 4.0
UNFINISHED_S = 1.5
"""Added when the last message looks unfinished."""
FAST_GAP_S = 1.0
"""Messages closer together than this count as a burst."""
PER_FAST_S = 0.5
"""Added per fast gap among the last RECENT_GAPS gaps."""
RECENT_GAPS = 3

Message = tuple[float, str]

_TRAILING_WORD = re.compile(
    r"\b(and|then|or|but|with|to|into|as|the|a|an|after|before|also|so|if|when|because|of|for|plus)\s*$",
    re.I,
)
_TRAILING_MARK = re.compile(r"(\.\.\.|…|[,:;(\-–—&+])\s*$")


@dataclass(frozen=True)
class Decision:
    wait_s: float
    """How long after the last message another one still joins the turn."""
    reason: str
    """Why the window is this long, for the logs."""


def unfinished(text: str) -> str | None:
    """Why the text looks like it goes on in the next message, or None when it looks complete."""
    text = text.rstrip()
    if text.count('"') % 2 or text.count("“") > text.count("”"):
        return "an open quote"
    if text.count("(") > text.count(")"):
        return "an open parenthesis"
    if match := _TRAILING_MARK.search(text):
        return f"it ends with {match[1]!r}"
    if match := _TRAILING_WORD.search(text):
        return f"it ends with {match[1].lower()!r}"
    return None


def window_for(
    messages: Sequence[Message], *, base: float = BASE_S, cap: float = CAP_S, fast_gap: float = FAST_GAP_S
) -> Decision:
    """The window after the last of `messages` (oldest first), with its reasons."""
    if not messages:
        return Decision(base, f"base {base:g} s (no message yet)")
    wait, reasons = base, [f"base {base:g} s"]
    why = unfinished(messages[-1][1])
    if why:
        wait += UNFINISHED_S
        reasons.append(f"+{UNFINISHED_S:g} s because the last message looks unfinished ({why})")
    gaps = [later[0] - earlier[0] for earlier, later in zip(messages, messages[1:], strict=False)][-RECENT_GAPS:]
    fast = [gap for gap in gaps if gap < fast_gap]
    if fast:
        extra = PER_FAST_S * len(fast)
        wait += extra
        shortest = min(fast) * 1000
        reasons.append(
            f"+{extra:g} s because messages arrive fast ({len(fast)} gap(s) under {fast_gap:g} s, "
            f"shortest {shortest:.0f} ms)"
        )
    if wait > cap:
        wait = cap
        reasons.append(f"capped at {cap:g} s")
    return Decision(round(wait, 3), "; ".join(reasons))


def belongs_to_turn(prev_at: float, now: float, decision: Decision) -> bool:
    """Whether a message at `now` joins the turn whose last message came at `prev_at`."""
    return now - prev_at <= decision.wait_s


def group_turns(messages: Sequence[Message], **window: float) -> list[list[Message]]:
    """Split messages (oldest first) into turns, deciding after each message as the pipeline does."""
    turns: list[list[Message]] = []
    for message in messages:
        if turns and belongs_to_turn(turns[-1][-1][0], message[0], window_for(turns[-1], **window)):
            turns[-1].append(message)
        else:
            turns.append([message])
    return turns
