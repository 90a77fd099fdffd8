"""The offline planner: clauses of English, resolved against the screen, into steps.

Planning is against the screen it is given. A step that changes the screen (launch, tap,
back …) makes the planner blind for what follows: later clauses are planned from the words
as given and from what it knows of our apps (`known.py`). A later clause that can only be
resolved by looking ("the second item", "turn on Wi-Fi" when Wi-Fi may already be on) ends
the plan there and comes back as `Plan.remaining`, to be planned against the next screen.
A doubt ("tap OK" with two OK buttons) ends the plan with a question, the same way; the
user's answer comes back appended to the remaining text (`base.answered`).
"""

from __future__ import annotations

import re
from typing import Any

from devices.drivers.base import TransportError
from devices.uitree import parse as parse_ui

from ..base import BrainError, Plan
from .grammar import Intent, parse
from .known import LAUNCHER, app_label, app_package, known_element
from .resolve import CAN_DO, Later, Resolver, Selector
from .screen import Ask, Missing, Screen, needs_screen, split_noun
from .words import clauses, mask, tidy

MAX_SLEEP_MS = 60_000
MAX_WAIT_MS = 600_000
# Steps after which the planner no longer knows what the screen shows.
_CHANGES_SCREEN = {"launch_app", "stop_app", "tap", "long_press", "swipe", "scroll_until_visible", "press_key"}
# How the caller hands back the user's answer to a question (see `turns.brains.base.answered`).
_ANSWER = re.compile(r"\s*\[answer:\s*(.*)\]\s*$", re.I | re.S)
_PRONOUNS = ("it", "that", "this", "them", "that one", "this one")
_APPS = "I know Settings and Login Demo; for another app, give its package name, like com.example.app."
_OPEN_FIRST = 'Open the app first, for example "open Login Demo and log in as … with password …".'


class OfflineBrain:
    """Deterministic English-to-steps planner; no network, no model."""

    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        return _Planner(ui_xml).run(text)


class _Planner(Resolver):
    """One instruction's planning: its clauses in order, the steps so far and what to say about them."""

    def __init__(self, ui_xml: str | None) -> None:
        try:
            super().__init__(Screen(parse_ui(ui_xml)) if ui_xml else None)
        except TransportError as exc:
            raise BrainError(f"I could not read the screen: {exc.message}") from exc
        self.steps: list[dict[str, Any]] = []
        self.said: list[str] = []
        self.notes: list[str] = []
        self.flipped: set[int] = set()
        """Switches this plan taps: tapping one changes nothing else on the screen."""

    def run(self, text: str) -> Plan:
        if not text.strip():
            raise BrainError(f'Tell me what to do, for example "open Settings and turn on Wi-Fi". {CAN_DO}')
        answer = _ANSWER.search(text)
        if answer:
            text = text[: answer.start()]
        self.masked = mask(text, self.labels)
        planned: list[tuple[str, Intent]] = []
        previous: Intent | None = None
        for clause in clauses(self.masked.text):
            intent = parse(clause)
            if intent is None and previous is not None and previous.verb:
                intent = parse(previous.verb + clause)
                clause = previous.verb + clause
                if intent:
                    intent.inherited = True
            if intent is None:
                raise BrainError(f'I don\'t understand "{self.masked.restore(clause)}". {CAN_DO}')
            if intent.target.lower() in _PRONOUNS and previous is not None and previous.target:
                intent.target = previous.target
            if intent.kind == "duration" and previous is not None and previous.kind in ("wait_for", "long_press"):
                previous.ms = intent.ms
                planned[-1] = (f"{planned[-1][0]}, {clause}", previous)
                continue
            planned.append((clause, intent))
            previous = intent
        for n, (_, intent) in enumerate(planned):
            rest = ", then ".join(self.masked.restore(clause) for clause, _ in planned[n:])
            try:
                if n == 0 and answer:
                    self._plan_answered(intent, answer[1])
                else:
                    self._plan(intent)
            except Ask as ask:
                self._add({"action": "ask_user", "prompt": ask.question}, "ask you which one you mean")
                return self._done(question=ask.question, remaining=rest)
            except Later as later:
                if not self.steps:
                    raise BrainError(f'I need to see the screen to work out "{later}".') from later
                return self._done(remaining=rest)
            except Missing as missing:
                raise BrainError(f"{missing.message}{self._shows()}") from missing
        return self._done()

    def _done(self, *, question: str | None = None, remaining: str | None = None) -> Plan:
        sentence = f"I'll {_join(self.said)}" if self.said else ""
        if remaining and not question:
            sentence += f", then look at the screen again for the rest ({remaining})"
        if self.notes:
            notes = "; ".join(self.notes)
            sentence = f"{sentence}; {notes}" if sentence else f"Nothing to do: {notes}"
        return Plan(steps=self.steps, summary=sentence + ".", question=question, remaining=remaining)

    def _add(self, step: dict[str, Any], said: str, times: int = 1, *, same_screen: bool = False) -> None:
        self.steps += [dict(step) for _ in range(times)]
        self.said.append(said if times == 1 else f"{said} {times} times")
        if step["action"] in _CHANGES_SCREEN and not same_screen:
            self.screen = None

    def _plan_answered(self, intent: Intent, answer: str) -> None:
        """Plan the clause the question was about, with the user's answer to it.

        The answer picks one of the elements the question listed ("the second one", "Password"),
        or it is an instruction of its own that replaces the clause ("log in as … with password …").
        """
        try:
            self._plan(intent)
            return
        except Ask as ask:
            self.forced = self.screen.choose(ask.choices, answer) if self.screen and ask.choices else None
            if self.forced is not None:
                self._plan(intent)
                return
            original, self.masked = self.masked, mask(answer, self.labels)
            instead = parse(tidy(self.masked.text))
            if instead is None:
                raise
            self._plan(instead)
            self.masked = original

    # One intent ------------------------------------------------------------------

    def _plan(self, intent: Intent) -> None:
        self.inherited = intent.inherited
        handler = getattr(self, f"_{intent.kind}")
        handler(intent)

    def _login(self, intent: Intent) -> None:
        if not intent.target:
            raise Ask('Which email and password should I sign in with? (Say "log in as … with password …".)')
        email, pw = self.masked.restore(intent.target), self.masked.restore(intent.text)
        try:
            email_field, _, _ = self._field("email")
            password_field, _, _ = self._field("password")
        except Missing as exc:
            raise Missing(f"I can't see a sign-in form with email and password fields. {_OPEN_FIRST}") from exc
        button, _, _ = self._resolve("sign in", purpose="tap", kinds=("button",))
        self.steps += [
            {"action": "type", "text": email, "into": email_field},
            {"action": "type", "text": pw, "into": password_field},
        ]
        self._add({"action": "tap", **button}, f"sign in as {email}")

    def _screenshot(self, intent: Intent) -> None:
        self._add({"action": "screenshot"}, "take a screenshot", intent.times)

    def _sleep(self, intent: Intent) -> None:
        ms = intent.ms or 0
        if ms > MAX_SLEEP_MS:
            raise BrainError(f"I can pause for at most {MAX_SLEEP_MS // 1000} seconds at a time.")
        self._add({"action": "sleep", "ms": ms}, f"wait {_duration(ms)}", intent.times)

    def _wait_for(self, intent: Intent) -> None:
        selector, name = self._see(intent.target)
        step = {"action": "wait_for", **selector}
        if intent.ms is not None:
            if not 1 <= intent.ms <= MAX_WAIT_MS:
                raise BrainError(f"I can wait for something for at most {MAX_WAIT_MS // 1000} seconds.")
            step["timeout_ms"] = intent.ms
        self._add(step, f'wait for "{name}"')

    def _duration(self, intent: Intent) -> None:
        raise BrainError(f"I don't know what should take {_duration(intent.ms or 0)}. {CAN_DO}")

    def _ask(self, intent: Intent) -> None:
        self._add({"action": "ask_user", "prompt": intent.text}, "ask you for input")

    def _toggle(self, intent: Intent) -> None:
        state = {True: "on", False: "off", None: ""}[intent.on]
        if not self.screen:
            known = known_element(split_noun(self.masked.restore(intent.target))[0], package=None, kinds=("switch",))
            if intent.on is None and known:
                self._add({"action": "tap", **known.selector}, f"toggle {known.label}")
                return
            raise Later(self.masked.restore(intent.target))
        try:
            selector, name, i = self._resolve(intent.target, purpose="switch")
        except Missing as exc:
            raise Missing(f'I can\'t see a "{self.masked.restore(intent.target)}" switch on the screen.') from exc
        assert i is not None
        if intent.on is not None and (self.screen.checked(i) != (i in self.flipped)) == intent.on:
            self.notes.append(f"{name} is already {state}")
            return
        self.flipped ^= {i}
        said = f"turn {state} {name}" if state else f"toggle {name}"
        self._add({"action": "tap", **selector}, said, same_screen=True)

    def _check_state(self, intent: Intent) -> None:
        target = self.masked.restore(intent.target)
        raise BrainError(
            f"I can only check what is shown, not whether a switch is on or off. To switch it when needed, "
            f'say "make sure {target} is {"on" if intent.on else "off"}".'
        )

    def _assert(self, intent: Intent) -> None:
        selector, name = self._see(intent.target)
        self._add({"action": "assert_visible", **selector}, f'check that "{name}" is shown')

    def _assert_not(self, intent: Intent) -> None:
        selector, name = self._see(intent.target)
        self._add({"action": "assert_not_visible", **selector}, f'check that "{name}" is not shown')

    def _key(self, intent: Intent) -> None:
        said = {"back": "go back", "home": "go to the home screen"}.get(intent.text, f"press {intent.text}")
        self._add({"action": "press_key", "key": intent.text}, said, intent.times)
        self.app = LAUNCHER if intent.text == "home" else None if intent.text == "back" else self.app

    def _launch(self, package: str, *, fresh: bool) -> None:
        step: dict[str, Any] = {"action": "launch_app", "package": package}
        if fresh:
            step["clear_state"] = True
        self._add(step, f"open {app_label(package)}" + (" with its data cleared" if fresh else ""))
        self.app = package

    def _open(self, intent: Intent) -> None:
        name = self.masked.restore(intent.target)
        package = app_package(name, strict=False)
        if package:
            self._launch(package, fresh=intent.fresh)
        elif self.screen or needs_screen(name) or known_element(name, package=self.app):
            try:
                self._tap(intent)
            except Missing as exc:
                raise Missing(f"I don't know an app called \"{name}\" and can't see it on the screen. {_APPS}") from exc
        else:
            raise BrainError(f'I don\'t know an app called "{name}". {_APPS}')

    def _restart(self, intent: Intent) -> None:
        package = app_package(self.masked.restore(intent.target), strict=False)
        assert package
        self._add({"action": "stop_app", "package": package}, f"close {app_label(package)}")
        self._launch(package, fresh=False)

    def _stop(self, intent: Intent) -> None:
        name = self.masked.restore(intent.target)
        current = name.lower() in ("it", "the app", "this app", "the current app", "this", "the application")
        package = (self.app if self.app != LAUNCHER else None) if current else app_package(name, strict=False)
        if not package:
            raise BrainError(f'I don\'t know which app "{name}" is. {_APPS}')
        self._add({"action": "stop_app", "package": package}, f"close {app_label(package)}")
        self.app = LAUNCHER

    def _press(self, intent: Intent, action: str) -> None:
        verb = "tap" if action == "tap" else "long-press"
        extra = {"duration_ms": intent.ms} if action == "long_press" and intent.ms else {}
        if intent.point:
            x, y = intent.point
            self._add({"action": action, "x": x, "y": y, **extra}, f"{verb} at ({x}, {y})", intent.times)
            return
        try:
            selector, name, _ = self._resolve(intent.target, purpose="tap")
        except Missing:
            if not (self.screen and self.screen.scrollable()) or needs_screen(self.masked.restore(intent.target)):
                raise
            selector, name = self._see(intent.target)
            self._add({"action": "scroll_until_visible", **selector}, f'scroll to "{name}"', same_screen=True)
        self._add({"action": action, **selector, **extra}, f'{verb} "{name}"', intent.times)

    def _tap(self, intent: Intent) -> None:
        self._press(intent, "tap")

    def _long_press(self, intent: Intent) -> None:
        self._press(intent, "long_press")

    def _type(self, intent: Intent) -> None:
        text = self.masked.restore(intent.text).strip()
        into: Selector | None
        if intent.target:
            into, name, secret = self._field(intent.target)
        else:
            into, name = self._any_field(f'type "{text}" into'), ""
            secret = bool(into and "password" in str(into.get("id", "")))
        what = "the password" if secret else f'"{text}"'
        step: dict[str, Any] = {"action": "type", "text": text}
        if into:
            step["into"] = into
        self._add(step, f"type {what}" + (f" into the {name} field" if name else ""))

    def _clear(self, intent: Intent) -> None:
        into: Selector | None
        if intent.target:
            into, name, _ = self._field(intent.target)
        else:
            into, name = self._any_field("clear"), ""
        step = {"action": "clear_text", **({"into": into} if into else {})}
        self._add(step, f"clear the {name} field" if name else "clear the field")

    def _scroll_to(self, intent: Intent) -> None:
        selector, name = self._see(intent.target)
        step = {"action": "scroll_until_visible", **selector}
        if intent.direction == "up":
            step["direction"] = "up"
        self._add(step, f'scroll {intent.direction} to "{name}"')

    def _swipe(self, intent: Intent) -> None:
        if intent.point and intent.end:
            (x1, y1), (x2, y2) = intent.point, intent.end
            step = {"action": "swipe", "from": {"x": x1, "y": y1}, "to": {"x": x2, "y": y2}}
            self._add(step, f"swipe from ({x1}, {y1}) to ({x2}, {y2})", intent.times)
        else:
            self._add({"action": "swipe", "direction": intent.direction}, f"swipe {intent.direction}", intent.times)

    def _scroll(self, intent: Intent) -> None:
        """The content moves with the finger: to scroll down, the finger swipes up."""
        finger = {"down": "up", "up": "down", "left": "right", "right": "left"}[intent.direction]
        self._add({"action": "swipe", "direction": finger}, f"scroll {intent.direction}", intent.times)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _duration(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 or ms % 1000 else f"{ms // 1000} s"
