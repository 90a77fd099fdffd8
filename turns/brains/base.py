"""What every brain promises: plain-English text and the current screen in, a plan of steps out.

A brain is pure: it reads the instruction and the UI dump it is given, talks to nothing
but (for the LLM brain) its endpoint, and returns data. Running the steps, asking the
user and storing the outcome belong to the turn pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

REFUSALS = ("not_understood", "not_on_screen", "unsupported", "needs_value")
"""Why a brain refuses an instruction (`BrainError.code`):

- not_understood: no reading of the words is a thing it can do;
- not_on_screen: it understood, but what the instruction names is not on the screen (nor an app it knows);
- unsupported: it understood, and no step can do that (install an app, tell which state a switch is in, sleep
  5 minutes); checking that a switch is on or off is a check (the selector's `checked`);
- needs_value: a value it must have is missing and there is no way to ask for it.
`brain_failed` is the code of a brain that failed itself (an LLM endpoint down, an unreadable screen).
"""
QUESTIONS = ("ambiguous", "needs_value")
"""Why a plan asks (`Plan.code` of a plan with a question): several or only doubtful candidates, or a missing value."""


class BrainError(Exception):
    """The instruction is refused, or the brain failed; `message` is written for the user, in one or two sentences.

    `code` is one of REFUSALS, or `brain_failed`. A refusal's message says why and, when the
    words were not understood, what the brain can do (generated from the step schema).
    """

    def __init__(self, message: str, code: str = "not_understood") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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
    one ("ask me for the code"). A question asking for a secret (a password) is marked `secret` by
    the pipeline, and its answer comes back as a reference, `${_ANSWER_<n>}`: a brain types it as
    written, in a secret `type` step (the device's worker fills the value in).

    `remaining`: the part of the instruction that could not be planned against the
    screen the brain was given because it needs to see a later one (for instance "turn
    on Wi-Fi" after "open Settings": only the Settings screen says whether Wi-Fi is
    already on). The caller runs `steps`, dumps the screen again and plans `remaining`
    against it. It is None when the whole instruction is planned. A plan with
    `remaining` and no question always has at least one step, so re-planning progresses.
    The offline planner puts what it planned so far ahead of the rest (`[done: open Settings] turn
    on Wi-Fi`), so that the last round's `summary`, which the turn's reply is made of, says it all.

    `choices`: with a question, the answers that pick each candidate ("OK (1st from the top)",
    "Bluetooth"), in the order listed; empty when the answer is a value to type ("Which password?").
    Any of them, given back through `answered`, resolves the doubt. The ask_user step carries them
    too once the step schema takes `choices`.

    `code`: with a question, why it asks: "ambiguous" (several, or only doubtful, candidates) or
    "needs_value" (a value is missing). None otherwise.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    question: str | None = None
    remaining: str | None = None
    choices: list[str] = field(default_factory=list)
    code: str | None = None


_MARKS = re.compile(r"^\s*\[done:.*?\]\s*|\s*\[answer:.*$", re.S)


def remaining_said(remaining: str) -> str:
    """The rest of an instruction in the user's words, to quote back to them: without what the offline
    planner put ahead of it (`[done: …]`) and the answers `answered` put after it."""
    return " ".join(_MARKS.sub("", remaining).split())


def answered(remaining: str, answer: str) -> str:
    """The text to plan once the user has answered a plan's question: the rest of the instruction, then the answer.

    The answer picks among what the question listed ("the second one", "the bottom one", "Password")
    or replaces the doubtful part of the instruction ("log in as a@b.c with password x").
    """
    return f"{remaining} [answer: {' '.join(answer.split())}]"


class Brain(Protocol):
    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        """Plan `text` against the screen `ui_xml` (a `uiautomator dump`, or None when unknown).

        Raises BrainError (with its `code`) when the instruction is refused or the brain fails.
        """
        ...
