"""Phrases to selectors: on the screen while the planner knows it, else known elements and the words as given."""

from __future__ import annotations

import re
from typing import Any

from ..abilities import can_do
from ..base import BrainError
from .known import KNOWN, known_element
from .screen import Ask, Missing, Screen, needs_screen, recase, split_noun
from .words import Masked, likeness, norm

Selector = dict[str, Any]
NEGATIVE_ASK = 0.5


class Later(Exception):
    """The clause needs to see the screen that the steps before it lead to."""


class Resolver:
    """What a phrase in the instruction names, as a selector for a step.

    `screen` is the screen the planner is looking at, or None once a planned step has changed it
    (or when no UI dump was given); `app` is the app known to be in front.
    """

    def __init__(self, screen: Screen | None) -> None:
        self.screen = screen
        self.labels = (screen.labels() if screen else []) + [known.label for known in KNOWN]
        self.label_words = frozenset(word for label in self.labels for word in norm(label).split())
        self.app = screen.package if screen else None
        self.masked = Masked("", [])
        self.inherited = False
        """Whether the clause being planned borrowed its verb from the one before ("tap A and B")."""
        self.forced: int | None = None
        """The element the user's answer picked, for the next phrase that needs one."""

    def _shows(self) -> str:
        if not self.screen:
            return ""
        labels = self.screen.labels()[:8]
        return " The screen shows: " + ", ".join(f'"{label}"' for label in labels) + "." if labels else ""

    def _resolve(
        self, ref: str, *, purpose: str, kinds: tuple[str, ...] = (), ask_from: float | None = None
    ) -> tuple[Selector, str, int | None]:
        """(selector, name to say, element index on the current screen or None)."""
        exact = self.masked.quoted(ref)
        ref = self.masked.restore(ref).strip()
        if self.screen:
            if self.forced is not None:
                i = self._take_forced()
            else:
                i = self.screen.find(ref, purpose=purpose, exact=exact, ask_from=ask_from)
            return self.screen.selector(i, purpose), self.screen.name_of(i), i
        if needs_screen(ref) and not exact:
            raise Later(ref)
        selector, name = self._words(ref, exact=exact, kinds=kinds)
        return selector, name, None

    def _take_forced(self) -> int:
        forced, self.forced = self.forced, None
        assert forced is not None
        return forced

    def _words(self, ref: str, *, exact: bool, kinds: tuple[str, ...] = ()) -> tuple[Selector, str]:
        """A phrase not resolved on screen: a known element of the app in front, else the words as given."""
        name = ref if exact else split_noun(ref)[0]
        package = self.screen.package if self.screen else self.app
        known = None if exact else known_element(name, package=package, kinds=kinds)
        if known:
            return dict(known.selector), known.label
        words = name if exact else recase(name, self.labels)
        numbered = {norm(re.sub(r"\d+", "#", label)) for label in self.labels if re.search(r"\d", label)}
        row = bool(re.search(r"\d", words)) and norm(re.sub(r"\d+", "#", words)) in numbered  # "… and then item 20"
        if self.inherited and not exact and not row and not any(likeness(words, label) >= 0.9 for label in self.labels):
            # "tap Bluetooth and then dance": a clause without a verb must at least name something we know.
            raise BrainError(f'I don\'t understand "{ref}". {can_do()}', "not_understood")
        return {"text": words}, words

    def _see(self, ref: str, *, negative: bool = False) -> tuple[Selector, str]:
        """An element to look for: on screen when it is there, otherwise a known element or the words as given.

        A check that something is NOT shown asks from a lower likeness: resolved wrongly, it would pass.
        """
        try:
            selector, name, _ = self._resolve(ref, purpose="see", ask_from=NEGATIVE_ASK if negative else None)
        except Missing:
            return self._words(self.masked.restore(ref).strip(), exact=self.masked.quoted(ref))
        return selector, name

    def _field(self, ref: str) -> tuple[Selector, str, bool]:
        """(selector, name, is a password field) of the field a phrase names."""
        try:
            selector, name, i = self._resolve(ref, purpose="field", kinds=("field",))
        except Missing as exc:
            raise Missing(f'I can\'t find a field called "{self.masked.restore(ref)}" on the screen.') from exc
        if self.screen and i is not None and not self.screen.is_kind(i, "field"):
            # what the words named is a text, a button …: never typed into as if it were a field
            raise Missing(f'I can\'t find a field called "{self.masked.restore(ref)}" on the screen.')
        secret = "password" in name.lower() or bool(self.screen and i is not None and self.screen.nodes[i].password)
        return selector, name, secret

    def _any_field(self, doing: str) -> Selector | None:
        """The `into` for typing or clearing without a named field: the focused field needs none."""
        if not self.screen:
            return None
        fields = [i for i in self.screen.shown if self.screen.is_kind(i, "field")]
        if not fields:
            raise Missing("There is no text field on the screen.")
        focused = [i for i in fields if self.screen.nodes[i].focused]
        if focused and (len(fields) == 1 or self.screen.is_empty_field(focused[0]) or doing == "clear"):
            return None  # where the keyboard types; a focused field that holds a value may not be the one meant
        if len(fields) == 1:
            return self.screen.selector(fields[0], "field")
        if self.forced is not None:
            return self.screen.selector(self._take_forced(), "field")
        labels = self.screen.choice_labels(fields)
        names = ", ".join(f'"{label}"' for label in labels)
        raise Ask(f"Which field should I {doing}: {names}?", fields, labels=labels)
