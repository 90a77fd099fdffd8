"""What every brain promises: plain-English text and the current screen in, a plan of steps out.

A brain is pure: it reads the instruction and the UI dump it is given, talks to nothing
but (for the LLM brain) its endpoint, and returns data. Running the steps, asking the
user and storing the outcome belong to the turn pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class BrainError(Exception):
    """The instruction could not be planned; `message` is written for the user, in one or two sentences."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Plan:
    """The steps a brain intends to run, in order, and one sentence saying what they do.

    `steps` are step requests exactly as `POST /api/sessions/{id}/steps/` takes them
    (`{"action": "tap", "text": "Sign in"}`), each valid under `core.steps.step_parse`.

    Question convention: when the brain must ask the user (two buttons match "OK",
    credentials are missing …), `question` holds the question and the plan's LAST step
    is `{"action": "ask_user", "prompt": question}`. The steps before it are the part of
    the instruction planned before the doubt arose; nothing after the doubtful part is
    planned, and `remaining` holds the instruction from the doubtful part on. Once the
    user has answered, the caller plans `answered(remaining, answer)` against the screen
    as it is then. Without a question, no step is `ask_user` unless the user asked for
    one ("ask me for the code").

    `remaining`: the part of the instruction that could not be planned against the
    screen the brain was given because it needs to see a later one (for instance "turn
    on Wi-Fi" after "open Settings": only the Settings screen says whether Wi-Fi is
    already on). The caller runs `steps`, dumps the screen again and plans `remaining`
    against it. It is None when the whole instruction is planned. A plan with
    `remaining` and no question always has at least one step, so re-planning progresses.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    question: str | None = None
    remaining: str | None = None


def answered(remaining: str, answer: str) -> str:
    """The text to plan once the user has answered a plan's question: the rest of the instruction, then the answer.

    The answer picks among what the question listed ("the second one", "the bottom one", "Password")
    or replaces the doubtful part of the instruction ("log in as a@b.c with password x").
    """
    return f"{remaining} [answer: {' '.join(answer.split())}]"


class Brain(Protocol):
    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        """Plan `text` against the screen `ui_xml` (a `uiautomator dump`, or None when unknown).

        Raises BrainError when the instruction cannot be planned or the brain fails.
        """
        ...
