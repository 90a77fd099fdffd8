"""The offline planner: clauses of English, resolved against the screen, into steps.

Planning is against the screen it is given. A step that changes the screen (launch, tap,
back …) makes the planner blind for what follows: later clauses are planned from the words
as given and from what it knows of our apps (`known.py`). A later clause that can only be
resolved by looking ("the second item", "turn on Wi-Fi" when Wi-Fi may already be on) ends
the plan there and comes back as `Plan.remaining`, to be planned against the next screen.

It never guesses. A phrase that names two elements equally, or one only doubtfully, a
pronoun with nothing before it to stand for, or a missing value (a password, the text to
type) ends the plan with a question and its choices; the user's answer comes back appended
to the remaining text (`base.answered`). What it cannot do is refused with a code
(`base.REFUSALS`) and a message; nothing of a refused instruction runs.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

from core.steps import MAX_SLEEP_MS, MAX_TIMEOUT_MS, StepInvalid, step_parse
from devices.drivers.base import TransportError
from devices.uitree import parse as parse_ui

from ..abilities import can_do
from ..base import BrainError, Plan
from .grammar import PRONOUNS, Intent, parse
from .known import KNOWN, LAUNCHER, app_label, app_package, known_element, screen_mark
from .resolve import Later, Resolver, Selector
from .screen import ACT, KINDS, Ask, Missing, Screen, needs_screen, split_noun
from .words import (
    CLOSE,
    GENERIC,
    OPEN,
    ORDINAL,
    VERBS,
    canonical,
    clauses,
    correct_words,
    count_word,
    idioms,
    mask,
    norm,
    ordinal,
    tidy,
    word_likeness,
)

# Steps after which the planner no longer knows what the screen shows.
_CHANGES_SCREEN = {"launch_app", "stop_app", "tap", "long_press", "swipe", "scroll_until_visible", "press_key"}
# How the caller hands back the user's answer to a question (see `turns.brains.base.answered`).
_ANSWER = re.compile(r"\s*\[answer:\s*(.*)\]\s*$", re.I | re.S)
# What the rounds before planned, carried in `remaining` ahead of the rest: the last round's summary (the turn's
# reply) says the whole turn ("tap the second item and then the fourth" named only the fourth).
_DONE = re.compile(r"^\s*\[done:\s*(.*?)\]\s*", re.S)
# Intents whose target is an element that a following "it" can stand for.
_ELEMENTS = {
    "tap",
    "long_press",
    "toggle",
    "check_state",
    "scroll_to",
    "assert",
    "assert_not",
    "wait_for",
    "type",
    "clear",
}
_GO = re.compile(r"(?:go|go\s+ahead|go\s+for\s+it|send(?:\s+it)?|done)", re.I)
_BARE_VALUE = re.compile(r"\S*[\d@!#$%^&*_]\S*")
_APPS = "I know Settings and Login Demo; for another app, give its package name, like com.example.app."
_OPEN_FIRST = 'Open the app first, for example "open Login Demo and log in as … with password …".'
_UP = {
    "back arrow",
    "arrow back",
    "up arrow",
    "arrow",
    "back icon",
    "navigate up",
    "up button",
    "up",
    "back arrow icon",
    "navigate back",
    "the arrow",
    "left arrow",
    "arrow button",
    "back chevron",
    "up navigation",
    "toolbar back",
    "toolbar back button",
    "toolbar back arrow",
    "toolbar arrow",
    "back button in the toolbar",
    "back arrow in the toolbar",
}
_UP_LABELS = ("navigate up", "navigate back", "back", "up")
_HOME_WORDS = re.compile(r"(?:the\s+)?(?:home(?:\s+screen|\s+page)?|launcher|desktop|start\s+screen)", re.I)
_PAGE_WORDS = re.compile(
    r"(?:the\s+)?(?:(?:main|previous|last|first|top|other|prior)\s+)?(?:\w+\s+)?(?:page|screen|menu|list|view|one)",
    re.I,
)
_CONTAINER = re.compile(
    r"\s+(?:in|on|of|inside|from)\s+(?:the|this)\s+(?:dialog|popup|pop-up|window|alert|modal|prompt|box|sheet|form)$",
    re.I,
)
_DEMONSTRATIVE = re.compile(
    r"(?:that|this|those|these)\s+(?:one|button|field|box|switch|toggle|item|row|icon|link|option|entry|element|thing)",
    re.I,
)
_PLACE = re.compile(
    r"\s+(?:in|at|on)\s+the\s+(?:(?:top|bottom|upper|lower)(?:[\s-]+(?:left|right))?|left|right|corner|middle|"
    r"center|centre)(?:\s+(?:corner|side|edge|of\s+the\s+(?:screen|page)))?$",
    re.I,
)
_MISREAD_TEXT = re.compile(
    r"\b(?:with|into|in|as)\s+(?:the\s+|my\s+)?(?:\w+\s+)?(?:field|box|input|password|e-?mail|username|one)\b", re.I
)
_EITHER_TEXT = re.compile(r"(?P<a>\S+)\s+or\s+(?P<b>\S+)", re.I)
_NOUN_WORD = re.compile(
    r"(?:name|names|number|text|value|label|title|field|row|entry|info|information|details?|section|setting|option|string|"
    r"line|item|number\s+shown|row\s+text)",
    re.I,
)
_LABEL_NOUN = re.compile(r"\s+(?:name|text|value|label|title|string)$", re.I)
_SHOWN_WORD = re.compile(r"(?:appears?|shows?(?:\s+up)?|exists?|is\s+there|visible|shown)(?:\s+.*)?", re.I)
_NTH_ROW = re.compile(
    r"(?:the\s+)?(?P<n>\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+"
    r"(?:item|row|entry|line)(?:\s+(?:in|of|on)\s+(?:the\s+)?list)?",
    re.I,
)
_PLACEHOLDER = re.compile(
    r"(?:(?:my|your|our|his|her|their|the|a|an|some|any|valid|correct|right)\s+)+(?:\w+\s+)?"
    r"(?:password|passcode|pin|email|e-mail|email\s+address|name|username|user\s+name|address|code|credentials|details|"
    r"text|value|number|phone\s+number|thing|word|words|login)|something|anything|stuff|whatever|some\s+text|"
    r"mine|yours|ours|theirs|his|hers|(?:my|your|our)\s+own|something\s+else|(?:some|any)one\s+else'?s?|"
    r"(?:some\s+)?random\s+(?:text|stuff|words?|characters)|"
    # "type the same into the password" with nothing said before: what stands for a value
    r"(?:the\s+)?same(?:\s+(?:one|thing|text|value|again))?|(?:it|that|this|them)(?:\s+again)?|"
    # "change the email to the other one": which one, nothing said
    r"(?:the\s+|an?\s+)?(?:other|another|different|usual|previous|old|new|real|proper)\s+"
    r"(?:one|email|address|value|password|text|account|user|login|credentials)",
    re.I,
)
_BY_STATE = re.compile(
    r"(?:(?:the\s+)?(?:one|switch|toggle|setting|option)s?\s+(?:that|which)|whichever(?:\s+(?:one|switch|toggle))?)\s+(?:is|are)\s+"
    r"(?:currently\s+|still\s+|now\s+)?"
    r"(?P<s>on|off|enabled|disabled)|(?:the\s+)?(?P<s2>enabled|disabled|active|inactive)\s+(?:one|switch|toggle|setting|option)",
    re.I,
)
_LOGIN_SCREEN = re.compile(r"(?:the\s+)?(?:login|log[\s-]?in|sign[\s-]?in)\s+(?:screen|page|form|view)", re.I)
_PASSWORD_FIELD = re.compile(r"(?:the\s+|my\s+)?(?:password|passcode|passwd|pwd|pw|pass)(?:\s+(?:field|box))?", re.I)
_PRONOUN_ANCHOR = re.compile(
    r"(?P<head>(?:the\s+)?(?:one|[\w-]+))\s+(?P<rel>right\s+below|just\s+below|below|under|underneath|beneath|right\s+above|"
    r"just\s+above|above|after|before|next\s+to|beside)(?:\s+(?:it|that|this|that\s+one|this\s+one|them))?",
    re.I,
)
_PLACED_KIND = re.compile(
    rf"(?:the\s+)?(?P<noun>{'|'.join(re.escape(noun) for noun in sorted(KINDS, key=len, reverse=True))})\s+"
    r"(?:at|on|in)\s+the\s+(?:very\s+)?(?P<pos>top|bottom)(?:\s+of\s+the\s+(?:screen|page|list|form))?",
    re.I,
)
_VAGUE = re.compile(
    r"(?:one|any|some|either|each|all)\s+of\s+(?:the|these|those|them)(?:\s+[\w-]+)*|"
    r"(?:the\s+)?[\w-]+\s+(?:i|you|we)\s+(?:mentioned|said|meant|used|chose|picked|told\s+you)(?:\s+\w+)?|"
    r"(?:the\s+)?(?:same|previous)\s+one|whatever|something|anything|any\s+\w+|"
    r"(?:the\s+)?(?:remaining|other|rest\s+of\s+the)\s+(?:ones|switches|toggles|settings|items|fields|buttons)|"
    r"the\s+rest(?:\s+of\s+them)?|(?:the\s+)?other\s+(?:field|box|switch|toggle|button|item|row|input|thing|setting|option)|"
    r"(?:(?:the|a|an)\s+)?(?:setting|option|thing|element|control|entry|value|number|string)",
    re.I,
)
_CURRENT = re.compile(
    r"(?:the|this|current|that)\s+app(?:lication)?|the\s+current\s+app(?:lication)?|it|this|app", re.I
)


# Words of a sentence's frame, not of a label: a check's text that holds them beside a label was misread.
_STRUCTURE = frozenset(
    re.findall(
        r"\S+",
        "is are was were isn aren not no t s says say reads read shows show displays display be been should must does "
        "do doesn don there shown visible displayed any anymore longer still that whether equals set",
    )
)


# Of those, the ones no label is made of: a negative check's text that holds one was misread.
_FRAME = frozenset(
    ("is", "are", "isn", "aren", "should", "must", "longer", "been", "doesn", "shouldn", "anymore", "no", "not", "none")
)


_NOTHING = frozenset(("nothing", "anything", "something", "everything", "it", "that", "this"))

# Failure in the tester's words ("nothing went wrong", "no problems", "the login didn't fail"): no screen says
# them as such, so a check that they are not shown would pass whatever the screen shows.
_TROUBLE = frozenset(
    re.findall(
        r"\S+",
        "error errors problem problems issue issues failure failures fail fails failed failing wrong broke broken "
        "bug bugs trouble glitch glitches oops",
    )
)

# A crash, a freeze, an app that closes: no text of the screen says it, and the app's error is not it (a crash
# leaves the launcher in front, where no error shows either). A check of it asks what should still be shown.
_CRASH = frozenset(
    re.findall(
        r"\S+",
        "crash crashes crashed crashing freeze freezes froze frozen freezing hang hangs hung hanging anr unresponsive",
    )
)


# Words that say what kind of thing is meant, not what it shows ("a message about …", "the settings shortcut", "the
# greeting for demo"): a NOT-shown check's phrase of them and of a label's words names that label.
_DESCRIBING = frozenset(
    re.findall(
        r"\S+",
        "message messages notice notices notification notifications note banner popup toast text texts greeting "
        "greetings user shortcut shortcuts icon icons button buttons link entry row option setting label info list "
        "items rows device phone version password passwords email login credentials credential account username "
        "line lines heading title caption word words string entries field section value "
        # kinds of element the UI tree has no text for: "no dialog", "the keyboard", "a loading spinner"
        "dialog dialogs modal modals window popups toasts spinner spinners keyboard loading loader indicator "
        "indicators progress bar snackbar snackbars tooltip tooltips overlay sheet prompt",
    )
)
# What points at something done or said before this message, or a value only the user knows.
_VAGUE_REF = re.compile(
    r"\b(?:earlier|yesterday|last\s+time|previously|before(?=\s*$)|from\s+before|as\s+before|(?:the|my|our)\s+usual|"
    r"how\s+it\s+was|the\s+way\s+it\s+was|we\s+(?:talked|spoke|discussed|tested|used|mentioned|agreed)|"
    r"(?:i|we|you)\s+(?:switched|turned|changed|set|tapped|used|picked|chose|did)\b|that\s+direction|"
    r"the\s+(?:right|correct|proper|other|same|remaining|next)\s+(?:one|value|account|password|email|setting|item|field|switch)|"
    r"the\s+one\s+(?:that|which|thats|that's)|next\s+to\s+it|(?:do|try)\s+(?:it|that|this|the\s+same)(?:\s+\w+)?\s+again|"
    r"do\s+(?:it|that|this|the\s+same)(?:\s+(?:for|with|on)\s+.+)?$|fix\s+(?:it|that|this|the\s+\w+)|the\s+other\s+one|"
    r"(?:switch|flip|toggle|set|put|turn)\s+(?:it|that|this|the\s+switch)\s+back)\b",
    re.I,
)
_SUBPAGE = re.compile(r"\b(?:networks?|network\s+list|devices?|device\s+list|paired|connections?|details)\b", re.I)
_ROW = re.compile(r"\b(?:item|row|entry)\s+\d+\b", re.I)  # "open Item 5" after signing in: a row, not an app
_DOING = re.compile(rf"\b(?:{'|'.join(VERBS)}|do|fix|try|redo|repeat|undo)\b", re.I)
_CLEAR_IT = r"(?:delete|remove|erase|clear|empty)\s+(?:it|that|this)"
# Words of a sentence, never of a label: a NOT-shown check of a phrase with them could never fail.
_CLAUSE = frozenset(
    re.findall(
        r"\S+",
        "i we you they he she me us them did didn get got gets getting can could would will possible impossible able "
        "unable happen happened happens worked works working went gone going done",
    )
)
_LINKING = frozenset(re.findall(r"\S+", "about for of the a an any my your our on running regarding mentioning with"))
# What points at the app's own error message: "a bad-password notice", "a complaint about my credentials".
_REJECTED = _TROUBLE | frozenset(
    re.findall(r"\S+", "complaint complaints invalid incorrect bad wrong rejected denied warning warnings alert alerts")
)
# What a sign-in's failure is about: "the bad-credentials message", "a wrong password warning".
_CREDENTIALS = frozenset(re.findall(r"\S+", "credentials creds password email login details message notice"))
# "I should not be signed in as X": which account is signed in, no screen of the app shows.
_ACCOUNT = re.compile(r"\b(?:signed|logged)\s+(?:in|on)\s+as\s+\S", re.I)


# What failed, in "check that the sign in failed", "verify it fails": nothing but the attempt and the failure.
_ATTEMPT = frozenset(
    re.findall(r"\S+", "sign signing signed in login log logging logged it attempt the a an my this that app has did")
)


class OfflineBrain:
    """Deterministic English-to-steps planner; no network, no model."""

    def plan(self, *, text: str, ui_xml: str | None) -> Plan:
        return _Planner(ui_xml).run(text)


@cache
def _ask_takes_choices() -> bool:
    """Whether the step schema's ask_user takes `choices` yet (the lead is adding it)."""
    try:
        step_parse({"action": "ask_user", "prompt": "?", "choices": ["a", "b"]})
    except StepInvalid:
        return False
    return True


class _Planner(Resolver):
    """One instruction's planning: its clauses in order, the steps so far and what to say about them."""

    def __init__(self, ui_xml: str | None) -> None:
        try:
            super().__init__(Screen(parse_ui(ui_xml)) if ui_xml else None)
        except TransportError as exc:
            raise BrainError(f"I could not read the screen: {exc.message}", "brain_failed") from exc
        self.steps: list[dict[str, Any]] = []
        self.antecedent: dict[int, int] = {}
        """Clause -> the clause before it whose element its "it" stands for ("scroll to the 30th item and tap it")."""
        self.said: list[str] = []
        self.notes: list[str] = []
        self.flipped: set[int] = set()
        """Switches this plan taps: tapping one changes nothing else on the screen."""
        self.typed: set[str] = set()
        """The fields (their selectors) this plan types into."""
        self.closed: str | None = None
        self.cleared: set[str] = set()
        """The fields (their selectors) this plan cleared and has not typed into since."""
        self.last_field: Selector | None = None
        """The field the plan cleared or tapped last: where "… and type x" types."""
        """The app this plan closed last: "close the app and open it again"."""

    # The instruction ----------------------------------------------------------------

    def run(self, text: str) -> Plan:
        if not text.strip():
            raise BrainError(f'Tell me what to do, for example "open Settings and turn on Wi-Fi". {can_do()}')
        answer = _ANSWER.search(text)
        if answer:
            text = text[: answer.start()]
        if done := _DONE.match(text):
            self.said, text = [part for part in done[1].split("; ") if part], text[done.end() :]
        self.masked = mask(text, self.labels)
        try:
            planned = self._understand(clauses(self.masked.text))
        except Ask as ask:  # a clause that points at what was done or said before ("do it again")
            return self._question(ask, self.masked.restore(self.masked.text))
        if not planned:
            raise BrainError(f'Tell me what to do, for example "open Settings and turn on Wi-Fi". {can_do()}')
        started = [0] * (len(planned) + 1)
        for n, (_, intent) in enumerate(planned):
            rest = ", then ".join(self.masked.restore(clause) for clause, _ in planned[n:])
            started[n] = len(self.steps)
            try:
                if n == 0 and answer:
                    self._plan_answered(intent, answer[1])
                else:
                    self._plan(intent)
            except Ask as ask:
                return self._question(ask, rest)
            except Later as later:
                if not self.steps:
                    raise BrainError(f'I need to see the screen to work out "{later}".', "not_on_screen") from later
                before = self.steps[started[n - 1] : started[n]] if n and self.antecedent.get(n) == n - 1 else []
                if len(before) == 1 and before[0].get("text") and intent.verb and intent.kind in ("tap", "long_press"):
                    # "scroll to the 30th item and tap it": "it" is what that step found, on the next screen too
                    rest = ", then ".join(
                        [intent.verb + str(before[0]["text"])]
                        + [self.masked.restore(clause) for clause, _ in planned[n + 1 :]]
                    )
                return self._done(remaining=rest)
            except Missing as missing:
                if not self.steps and (vague := self._vague(planned[n][0])):
                    return self._question(vague, rest)
                if (intent.terse and not intent.inherited) or (intent.inherited and _nonsense(planned[n][0])):
                    words = self.masked.restore(planned[n][0])
                    raise BrainError(f'I don\'t understand "{words}". {can_do()}', "not_understood") from missing
                raise BrainError(f"{missing.message}{self._shows()}", "not_on_screen") from missing
        return self._done()

    def _understand(self, found: list[str]) -> list[tuple[str, Intent]]:
        """Every clause's intent, before anything is planned: one clause not understood refuses them all."""
        planned: list[tuple[str, Intent]] = []
        previous: Intent | None = None
        element: Intent | None = None
        """The last intent that named an element: what a later "it" stands for."""
        found = [part for clause in found for part in _run_on(clause)]
        skipped: list[tuple[str, Intent]] = []
        """What the instruction says NOT to do ("… but don't sign in yet")."""
        condition: str | None = None
        """ "if wifi is on, turn it off": the switch the next clause must set, whatever its state."""
        for clause in found:
            if dont := _DONT.fullmatch(clause):
                undone = parse(dont["rest"])
                if undone is None or undone.kind in ("unsupported", "assert", "assert_not", "check_state"):
                    raise BrainError(
                        f'I don\'t understand "{self.masked.restore(clause)}". {can_do()}', "not_understood"
                    )
                skipped.append((self.masked.restore(dont["rest"]), undone))
                continue
            if (cond := _CONDITION.fullmatch(clause)) and condition is None:
                condition = cond["x"]
                element = Intent("toggle", target=cond["x"])
                continue
            if (
                previous is not None
                and previous.kind in ("assert", "assert_not", "check_state")
                and (should := _SHOULD_BE.fullmatch(clause))
            ):
                # "is Sign out there? it should be": the check asked, expected as asked; "… it shouldn't be": the
                # opposite check
                if should["not"] and previous.kind == "check_state" and previous.on is not None:
                    previous.on = not previous.on
                elif should["not"] and previous.kind != "check_state":
                    previous.kind = "assert" if previous.kind == "assert_not" else "assert_not"
                elif should["not"]:
                    raise BrainError(
                        f'I don\'t understand "{self.masked.restore(clause)}". {can_do()}', "not_understood"
                    )
                planned[-1] = (f"{planned[-1][0]}, {clause}", previous)  # planned again as said, on another screen
                continue
            if previous is not None and (same := _SAME.fullmatch(clause)):
                # "tap item 2, then do it again": the previous clause once more; "turn on bluetooth, same for
                # airplane mode": its act on another element
                if same["x"] is None:
                    planned.append((planned[-1][0], replace(previous)))
                    continue
                if previous.kind == "type":
                    clause = f"type into {same['x']}"  # the same text, or its own? asked, never guessed
                elif previous.verb:
                    clause = previous.verb + same["x"]
            if previous is not None and previous.kind in ("type", "credentials") and _GO.fullmatch(clause):
                clause = "submit"  # "password: x, email: a@b.c, go": the form, sent
            elif (
                previous is not None
                and previous.kind == "key"
                and previous.text == "tab"
                and _BARE_VALUE.fullmatch(clause)
            ):
                clause = "type " + clause  # "type a@b.c, then tab, then secret123": what to type in the next field
            intent = parse(clause)
            if (intent is None or intent.terse) and clause.split() and clause.split()[0].lower() not in VERBS:
                # "… and trun off wifi": a typo in the verb is read before a verb is borrowed from the clause before
                fixed = correct_words(clause, self.label_words)
                if fixed and fixed.split()[0].lower() in VERBS:
                    corrected = parse(tidy(idioms(fixed)))
                    if corrected is not None and not corrected.terse:
                        intent, clause = corrected, tidy(idioms(fixed))
            starts_with_verb = bool(clause.split()) and clause.split()[0].lower() in VERBS
            if (
                intent is not None
                and intent.terse
                and intent.kind != "toggle"
                and not (intent.kind == "type" and intent.text and intent.target)
                and not starts_with_verb
                and previous is not None
                and previous.verb
            ):
                borrowed = parse(previous.verb + clause)
                if (
                    borrowed is not None
                    and borrowed.kind == "toggle"
                    and self.screen
                    and self.screen.confidence(split_noun(self.masked.restore(clause))[0], kind="switch") < ACT
                    and self.screen.confidence(split_noun(self.masked.restore(clause))[0]) >= ACT
                ):
                    borrowed = None  # "wifi off, then about phone": a row to tap, not another switch
                if borrowed is not None and not borrowed.terse:
                    intent, clause = borrowed, previous.verb + clause
                    intent.inherited = True
            if (
                intent is not None
                and intent.kind == "toggle"
                and intent.terse
                and previous is not None
                and previous.kind in ("check_state", "assert", "assert_not")
                and re.search(r"\s(?:is|are)\s", clause, re.I)
            ):
                # "check that wifi is on and bluetooth is on": the check again, never a switch set without a verb
                checked = parse("verify " + clause)
                if checked is not None and checked.kind == "check_state":
                    intent, clause = checked, "verify " + clause
                    intent.inherited = True
            fixed = correct_words(clause, self.label_words)
            fixed = tidy(idioms(fixed)) if fixed else None
            if intent is not None and fixed:
                # "tunr wifi on", "chek that wifi is shown", "press hoem": a typo in a word of the grammar, not a name
                corrected = parse(fixed)
                typos = {w.lower() for w in clause.split()} - {w.lower() for w in fixed.split()}
                in_target = any(typo in intent.target.lower().split() for typo in typos)
                better = corrected is not None and (
                    (not corrected.terse and (intent.terse or in_target))
                    or (intent.terse and intent.kind == "tap" and corrected.kind != "tap")
                )
                if corrected is not None and better:
                    intent, clause = corrected, fixed
            elif intent is None and fixed and (corrected := parse(fixed)) is not None:
                intent, clause = corrected, fixed  # "opn settngs": nothing reads it as said
            if intent is None:
                if vague := self._vague(clause):
                    raise vague
                raise BrainError(f'I don\'t understand "{self.masked.restore(clause)}". {can_do()}', "not_understood")
            if intent.kind == "unsupported":
                for _, earlier in planned:  # "open the camera and take a photo": the first thing wrong is said
                    name = self.masked.restore(earlier.target)
                    if earlier.kind == "open" and not self._may_open(name):
                        raise BrainError(f'I don\'t know an app called "{name}". {_APPS}', "not_on_screen")
                raise BrainError(f"I can't {intent.text}: no step does that. {can_do()}", "unsupported")
            if (
                intent.kind == "toggle"
                and intent.target.lower() in ("it", "this", "that", "them")
                and planned
                and planned[-1][1].kind in ("open", "tap")
                and self._names_switch(planned[-1][1].target)
            ):
                # "go to Settings > Wi-Fi and disable it": the switch itself (its row has no page to go to)
                intent.target = planned.pop()[1].target
                previous = planned[-1][1] if planned else None
                state = {True: "turn on ", False: "turn off ", None: "toggle "}[intent.on]
                clause = state + intent.target  # what comes back as `remaining` says which switch
            if (
                intent.kind in ("open", "stop", "restart")
                and intent.target.lower() in PRONOUNS
                and previous is not None
                and previous.kind in ("open", "stop", "restart")
                and previous.target
            ):
                intent.target = previous.target  # "reset the demo app and open it"
            elif anchor := _PRONOUN_ANCHOR.fullmatch(intent.target):
                # "the one below", "the item after that": next to what was named before, if anything was
                if element is not None and intent.kind in _ELEMENTS:
                    intent.target = f"{anchor['head']} {anchor['rel']} {element.target}"
                    if intent.verb and intent.kind in ("tap", "long_press"):
                        clause = intent.verb + intent.target  # what comes back as `remaining` says next to what
                else:
                    intent.target, intent.pronoun = "", True
            elif _DEMONSTRATIVE.fullmatch(intent.target) and intent.kind in _ELEMENTS:
                # "tap that button": the one named before, else a question (what "that" points at is unsaid)
                if element is not None:
                    intent.target = element.target
                else:
                    intent.target, intent.pronoun = "", True
            elif (
                intent.kind == "clear"
                and re.fullmatch(r"(?:delete|remove|erase)\s+(?:it|that|this|them)", clause, re.I)
                and element is not None
                and not re.search(r"\b(?:field|box|input|email|e-mail|password|username|text)\b", element.target, re.I)
            ):
                # "tap item 2 then delete it": not a text to clear, and no step deletes a row
                raise BrainError(
                    f"I can't delete {self.masked.restore(element.target)}: no step does that. {can_do()}",
                    "unsupported",
                )
            elif intent.kind == "clear" and element is None and re.fullmatch(_CLEAR_IT, clause, re.I):
                intent.pronoun = True  # "delete it" with nothing said before: which field, asked
            elif intent.target.lower() in PRONOUNS or _VAGUE.fullmatch(intent.target):
                other = intent.target.lower() in ("the other one", "the other", "another one", "the one", "one")
                if element is not None and intent.target.lower() in PRONOUNS and not other:
                    intent.target = element.target
                    if planned and planned[-1][1] is element and element.terse and element.kind == "tap":
                        planned.pop()  # "the little arrow at the top - tap it": it was named, not tapped
                    elif planned and planned[-1][1] is element:
                        self.antecedent[len(planned)] = len(planned) - 1
                else:
                    intent.target, intent.pronoun = "", True
            if intent.kind == "duration" and previous is not None and previous.kind in ("wait_for", "long_press"):
                previous.ms = intent.ms
                planned[-1] = (f"{planned[-1][0]}, {clause}", previous)
                continue
            if previous is not None and previous.kind == "login" and not previous.text and _completes_login(intent):
                # "sign me in? Email: a@b.c, password: x", "log in as a@b.c. Password x": the same sign-in
                previous.target = previous.target or intent.target
                previous.text = intent.text
                planned[-1] = (f"{planned[-1][0]}, {clause}", previous)
                continue
            if condition is not None:
                if not (intent.kind == "toggle" and intent.on is not None and _same_name(intent.target, condition)):
                    said = self.masked.restore(condition)
                    raise BrainError(
                        f'I can\'t act only if "{said}" is in some state: no step checks that. {can_do()}',
                        "unsupported",
                    )
                condition = None  # "if wifi is on, turn it off": turning it off is right whatever it is
            planned.append((clause, intent))
            previous = intent
            if intent.kind in _ELEMENTS and intent.target and not intent.pronoun:
                element = intent
        if condition is not None:
            raise BrainError(f"I can't act only if something holds: no step checks that. {can_do()}", "unsupported")
        for words, undone in skipped:
            # "fill in the form but don't sign in": left undone, unless another clause does just that
            if any(_same_act(intent, undone) for _, intent in planned):
                raise BrainError(f"You asked me both to {words} and not to: which is it?", "not_understood")
            self.notes.append(f"I won't {words}")
        return planned

    def _vague(self, clause: str) -> Ask | None:
        """ "the one we tested yesterday", "switch that back to how it was", "fix it": what it points at was done or
        said before this message, which only the user can say (a question, never a refusal)."""
        said = self.masked.restore(clause)
        if not _VAGUE_REF.search(said) or not _DOING.search(said):
            return None  # "thanks for your help earlier": nothing asked to be done
        return Ask(f'What do you mean by "{said}"? Say it as the screen names it, please.', code="needs_value")

    def _question(self, ask: Ask, rest: str) -> Plan:
        step: dict[str, Any] = {"action": "ask_user", "prompt": ask.question}
        if ask.labels and _ask_takes_choices():
            step["choices"] = list(ask.labels)
        self._add(step, "ask you " + ("which one you mean" if ask.code == "ambiguous" else "for what is missing"))
        return self._done(question=ask.question, remaining=rest, choices=ask.labels, code=ask.code)

    def _done(
        self,
        *,
        question: str | None = None,
        remaining: str | None = None,
        choices: list[str] | None = None,
        code: str | None = None,
    ) -> Plan:
        sentence = f"I'll {_join(self.said)}" if self.said else ""
        if remaining and not question:
            sentence += f", then look at the screen again for the rest ({remaining})"
            remaining = f"[done: {'; '.join(self.said)}] {remaining}"
        if self.notes:
            notes = "; ".join(self.notes)
            sentence = f"{sentence}; {notes}" if sentence else f"Nothing to do: {notes}"
        return Plan(
            steps=self.steps,
            summary=sentence + ".",
            question=question,
            remaining=remaining,
            choices=list(choices or []),
            code=code if question else None,
        )

    def _add(self, step: dict[str, Any], said: str, times: int = 1, *, same_screen: bool = False) -> None:
        self.steps += [dict(step) for _ in range(times)]
        self.said.append(said if times == 1 else f"{said} {times} times")
        if step["action"] in _CHANGES_SCREEN and not same_screen:
            self.screen = None

    def _plan_answered(self, intent: Intent, answer: str) -> None:
        """Plan the clause the question was about, with the user's answer to it.

        The answer picks one of the elements the question listed ("the second one", "Password"),
        gives the missing value (a password, the text to type), or is an instruction of its own that
        replaces the clause ("log in as … with password …").
        """
        value = _value(answer)
        if intent.kind == "login" and not intent.text and value:
            # "log in" asked which email and password: the answer gives them, or the password alone; it signs in
            credentials = next(
                (
                    said
                    for said in (parse(tidy(mask(text).text)) for text in (answer, value))
                    if said is not None and said.kind in ("login", "credentials") and said.text
                ),
                None,
            )
            if credentials is not None:
                intent.target, intent.text = credentials.target or intent.target, credentials.text
            elif intent.target or not re.search(r"\s", value):
                intent.text = value
        elif intent.kind == "type" and not intent.text and value and intent.target:
            intent.text = value
        elif (intent.kind == "open" or (intent.kind == "tap" and intent.terse)) and value.lower() in ("on", "off"):
            intent = Intent("toggle", target=intent.target, on=value.lower() == "on")
        elif intent.kind == "tap" and intent.terse and value and self._names_field(intent.target):
            intent = Intent("type", target=intent.target, text=value)  # "the password" -> "secret123"
        elif intent.kind == "sleep" and intent.ms is None:
            duration = parse(f"wait {value}")
            intent.ms = duration.ms if duration is not None and duration.kind == "sleep" else None
        try:
            self._plan(intent)
            return
        except Ask as ask:
            self.forced = self.screen.choose(ask.choices, answer) if self.screen and ask.choices else None
            if self.forced is not None:
                self._plan(intent)
                return
            if ask.code == "needs_value" and intent.kind == "type" and value:
                # the text to type, or the one meant where the words said another ("type my password", "a or b")
                self.masked.spans.append(value)
                intent.text = f"{OPEN}{len(self.masked.spans) - 1}{CLOSE}"
                self._plan(intent)
                return
            original, self.masked = self.masked, mask(answer, self.labels)
            instead = parse(tidy(self.masked.text))
            if instead is None or instead.terse:
                raise
            self._plan(instead)
            self.masked = original

    # One intent ------------------------------------------------------------------

    def _plan(self, intent: Intent) -> None:
        self.inherited = intent.inherited
        handler = getattr(self, f"_{intent.kind}")
        handler(intent)

    def _which(self, purpose: str, verb: str, on: bool | None = None) -> Ask:
        """The question for "it" with nothing before it to stand for."""
        if not self.screen:
            return Ask(f"What should I {verb}? Name it, please.")
        choices = self.screen.candidates(purpose, on)
        labels = self.screen.choice_labels(choices)
        listed = ", ".join(f'"{label}"' for label in labels)
        return Ask(f"Which one should I {verb}{': ' + listed if listed else ''}?", choices, labels=labels)

    # Signing in ------------------------------------------------------------------

    def _login(self, intent: Intent) -> None:
        if intent.form == "another":
            raise Ask("Which email and password should I sign in with?", code="needs_value")
        if intent.text and not intent.target:
            _, password_field = self._form()
            self._add(
                {"action": "type", "text": self.masked.restore(intent.text), "into": password_field, "secret": True},
                "type the password",
            )
            self.typed.add(repr(password_field))
            self._sign_in_as_typed()
            return
        if intent.target and not intent.text:
            email = self.masked.restore(intent.target)
            raise Ask(f"What password should I sign in as {email} with?", code="needs_value")
        if not intent.target:
            self._sign_in_as_typed()
            return
        email, pw = self.masked.restore(intent.target), self.masked.restore(intent.text)
        email_field, password_field = self._form()
        button, _, _ = self._resolve("sign in", purpose="tap", kinds=("button",))
        self.steps += [
            {"action": "type", "text": email, "into": email_field},
            {"action": "type", "text": pw, "into": password_field, "secret": True},
        ]
        self.typed |= {repr(email_field), repr(password_field)}
        self._add({"action": "tap", **button}, f"sign in as {email}")

    def _form(self) -> tuple[Selector, Selector]:
        try:
            email_field, _, _ = self._field("email")
            password_field, _, _ = self._field("password")
        except Missing as exc:
            raise Missing(f"I can't see a sign-in form with email and password fields. {_OPEN_FIRST}") from exc
        return email_field, password_field

    def _sign_in_as_typed(self) -> None:
        """ "log in" alone: tap Sign in when the form holds an email and a password, else ask for them."""
        if self.screen:
            fields = {name: self._find_field(name) for name in ("email", "password")}
            empty = [
                name
                for name, i in fields.items()
                if i is not None
                and self.screen.is_empty_field(i)
                and repr(self.screen.selector(i, "field")) not in self.typed
            ]
        else:
            typed = {"email": False, "password": False}
            for key in self.typed:
                for name in typed:
                    typed[name] |= name in key
            empty = [name for name, done in typed.items() if not done]
        if len(empty) == 2:
            raise Ask('Which email and password should I sign in with? (Say "… with password …".)', code="needs_value")
        if empty:
            raise Ask(f"What {empty[0]} should I sign in with?", code="needs_value")
        button, _, _ = self._resolve("sign in", purpose="tap", kinds=("button",))
        self._add({"action": "tap", **button}, "sign in")

    def _find_field(self, name: str) -> int | None:
        try:
            _, _, i = self._resolve(name, purpose="field", kinds=("field",))
        except (Missing, Ask):
            return None
        return i

    def _credentials(self, intent: Intent) -> None:
        email, pw = self.masked.restore(intent.target), self.masked.restore(intent.text)
        email_field, password_field = self._form()
        self.steps.append({"action": "type", "text": email, "into": email_field})
        self._add(
            {"action": "type", "text": pw, "into": password_field, "secret": True}, f"fill in {email} and the password"
        )
        self.typed |= {repr(email_field), repr(password_field)}

    # Time ----------------------------------------------------------------------------

    def _screenshot(self, intent: Intent) -> None:
        self._add({"action": "screenshot"}, "take a screenshot", intent.times)

    def _sleep(self, intent: Intent) -> None:
        if intent.ms is None:
            raise Ask("How long should I wait?", code="needs_value")
        step = {"action": "sleep", "ms": intent.ms}
        try:
            step_parse(step)
        except StepInvalid as exc:
            limit = f"at most {MAX_SLEEP_MS // 1000} seconds" if intent.ms > MAX_SLEEP_MS else exc.message
            raise BrainError(f"I can pause for {limit} at a time.", "unsupported") from exc
        self._add(step, f"wait {_duration(intent.ms)}", intent.times)

    def _wait_for(self, intent: Intent) -> None:
        if intent.pronoun and self.forced is None:
            raise Ask("What should I wait for? Name it, please.", code="needs_value")
        selector, name = self._see(intent.target)
        step = {"action": "wait_for", **selector}
        if intent.ms is not None:
            step["timeout_ms"] = intent.ms
            try:
                step_parse(step)
            except StepInvalid as exc:
                limit = f"at most {MAX_TIMEOUT_MS // 1000} seconds" if intent.ms > MAX_TIMEOUT_MS else exc.message
                raise BrainError(f"I can wait for something for {limit}.", "unsupported") from exc
        self._add(step, f'wait for "{name}"')

    def _duration(self, intent: Intent) -> None:
        raise BrainError(f"I don't know what should take {_duration(intent.ms or 0)}. {can_do()}", "not_understood")

    def _ask(self, intent: Intent) -> None:
        self._add({"action": "ask_user", "prompt": intent.text}, "ask you for input")

    # Switches ----------------------------------------------------------------------

    def _toggle(self, intent: Intent) -> None:
        state = {True: "on", False: "off", None: ""}[intent.on]
        verb = f"turn {state}" if state else "toggle"
        if re.fullmatch(
            r"(?:(?:the|a|this|that)\s+)?(?:setting|option|feature|thing|switch|toggle)|(?:them|it)\s+(?:all|both)|"
            r"(?:all|both)(?:\s+of\s+them)?|them|"
            r"everything|(?:all|every)\s+(?:the\s+)?(?:switch(?:es)?|settings?|toggles?)",
            intent.target,
            re.I,
        ):
            intent.pronoun = True
        if intent.pronoun and self.forced is None:
            raise self._which("switch", verb, intent.on)
        if not self.screen:
            known = known_element(split_noun(self.masked.restore(intent.target))[0], package=None, kinds=("switch",))
            if intent.on is None and known:
                self._add({"action": "tap", **known.selector}, f"toggle {known.label}")
                return
            raise Later(self.masked.restore(intent.target))
        i: int | None
        try:
            described = _BY_STATE.fullmatch(self.masked.restore(intent.target))
            if described:
                selector, name, i = self._switch_in_state(described, verb)
            else:
                selector, name, i = self._resolve(intent.target, purpose="switch")
        except Missing as exc:
            target = self.masked.restore(intent.target)
            self._elsewhere(target, kinds=("switch",))
            raise Missing(f'I can\'t see a "{target}" switch on the screen.') from exc
        assert i is not None
        if intent.on is not None and (self.screen.checked(i) != (i in self.flipped)) == intent.on:
            # Nothing to switch, but the state is what the rest relies on: checked, a flow exported or replayed
            # from the turn keeps it as its precondition (zero steps lost it).
            self.notes.append(f"{name} is already {state}")
            step = {"action": "assert_visible", **selector, "checked": intent.on}
            self._add(step, f"check that {name} is {state}", same_screen=True)
            return
        self.flipped ^= {i}
        said = f"turn {state} {name}" if state else f"toggle {name}"
        times = intent.times if intent.on is None else 1  # "toggle it twice" flips twice; "turn it on twice" is on
        if times % 2 == 0:
            self.flipped ^= {i}
        self._add({"action": "tap", **selector}, said, times, same_screen=True)

    def _switch_in_state(self, described: re.Match[str], verb: str) -> tuple[Selector, str, int]:
        """ "the one that's on", "the disabled switch": the switch in that state, asked about when several are."""
        assert self.screen is not None
        said = (described["s"] or described["s2"]).lower()
        want = said in ("on", "enabled", "active", "checked")
        if self.forced is not None:
            i = self._take_forced()
        else:
            found = [i for i in self.screen.shown if self.screen.nodes[i].checkable and self.screen.checked(i) == want]
            if not found:
                raise Missing(f"No switch on the screen is {said}.")
            if len(found) > 1:
                labels = self.screen.choice_labels(found)
                listed = ", ".join(f'"{label}"' for label in labels)
                raise Ask(f"Which one should I {verb}: {listed}?", found, labels=labels)
            i = found[0]
        return self.screen.selector(i, "switch"), self.screen.name_of(i), i

    def _elsewhere(self, target: str, *, kinds: tuple[str, ...] = ("switch", "row")) -> None:
        """A known switch or row of another app ("Wi-Fi" from the launcher): open that app, plan the rest there."""
        known = known_element(split_noun(target)[0], package=None, kinds=kinds)
        here = self.screen.package if self.screen else self.app
        if known is not None and known.package != here and known.package != LAUNCHER:
            self._launch(known.package, fresh=False)
            raise Later(target)

    def _field_check(self, intent: Intent) -> None:
        """ "the email field is empty": the field shows its hint, the text an empty field has in the UI tree (on a
        field that holds a value now, the hint our apps' field is known by), so the check fails when it is not."""
        if not self.screen:
            raise Later(self.masked.restore(intent.target))
        fields = [i for i in self.screen.shown if self.screen.is_kind(i, "field")]
        every = r"(?:both|all|each|every)(?:\s+(?:of\s+)?the)?\s+(?:fields|boxes|inputs)|(?:the\s+)?fields"
        if re.fullmatch(every, intent.target, re.I):
            chosen = fields
        else:
            chosen = []
            named = re.sub(r"\s+fields$", "", intent.target, flags=re.I)  # "the email and password fields"
            for ref in re.split(r"\s*(?:,|\band\b)\s*", named):
                _, _, i = self._resolve(ref, purpose="field", kinds=("field",))
                if i is None or i not in fields:
                    raise Missing(f'I can\'t find a field called "{self.masked.restore(ref)}" on the screen.')
                chosen.append(i)
        if not chosen:
            raise Missing("There is no text field on the screen.")
        for i in chosen:
            node = self.screen.nodes[i]
            known = known_element(node.resource_id.split(":id/", 1)[-1], package=self.screen.package, kinds=("field",))
            name = known.label if known else self.screen.name_of(i)
            if intent.text:  # "the email field has x in it": the value it shows
                value = self.masked.restore(intent.text)
                if node.password or (known and known.label == "Password"):
                    raise BrainError(
                        f"I can't read the {name} field: it shows dots, not what was typed. {can_do()}", "unsupported"
                    )
                self._add(
                    {"action": "assert_visible", "id": node.resource_id, "text": value},
                    f'check that the {name} field holds "{value}"',
                )
                continue
            hint = node.text if self.screen.is_empty_field(i) else (known.label if known else "")
            if not hint.strip() or ":id/" not in node.resource_id:
                raise BrainError(
                    f"I can't check that the {name} field is empty: it shows no hint to look for. {can_do()}",
                    "unsupported",
                )
            action, said = ("assert_visible", "empty") if intent.on else ("assert_not_visible", "not empty")
            self._add(
                {"action": action, "id": node.resource_id, "text": hint}, f"check that the {name} field is {said}"
            )

    def _check_state(self, intent: Intent) -> None:
        """ "check that wifi is on", "is bluetooth enabled?": the switch, found as for turning it, must show that
        state (a selector's `checked`), so the check fails when it does not."""
        target = self.masked.restore(intent.target)
        if intent.on is None:
            raise BrainError(
                f'I can\'t tell you what state {target} is in, only check it: say "check that {target} is on" (or '
                f'off), or "make sure {target} is on" to switch it when needed.',
                "unsupported",
            )
        state = "on" if intent.on else "off"
        if intent.pronoun and self.forced is None:
            raise self._which("switch", f"check is {state}")
        if not self.screen:
            raise Later(target)
        try:
            selector, name, i = self._resolve(intent.target, purpose="switch")
        except Missing as exc:
            self._elsewhere(target, kinds=("switch",))
            raise Missing(f'I can\'t see a "{target}" switch on the screen.') from exc
        if i is not None and not self.screen.nodes[i].checkable:
            # "check the Sign in button is enabled": a button is enabled or not, never on or off
            if intent.form not in ("enabled", "disabled", "active", "inactive"):
                raise Missing(f'"{name}" is not a switch: it is neither on nor off.')
            node = self.screen.nodes[i]
            same_id = [j for j in self.screen.shown if self.screen.nodes[j].resource_id == node.resource_id]
            if ":id/" in node.resource_id and len(same_id) == 1:
                selector = {"id": node.resource_id}  # its text may be another element's too ("Sign in")
            elif node.text and sum(self.screen.nodes[j].text == node.text for j in self.screen.shown) == 1:
                selector = {"text": node.text}
            else:
                raise Missing(f'I can\'t tell "{name}" apart from the others to check whether it is enabled.')
            said = "enabled" if intent.on else "disabled"
            self._add(
                {"action": "assert_visible", **selector, "enabled": bool(intent.on)}, f"check that {name} is {said}"
            )
            return
        if "index" in selector:
            raise Missing(f'I can\'t tell the "{target}" switch apart from the others to check its state.')
        self._add({"action": "assert_visible", **selector, "checked": bool(intent.on)}, f"check that {name} is {state}")

    # Checks ----------------------------------------------------------------------------

    def _assert(self, intent: Intent) -> None:
        if intent.pronoun and self.forced is None:
            raise Ask("What should I check for? Name it, please.", code="needs_value")
        labelled = None if intent.explicit and not intent.says else self._labelled_value(intent.target)
        label, value = labelled or (None, None)
        if label is not None:
            # "Android version 14": the label and its value are two elements; both are checked
            self._add({"action": "assert_visible", "text": label}, f'check that "{label}" is shown', same_screen=True)
        elif not self.screen and self.steps and not self.masked.quoted(intent.target) and not intent.explicit:
            words = self.masked.restore(intent.target).strip()
            if re.fullmatch(r"(?:the\s+)?[A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)+\s+\d[\w.]*", words):
                raise Later(words)  # which part is a label and which its value, the next screen says
        selector, name = (
            self._screen_named(intent.target)
            or (self._see(value) if value else None)
            or self._literal(intent)
            or self._see(intent.target)
        )
        shown = bool(self.screen and name in self.screen.labels())
        said = set(norm(name).split())
        self._no_crash_check(intent, said, shown, negative=False)
        if (
            set(selector) == {"text"}
            and not self.masked.quoted(intent.target)
            and not intent.explicit
            and not shown
            and said & _REJECTED
            and said <= _REJECTED | _ATTEMPT | GENERIC | _CREDENTIALS
        ):
            # "check that the sign in failed": what shows it is the app's error, as "no error" checks its absence
            selector, name = self._error_shown(selector, name)
        if set(selector) == {"text"} and (holders := self._labels_holding(selector["text"])):
            selector, name = {"text": holders[0]}, holders[0]  # "'Virtual Phone'" of "CogniSim Virtual Phone"
        self._add({"action": "assert_visible", **selector}, f'check that "{name}" is shown')

    def _literal(self, intent: Intent) -> tuple[Selector, str] | None:
        """A value said in a check ("the title is Login"): the text as written, spelled as the screen does."""
        if not intent.explicit:
            return None
        words = self.masked.restore(intent.target).strip()
        said = norm(words)
        labels = self.screen.labels() if self.screen else self.labels
        if not said or any(
            re.search(rf"(?<!\w){re.escape(said)}(?!\w)", norm(label)) and norm(label) != said for label in labels
        ):
            return None  # a part of a label ("Welcome" of "Welcome, Demo!"): that element
        label = next((label for label in labels if norm(label) == said), words)
        return {"text": label}, label

    def _labelled_value(self, ref: str) -> tuple[str, str] | None:
        """ "android version 14" on a screen with the label "Android version": the label and its value, "14"."""
        if not self.screen or self.masked.quoted(ref):
            return None
        words = re.sub(r"^(?:the|my|this)\s+", "", self.masked.restore(ref).strip(), flags=re.I)
        for label in sorted(self.screen.labels(), key=len, reverse=True):
            if len(norm(label)) > 2 and norm(words).startswith(norm(label) + " "):
                rest = words[len(words) - len(norm(words)) + len(norm(label)) :].strip()
                rest = re.sub(r"^(?:is|says|reads|shows|=|:)\s+", "", rest, flags=re.I)
                if _SHOWN_WORD.fullmatch(rest) or _NOUN_WORD.fullmatch(rest) or set(norm(rest).split()) <= _TROUBLE:
                    continue  # "Item 3 appears …", "sign in failed": the label itself, not a value after it
                if rest and self.screen.confidence(words) < 0.8 and not needs_screen(rest):
                    return label, rest
        return None

    def _assert_not(self, intent: Intent) -> None:
        if intent.pronoun and self.forced is None:
            raise Ask("What should I check is not shown? Name it, please.", code="needs_value")
        selector, name = (
            self._screen_named(intent.target) or self._literal(intent) or self._see(intent.target, negative=True)
        )
        said = set(norm(name).split())
        shown = bool(self.screen and name in self.screen.labels())
        self._no_crash_check(intent, said, shown, negative=True)
        if set(selector) == {"text"} and not self.masked.quoted(intent.target) and said & _TROUBLE and not shown:
            selector, name = self._error_shown(selector, name)
            said = set(norm(name).split())
        misread = bool(said & _FRAME) or said <= GENERIC | _NOTHING
        if set(selector) == {"text"} and not self.masked.quoted(intent.target) and misread and not shown:
            # "error message should", "longer an error": words of the sentence, not of the screen; "red", "nothing"
            raise Ask(f'What exactly should I check is not shown? (I read "{name}".)', code="needs_value")
        if set(selector) == {"text"} and (holders := self._labels_holding(selector["text"], known=True)):
            # "Invalid", "email or password" of "Invalid email or password": as exact text the part is never
            # found, so the check would pass with the words on the screen. The label that holds them is checked
            # (on a screen not seen yet, each label of our apps that holds them).
            for other in holders[1:] if not self.screen else []:
                self._add({"action": "assert_not_visible", "text": other}, f'check that "{other}" is not shown')
            selector, name = {"text": holders[0]}, holders[0]
        elif set(selector) == {"text"} and (scattered := self._label_with_words(selector["text"])) is not None:
            label = self.screen.name_of(scattered) if self.screen else ""
            raise Ask(
                f'Should I check that "{label}" is not shown? (It holds the words of "{name}", not in that order.)',
                [scattered],
                labels=[label],
            )
        if self.screen and set(selector) == {"text"} and not self.masked.quoted(intent.target):
            inside = self._label_inside(selector["text"])
            if inside is not None:
                # "the model isn't X" read as one text: it is not shown, so the check would pass whatever
                # the screen says. What the screen does show inside it is what is probably meant: ask.
                label = self.screen.name_of(inside)
                raise Ask(
                    f'Should I check that "{label}" is not shown? (I can\'t check "{name}" as it is said.)',
                    [inside],
                    labels=[label],
                )
        if set(selector) == {"text"} and not self.masked.quoted(intent.target) and name not in self.labels:
            selector, name = self._can_fail(name)
        self._add({"action": "assert_not_visible", **selector}, f'check that "{name}" is not shown')

    def _can_fail(self, name: str) -> tuple[Selector, str]:
        """A NOT-shown check's phrase as a text that can be on the screen, so that the check can fail.

        "a message about invalid credentials", "the settings shortcut", "Android 14" are shown by no label as
        such: checked as said, they pass whatever the screen shows. The phrase is the label on the screen, or
        the known text of the app in front, that its words name (a value: "14" for "Android 14" or "fourteen");
        words that point at a failure ("bad", "complaint", "invalid") name the app's error message. Several
        labels equally: asked; none: asked, or on a screen not seen yet planned there. Which account is signed
        in is shown by no screen: asked. A name no label's words explain ("NFC", "Pixel 8") is checked as said:
        it could appear."""
        if _ACCOUNT.search(name):
            raise Ask(
                f"I can't check \"{name}\": the screen doesn't show which account is signed in. What should I check "
                "is not shown instead?",
                code="needs_value",
            )
        numbered = {norm(re.sub(r"\d+", "#", label)) for label in self.labels if re.search(r"\d", label)}
        if re.search(r"\d", name) and norm(re.sub(r"\d+", "#", name)) in numbered:
            return {"text": name}, name  # "Item 50": a row of the list, further down
        if not self.screen and self.steps:
            raise Later(name)  # what it names, the screen the steps lead to says
        words = [
            str(count) if (count := count_word(word)) is not None and word != "one" else word
            for word in norm(name).split()
        ]
        package = self.screen.package if self.screen else self.app
        labels = list(
            dict.fromkeys(
                (self.screen.labels() if self.screen else [])
                + [known.label for known in KNOWN if package is None or known.package == package]
            )
        )
        content = [word for word in words if word not in _LINKING and word not in _STRUCTURE]
        held: dict[str, set[str]] = {}
        unexplained: list[str] = []
        for word in content:
            holders = [label for label in labels if word in norm(label).split()] or [
                label for label in labels if any(word_likeness(word, other) >= 0.9 for other in norm(label).split())
            ]  # "the Model line": the label with the word itself, never one with a word like it ("mode")
            for label in holders:
                held.setdefault(label, set()).add(word)
            if not holders and word not in _DESCRIBING | _REJECTED | GENERIC:
                unexplained.append(word)
        if unexplained:
            if held and all(word.isdigit() for word in unexplained):
                value = " ".join(unexplained)  # "Android 13" beside "Android version": its value
                return {"text": value}, value
            if any(word in _CLAUSE or (len(word) > 4 and word.endswith("ing")) for word in unexplained):
                # "showing the login page", "we didn't get in": a sentence, which no screen shows as its text
                raise Ask(
                    f'What exactly should I check is not shown? ("{name}" reads as a description, not a label.)',
                    code="needs_value",
                )
            return {"text": name}, name
        if set(content) & _REJECTED and (known_element("error", package=package) or not held):
            return self._error_shown({"text": name}, name)
        if not held:
            raise Ask(
                f'What exactly should I check is not shown? (No label on the screen is "{name}".)', code="needs_value"
            )
        most = max(len(words) for words in held.values())
        best = [label for label, words in held.items() if len(words) == most]
        if len(best) > 1 and (numbers := [label for label in best if any(word.isdigit() for word in held[label])]):
            best = numbers  # "Android 14": the value shown, "14"
        if len(best) > 1:
            listed = ", ".join(f'"{label}"' for label in best)
            raise Ask(f"Which one should I check is not shown: {listed}?", labels=best)
        return {"text": best[0]}, best[0]

    def _no_crash_check(self, intent: Intent, said: set[str], shown: bool, *, negative: bool) -> None:
        """ "make sure the app doesn't crash": no label says it, and neither its absence nor the app's error shows it:
        ask what should be shown."""
        words = said | set(norm(self.masked.restore(intent.target)).split())
        if self.masked.quoted(intent.target) or shown or not words & _CRASH:
            return
        if negative:
            raise Ask("What should still be shown if the app did not crash? Name a label, please.", code="needs_value")
        raise Ask("What would be shown if the app crashed? Name a label, please.", code="needs_value")

    def _dismiss(self, intent: Intent) -> None:
        """ "dismiss the error": the button that closes it; an error with none (a text of the form) is not closed."""
        if not self.screen:
            raise Later(f"dismiss {intent.target}")
        found = self.screen.dismissers()
        if self.forced is not None:
            found = [self._take_forced()]
        if not found:
            raise Missing(f"Nothing on the screen closes {intent.target}: no Cancel or Close button is shown.")
        if len(found) > 1:
            labels = self.screen.choice_labels(found)
            raise Ask(f"Which one should I tap: {', '.join(repr(label) for label in labels)}?", found, labels=labels)
        self._add({"action": "tap", **self.screen.selector(found[0], "tap")}, f"tap {self.screen.name_of(found[0])}")

    def _error_shown(self, selector: Selector, said: str) -> tuple[Selector, str]:
        """What shows the app in front failed: its known error message; in an app not known, the word "error" as
        said ("no error message"), and a question for other words ("nothing went wrong")."""
        known = known_element("error", package=self.screen.package if self.screen else self.app)
        if known is None and set(norm(said).split()) <= {"error", "errors"} | GENERIC:
            return selector, said
        if known is None:
            raise Ask(
                f'What message would show it went wrong? (I can\'t check "{said}" as it is said: no screen says it.)',
                code="needs_value",
            )
        return dict(known.selector), known.label

    def _labels_holding(self, text: str, *, known: bool = False) -> list[str]:
        """The labels on the screen that hold `text` as a part, in whole words ("Invalid" of "Invalid email or
        password"), when no label is `text` itself: a check of the part as exact text would never find it.

        With `known`, once the screen is not known, a label of our apps (`known.py`) too: a check that it is NOT
        shown is only made stricter by looking for the whole label."""
        if not self.screen and not known:
            return []
        said = norm(text)
        labels = self.screen.labels() if self.screen else self.labels
        if not said or any(norm(label) == said for label in labels):
            return []
        part = re.compile(rf"(?<!\w){re.escape(said)}(?!\w)")
        return list(dict.fromkeys(label for label in labels if part.search(norm(label))))

    def _label_with_words(self, text: str) -> int | None:
        """An element whose label holds every word of `text` (two or more), though not as one part of it ("Invalid
        password" beside "Invalid email or password")."""
        if not self.screen:
            return None
        words = set(norm(text).split()) - GENERIC - _STRUCTURE
        if len(words) < 2:
            return None
        for i in self.screen.shown:
            for label in (self.screen.nodes[i].text, self.screen.nodes[i].content_desc):
                if norm(label) != norm(text) and words <= set(norm(label).split()):
                    return i
        return None

    def _label_inside(self, text: str) -> int | None:
        """An element whose label is a part of `text`, with other words around it ("model is not Pixel")."""
        assert self.screen is not None
        words = norm(text)
        for i in self.screen.shown:
            for label in (self.screen.nodes[i].text, self.screen.nodes[i].content_desc):
                said = norm(label)
                if len(said) < 3 or said == words:
                    continue
                found = re.search(rf"(?<!\w){re.escape(said)}(?!\w)", words)
                if found and set((words[: found.start()] + " " + words[found.end() :]).split()) & _STRUCTURE:
                    return i
        return None

    def _screen_named(self, ref: str) -> tuple[Selector, str] | None:
        """ "the login screen", "the home screen": what shows that screen is there."""
        if self.masked.quoted(ref):
            return None
        package = self.screen.package if self.screen else self.app
        return screen_mark(self.masked.restore(ref), package)

    # Keys and apps ------------------------------------------------------------------------

    def _key(self, intent: Intent) -> None:
        if intent.target == "submit" and self.screen and self.screen.confidence("submit", kind="button") >= ACT:
            self._tap(Intent("tap", target="submit"))  # "submit the form": its button, whatever has the focus
            return
        said = {"back": "go back", "home": "go to the home screen"}.get(intent.text, f"press {intent.text}")
        self._add({"action": "press_key", "key": intent.text}, said, intent.times)
        self.app = LAUNCHER if intent.text == "home" else None if intent.text == "back" else self.app

    def _back_to(self, intent: Intent) -> None:
        target = self.masked.restore(intent.target).strip()
        package = app_package(target, strict=False)
        if _HOME_WORDS.fullmatch(target) or package == LAUNCHER:
            self._key(Intent("key", text="home"))
        elif (
            _LOGIN_SCREEN.fullmatch(target) and self.screen and self.screen.confidence("sign out", kind="button") >= ACT
        ):
            self._tap(Intent("tap", target="sign out"))  # signed in: the way back to the login screen is signing out
        elif package and package != self.app and self.app is not None:
            self._launch(package, fresh=False)
        elif package and self.screen is None and self.steps:
            raise Later(target)  # "go back and come back to Settings": where the back key led is not known
        elif package or _PAGE_WORDS.fullmatch(target) or not self.screen:
            self._key(Intent("key", text="back"))
        else:
            self._tap(Intent("tap", target=intent.target))

    def _launch(self, package: str, *, fresh: bool) -> None:
        step: dict[str, Any] = {"action": "launch_app", "package": package}
        if fresh:
            step["clear_state"] = True
        self._add(step, f"open {app_label(package)}" + (" with its data cleared" if fresh else ""))
        self.app = package

    def _current_app(self, name: str) -> str | None:
        if _CURRENT.fullmatch(name.strip()):
            return self.app if self.app not in (LAUNCHER, None) else self.closed
        return app_package(name, strict=False)

    def _open(self, intent: Intent) -> None:
        name = self.masked.restore(intent.target)
        if re.fullmatch(r"(?:the\s+|a\s+|this\s+|that\s+)?(?:setting|option|thing|one|entry|page)", name, re.I):
            raise self._which("tap", "open")
        package = app_package(name, strict=False) or (
            self._current_app(name) if _CURRENT.fullmatch(name.strip()) else None
        )
        if package:
            self._launch(package, fresh=intent.fresh)
        elif not self.screen and self.steps and _ROW.search(name):
            raise Later(name)  # "sign in and open Item 22": on the screen signing in leads to
        elif self.screen or needs_screen(name) or known_element(name, package=self.app) or _ROW.search(name):
            try:
                self._tap(intent)
            except Missing as exc:
                self._elsewhere(name)
                raise Missing(f"I don't know an app called \"{name}\" and can't see it on the screen. {_APPS}") from exc
        else:
            raise BrainError(f'I don\'t know an app called "{name}". {_APPS}', "not_on_screen")

    def _names_switch(self, ref: str) -> bool:
        words = self.masked.restore(ref)
        if self.screen is not None and self.screen.confidence(split_noun(words)[0], kind="switch") >= ACT:
            return True
        return known_element(words, package=None, kinds=("switch",)) is not None

    def _may_open(self, name: str) -> bool:
        """Whether "open <name>" can name an app, or something on (or known of) the screen."""
        return bool(
            app_package(name, strict=False)
            or _CURRENT.fullmatch(name.strip())
            or self._on_screen(name)
            or needs_screen(name)
            or known_element(name, package=self.app)
        )

    def _restart(self, intent: Intent) -> None:
        name = self.masked.restore(intent.target)
        package = self._current_app(name)
        if not package:
            raise BrainError(f'I don\'t know which app "{name}" is. {_APPS}', "not_on_screen")
        self._add({"action": "stop_app", "package": package}, f"close {app_label(package)}")
        self._launch(package, fresh=intent.fresh)

    def _stop(self, intent: Intent) -> None:
        name = self.masked.restore(intent.target)
        if intent.pronoun or name.lower() in ("it", "this", "that"):
            # "close it" with nothing before it: the app, unless a dialog on the screen can be closed too
            dismissers = self.screen.dismissers() if self.screen else []
            if dismissers and self.forced is None:
                assert self.screen is not None
                labels = self.screen.choice_labels(dismissers)
                listed = ", ".join(f'"{label}"' for label in labels)
                raise Ask(f"Should I close the app, or tap {listed} on the screen?", dismissers, labels=labels)
            if self.forced is not None and self.screen is not None:
                i = self._take_forced()
                self._add({"action": "tap", **self.screen.selector(i, "tap")}, f"tap {self.screen.name_of(i)}")
                return
            name = "the app"
        package = self._current_app(name)
        if not package and self.screen and self.screen.confidence(split_noun(name)[0], kind="switch") >= 0.8:
            self._toggle(Intent("toggle", target=intent.target, on=False))  # "kill location": its switch
            return
        if not package and self.screen and self.screen.confidence(split_noun(name)[0], kind="text") >= 0.8:
            self._key(Intent("key", text="back"))  # "close About phone": the page the screen shows, not an app
            return
        if not package:
            raise BrainError(f'I don\'t know which app "{name}" is. {_APPS}', "not_on_screen")
        self._add({"action": "stop_app", "package": package}, f"close {app_label(package)}")
        self.app, self.closed = LAUNCHER, package

    # Touching ------------------------------------------------------------------------------

    def _press(self, intent: Intent, action: str) -> None:
        verb = "tap" if action == "tap" else "long-press"
        extra = {"duration_ms": intent.ms} if action == "long_press" and intent.ms else {}
        if intent.point:
            x, y = intent.point
            self._add({"action": action, "x": x, "y": y, **extra}, f"{verb} at ({x}, {y})", intent.times)
            return
        if intent.pronoun and self.forced is None:
            raise self._which("tap", verb)
        intent.target = _CONTAINER.sub("", intent.target)
        words = _PLACE.sub("", self.masked.restore(intent.target))
        if placed := _PLACED_KIND.fullmatch(self.masked.restore(intent.target)):
            intent.target = words = f"the {placed['pos']} {placed['noun']}"  # "the button at the bottom"
        if (
            words != self.masked.restore(intent.target)
            and self.screen
            and self.screen.confidence(split_noun(words)[0]) >= 0.8
        ):
            intent.target = words  # "the back arrow in the top left": where it is, not what
        if intent.terse and not intent.inherited and (package := app_package(words)):
            self._launch(package, fresh=False)
            return
        if row := self._nth_row(words, beyond=True):
            intent.target = words = row  # "the 15th item" of a list showing 13: the row numbered so
        if action == "tap" and canonical(split_noun(words)[0]) in _UP | {canonical(w) for w in _UP}:
            if words.strip().lower() == "up" and intent.terse and not self._has_up():
                self._scroll(Intent("scroll", direction="up"))
                return
            if self._up():
                return
        if intent.terse and not intent.inherited and not self.screen and not known_element(words, package=self.app):
            raise Missing(f'I don\'t understand "{words}".')
        i: int | None = None
        try:
            selector, name, i = self._resolve(intent.target, purpose="tap")
        except Missing:
            exact = self.masked.quoted(intent.target)
            if not (self.screen and self.screen.scrollable()) or needs_screen(words):
                raise
            if not exact and not self.screen.list_like(split_noun(words)[0]):
                raise
            selector, name = self._see(intent.target)
            scroll = {"action": "scroll_until_visible", **selector}
            if self.screen.list_direction(split_noun(words)[0]) == "up":
                scroll["direction"] = "up"
            self._add(scroll, f'scroll to "{name}"', same_screen=True)
        else:
            named_only = (intent.terse and not intent.inherited) or intent.kind == "open"
            if named_only and i is None and known_element(words, package=None, kinds=("switch",)):
                raise Ask(f"Should I turn {name} on or off?", code="needs_value", labels=["on", "off"])
            if named_only and i is not None and self._switch_of(i) is not None:
                if intent.kind == "open" and _SUBPAGE.search(words):
                    # "open the Wi-Fi network list", "… Bluetooth's paired devices": no such page here
                    raise Missing(f'I can\'t see "{words}": {name} is only a switch here, with no page of its own.')
                # "wifi", "open bluetooth": a switch's row has no page of its own here; tapping it flips the switch
                raise Ask(f"Should I turn {name} on or off?", code="needs_value", labels=["on", "off"])
            if (
                intent.terse
                and not intent.inherited
                and i is not None
                and self.screen
                and self.screen.is_kind(i, "field")
            ):
                # "now the password": a field named without a verb is to be filled, with what is not said
                field_name = self.screen.choice_name(i)
                raise Ask(f"What should I type into the {field_name} field?", code="needs_value")
        field = action == "tap" and i is not None and self.screen is not None and self.screen.is_kind(i, "field")
        self._add({"action": action, **selector, **extra}, f'{verb} "{name}"', intent.times)
        if field:
            self.last_field = selector  # "tap the email field and type x": there
        if action == "tap" and self.app == LAUNCHER and (package := app_package(name)):
            self.app = package  # an app's icon: what follows is planned in that app

    def _switch_of(self, i: int) -> int | None:
        """The switch element `i` is, or is the row or label of."""
        assert self.screen is not None
        nodes = self.screen.nodes
        if nodes[i].checkable:
            return i
        row = i if nodes[i].clickable else nodes[i].parent
        for j in self.screen.shown:
            if (
                nodes[j].checkable
                and row is not None
                and (nodes[j].parent == row or nodes[j].parent == nodes[i].parent)
            ):
                return j
        return None

    def _on_screen(self, words: str) -> bool:
        return bool(self.screen and self.screen.confidence(split_noun(words)[0]) >= 0.8)

    def _has_up(self) -> bool:
        return bool(
            self.screen
            and any(
                self.screen.nodes[i].clickable and norm(self.screen.nodes[i].content_desc) in _UP_LABELS
                for i in self.screen.shown
            )
        )

    def _up(self) -> bool:
        """ "the back arrow": the screen's Navigate up button when it has one, else the back key."""
        if self.screen:
            for i in self.screen.shown:
                node = self.screen.nodes[i]
                if node.clickable and norm(node.content_desc) in _UP_LABELS:
                    self._add({"action": "tap", **self.screen.selector(i, "tap")}, f'tap "{node.content_desc}"')
                    return True
        self._key(Intent("key", text="back"))
        return True

    def _tap(self, intent: Intent) -> None:
        self._press(intent, "tap")

    def _long_press(self, intent: Intent) -> None:
        self._press(intent, "long_press")

    # Typing ---------------------------------------------------------------------------------

    def _type(self, intent: Intent) -> None:
        text = self.masked.restore(intent.text).strip()
        into: Selector | None
        if intent.pronoun and self.forced is None:
            raise self._which("field", f'type "{text}" into' if text else "type into")
        if intent.terse and not self._names_field(intent.target):
            raise Missing(f'I can\'t find a field called "{self.masked.restore(intent.target)}" on the screen.')
        if re.fullmatch(
            r"(?:the\s+|this\s+)?(?:form|fields|login\s+form|sign[\s-]*in\s+form|details|credentials)",
            intent.target,
            re.I,
        ):
            if not text:
                raise Ask('Which email and password should I fill in? (Say "… with password …".)', code="needs_value")
            intent.target = ""
        target = intent.target or (
            "email" if re.fullmatch(r"\S+@\S+\.\w+", text) and self._names_field("email") else ""
        )
        empty = re.fullmatch(r"(?:the\s+)?(?:empty|blank|unfilled|free)\s+(?:field|box|input|one)", target, re.I)
        if empty and self.screen:
            fields = [i for i in self.screen.shown if self.screen.is_kind(i, "field") and self.screen.is_empty_field(i)]
            if not fields:
                raise Missing("There is no empty field on the screen.")
            if len(fields) > 1:
                raise self._which("field", "type into")
            into, name = self.screen.selector(fields[0], "field"), self.screen.name_of(fields[0])
            secret = self.screen.nodes[fields[0]].password or "password" in name.lower()
        elif target:
            try:
                into, name, secret = self._field(target)
            except Missing:
                if self._on_screen(_LABEL_NOUN.sub("", self.masked.restore(target))):
                    # "change the model name to Foo": a text the screen shows, not a field to type into
                    raise BrainError(
                        f'"{self.masked.restore(target)}" is not a text field: I can only type into fields. {can_do()}',
                        "unsupported",
                    ) from None
                raise
        elif self.last_field is not None and not intent.pronoun:
            into, name = self.last_field, ""  # "clear the password and type x": there
            secret = "password" in str(into.get("id", ""))
        else:
            into, name = self._any_field(f'type "{text}" into' if text else "type into"), ""
            secret = bool(into and "password" in str(into.get("id", "")))
        self.last_field = None  # typed: a next "type y" names its field or is asked about
        if text and not self.masked.quoted(intent.text) and _PLACEHOLDER.fullmatch(text):
            # "type my password", "put something in the email box": what stands for a value, not the value
            where = f"the {name} field" if name else "the field"
            raise Ask(f'What should I type into {where}? (I read "{text}".)', code="needs_value")
        if text and not self.masked.quoted(intent.text) and (either := _EITHER_TEXT.fullmatch(text)):
            # "type secret123 or hunter2": two values, and which one is meant is not said
            where = f"the {name} field" if name else "the field"
            raise Ask(f'Which should I type into {where}: "{either["a"]}" or "{either["b"]}"?', code="needs_value")
        if into and text and (intent.fresh or self._holds_text(into)) and intent.on is not True:
            self._add({"action": "clear_text", "into": into}, f"clear the {name or 'field'}", same_screen=True)
        if text and not self.masked.quoted(intent.text) and _MISREAD_TEXT.search(text):
            # "X with password with Y", "X in the second one": the sentence's frame in the text to type
            where = f"the {name} field" if name else "the field"
            raise Ask(f'What exactly should I type into {where}? (I read "{text}".)', code="needs_value")
        if not text:
            where = f"the {name} field" if name else "the field"
            what = "password" if secret else "text"
            raise Ask(f"What {what} should I type into {where}?", code="needs_value")
        what = "the password" if secret else f'"{text}"'
        step: dict[str, Any] = {"action": "type", "text": text, **({"secret": True} if secret else {})}
        if into:
            step["into"] = into
            self.typed.add(repr(into))
            self.cleared.discard(repr(into))
        self._add(step, f"type {what}" + (f" into the {name} field" if name else ""))

    def _holds_text(self, into: Selector) -> bool:
        """Whether the field shows a value of its own (typing would add to it)."""
        if repr(into) in self.cleared:
            return False
        if not self.screen or repr(into) in self.typed:
            return repr(into) in self.typed
        for i in self.screen.shown:
            if self.screen.is_kind(i, "field") and self.screen.selector(i, "field") == into:
                return not self.screen.is_empty_field(i)
        return False

    def _names_field(self, ref: str) -> bool:
        if not self.screen:
            return known_element(ref, package=self.app, kinds=("field",)) is not None
        return self.screen.confidence(split_noun(self.masked.restore(ref))[0], kind="field") >= 0.8

    def _clear(self, intent: Intent) -> None:
        into: Selector | None
        if intent.pronoun and self.screen:
            if self.forced is None:
                raise self._which("field", "clear")
            i = self._take_forced()
            into, name = self.screen.selector(i, "field"), self.screen.name_of(i)
            self._add({"action": "clear_text", "into": into}, f"clear the {name} field")
            return
        if self.screen and re.fullmatch(
            r"(?:both|all|every)(?:\s+(?:of\s+)?the)?\s+(?:fields|boxes|inputs|text\s+fields)|(?:the\s+)?(?:fields|form|"
            r"whole\s+form)|everything|all|both(?:\s+of\s+them)?",
            intent.target,
            re.I,
        ):
            fields = [i for i in self.screen.shown if self.screen.is_kind(i, "field")]
            if not fields:
                raise Missing("There is no text field on the screen.")
            for i in fields:
                step = {"action": "clear_text", "into": self.screen.selector(i, "field")}
                self._add(step, f"clear the {self.screen.name_of(i)} field", same_screen=True)
            return
        if intent.target:
            into, name, _ = self._field(intent.target)
        else:
            into, name = self._any_field("clear"), ""
        step = {"action": "clear_text", **({"into": into} if into else {})}
        self.last_field = into
        if into:
            self.cleared.add(repr(into))
            self.typed.discard(repr(into))
        self._add(step, f"clear the {name} field" if name else "clear the field")

    def _backspace(self, intent: Intent) -> None:
        """Delete the last characters: the focused field's, or the named one's (tapped, cursor to the end)."""
        n = intent.times
        intent.times = 1
        if intent.target:
            into, name, _ = self._field(intent.target)
        elif self.screen and any(self.screen.nodes[i].focused for i in self.screen.shown):
            self._add({"action": "press_key", "key": "del"}, "delete the last character", n, same_screen=True)
            return
        elif self.screen:
            filled = [
                i for i in self.screen.shown if self.screen.is_kind(i, "field") and not self.screen.is_empty_field(i)
            ]
            if self.forced is not None:
                filled = [self._take_forced()]
            if len(filled) != 1:
                choices = filled or [i for i in self.screen.shown if self.screen.is_kind(i, "field")]
                if not choices:
                    raise Missing("There is no text field on the screen.")
                labels = self.screen.choice_labels(choices)
                listed = ", ".join(f'"{label}"' for label in labels)
                raise Ask(f"Which field should I delete the last character of: {listed}?", choices, labels=labels)
            into, name = self.screen.selector(filled[0], "field"), self.screen.name_of(filled[0])
        else:
            self._add({"action": "press_key", "key": "del"}, "delete the last character", n)
            return
        self._add({"action": "tap", **into}, f"tap the {name} field", same_screen=True)
        self._add({"action": "press_key", "key": "move_end"}, "move to its end", same_screen=True)
        self._add({"action": "press_key", "key": "del"}, "delete the last character", n, same_screen=True)

    # Scrolling and swiping --------------------------------------------------------------------

    def _scroll_to(self, intent: Intent) -> None:
        if intent.pronoun and self.forced is None:
            raise Ask("What should I scroll to? Name it, please.", code="needs_value")
        words = self.masked.restore(intent.target)
        if row := self._nth_row(words, beyond=False):
            intent.target = words = row  # "scroll to the 15th item": the row numbered so
        if (
            self.screen
            and re.search(r"\b(?:field|box|input)$", words.strip(), re.I)
            and self.screen.confidence(split_noun(words)[0], kind="field") >= ACT
        ):
            self._tap(Intent("tap", target=intent.target))  # "jump to the password field": into it
            return
        if intent.terse and self.screen and not self.masked.quoted(intent.target):
            findable = self.screen.list_like(split_noun(words)[0]) or self._on_screen(words)
            if not findable:
                raise Missing(f'I can\'t find "{words}" here: it is not on the screen, nor a row of its list.')
        if self.screen and not self.screen.scrollable() and not self._on_screen(words):
            raise Missing(f'I can\'t find "{words}" here: it is not on the screen, and nothing on it scrolls.')
        selector, name = self._see(intent.target)
        step = {"action": "scroll_until_visible", **selector}
        # A numbered row is where its number puts it, whichever way "swipe down to Item 22" said to move
        numbered = self.screen.list_direction(self.masked.restore(intent.target)) if self.screen else None
        if numbered == "up" or (numbered is None and intent.direction == "up"):
            step["direction"] = "up"
        self._add(step, f'scroll {step.get("direction", "down")} to "{name}"')

    def _scroll_edge(self, intent: Intent) -> None:
        """To the top or bottom of the list: to its first row when the rows are numbered, else a few swipes."""
        if not self.screen and self.steps:
            raise Later("the top of the list" if intent.direction == "up" else "the bottom of the list")
        first = self._first_row()
        if intent.direction == "up" and first:
            self._add({"action": "scroll_until_visible", "text": first, "direction": "up"}, f'scroll up to "{first}"')
            return
        finger = "down" if intent.direction == "up" else "up"
        edge = "top" if intent.direction == "up" else "bottom"
        self._add({"action": "swipe", "direction": finger}, f"scroll to the {edge}", 5)

    def _nth_row(self, words: str, *, beyond: bool) -> str | None:
        """ "the 15th item" -> "Item 15" in a list whose rows are numbered from 1 ("Item 1", "Item 2" …); with
        `beyond`, only when the screen shows fewer rows than that (else it is the 15th row shown)."""
        said = _NTH_ROW.fullmatch(words.strip())
        first = self._first_row() if said and self.screen else None
        if not said or not first or not self.screen:
            return None
        n = ordinal(said["n"])
        prefix = first[:-1]
        shown = [label for label in self.screen.labels() if re.fullmatch(rf"{re.escape(prefix)}\d+", label)]
        if beyond and n <= len(shown):
            return None
        return f"{prefix}{n}"

    def _first_row(self) -> str | None:
        """ "Item 1" when the list's rows read "Item 12", "Item 13" …"""
        if not self.screen:
            return None
        for label in self.screen.labels():
            row = re.fullmatch(r"(.*?\D)(\s*)(\d+)", label)
            if row and self.screen.list_like(label):
                return f"{row[1]}{row[2]}1"
        return None

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


_NOT_NAMES = re.compile(
    r"^(?:turn\s+on\s+|turn\s+off\s+|toggle\s+|tap\s+|open\s+|verify\s+|type\s+|close\s+|long\s+press\s+|scroll\s+to\s+|"
    r"wait\s+for\s+|clear\s+)?(?:do|make|be|have|get|play|eat|fly|dance|sing|run|jump|cook|buy|sell|order|bake|drink|"
    r"walk|book|go|say|tell|give|bring|find\s+out|learn|write\s+me)\b",
    re.I,
)


_RUN_ON = re.compile(
    r"(?P<a>.+?)\s+(?P<b>(?:turn|switch|tap|click|press|open|go|type|enter|scroll|swipe|check|verify|enable|disable|toggle|"
    r"sign|log|take|wait|clear|make\s+sure|long\s+press)(?!\s+(?:is|are|was|were|should|must|has|have|isn't|aren't|stays|remains)\b)"
    r"(?:\s.+)?)",
    re.I,
)
_IN_APP = re.compile(
    r"(?:in|inside|within|on|using|from|via)\s+(?:the\s+)?(?P<app>.+?)(?:\s+(?:app|application|screen|page))?", re.I
)


def _run_on(clause: str) -> list[str]:
    """ "open settings turn off wifi", "in settings turn off wifi": two clauses said as one; "in the settings app":
    open it first. A clause is cut only where both halves read as instructions of their own."""
    if (place := _IN_APP.fullmatch(clause)) and app_package(place["app"], strict=False):
        return [f"open {place['app']}"]
    whole = parse(clause)
    named = whole is not None and whole.kind in ("open", "toggle", "stop", "restart")  # an app's or a switch's name
    if whole is not None and not whole.terse and not (named and _RUN_ON.fullmatch(whole.target or "")):
        return [clause]
    for cut in _RUN_ON.finditer(clause):
        first, rest = cut["a"], cut["b"]
        if (place := _IN_APP.fullmatch(first)) and app_package(place["app"], strict=False):
            return [f"open {place['app']}", *_run_on(rest)]
        if _DANGLING.search(first):
            continue  # "turn off the 2nd toggle from the top": "toggle" is the noun of "the 2nd", not a verb
        head, tail = parse(first), parse(rest)
        if head is not None and tail is not None and not head.terse and not tail.terse:
            return [first, *_run_on(rest)]
    return [clause]


_DANGLING = re.compile(rf"\b(?:the|a|an|my|this|that|each|every|{ORDINAL}|top|bottom)$", re.I)
_SAME = re.compile(
    r"(?:(?:do\s+)?(?:the\s+)?same(?:\s+thing)?(?:\s+again)?\s+(?:for|with|to|on)|likewise\s+(?:for|with)|ditto\s+(?:for\s+)?|"
    r"(?:do|repeat)\s+(?:it|that|this|the\s+same(?:\s+thing)?)\s+(?:for|with|to|on))\s+(?P<x>.+)|"
    r"(?:do|repeat)\s+(?:it|that|this|the\s+same(?:\s+thing)?|the\s+(?:last|previous)\s+(?:step|one|action))"
    r"(?:\s+(?:again|once\s+more|one\s+more\s+time))?|repeat|(?:same\s+)?again|once\s+more|one\s+more\s+time",
    re.I,
)
_SHOULD_BE = re.compile(
    r"(?:and\s+|as\s+|which\s+)?(?:it|they|that|this|there)\s+(?:should|must|ought\s+to|has\s+to|needs?\s+to|is\s+supposed\s+to)"
    r"(?P<not>\s+not|n't)?(?:\s+be)?(?:\s+(?:there|shown|visible|displayed))?",
    re.I,
)
_DONT = re.compile(
    r"(?:but\s+|and\s+)?(?:don'?t|do\s+not|never|dont)\s+(?P<rest>.+?)(?:\s+(?:yet|just\s+yet|for\s+now|now|at\s+all))?",
    re.I,
)
_CONDITION = re.compile(
    r"(?:only\s+)?if\s+(?P<x>.+?)\s+(?:is|are)\s+(?:not\s+|already\s+|currently\s+|still\s+)*(?:turned\s+|switched\s+)?"
    r"(?:on|off|enabled|disabled|active|inactive)",
    re.I,
)


def _same_name(a: str, b: str) -> bool:
    return canonical(split_noun(a)[0]) == canonical(split_noun(b)[0])


def _same_act(done: Intent, undone: Intent) -> bool:
    """Whether a planned intent does what another clause says not to do."""
    if undone.kind == "login" or (
        undone.kind == "tap" and re.fullmatch(r"(?:the\s+)?sign\s*in(?:\s+button)?", undone.target, re.I)
    ):
        return done.kind == "login" or (done.kind == "tap" and canonical(done.target) in ("sign in", "the sign in"))
    if undone.target and done.target:
        return _same_name(done.target, undone.target)  # "turn off wifi but don't touch wifi"
    return done.kind == undone.kind


def _completes_login(intent: Intent) -> bool:
    """Whether a clause gives what a sign-in said just before it lacks: both credentials, or the password."""
    if intent.kind == "credentials":
        return True
    return intent.kind == "type" and bool(intent.text) and _PASSWORD_FIELD.fullmatch(intent.target) is not None


def _nonsense(clause: str) -> bool:
    """Whether a clause that borrowed a verb reads like another action ("turn on wifi and do a barrel roll")."""
    return bool(_NOT_NAMES.match(clause))


def _value(answer: str) -> str:
    """The value in an answer: "it's 'secret123'" -> secret123, "the password is hunter2" -> hunter2."""
    value = answer.strip().strip(" .!")
    value = re.sub(r"^(?:it'?s|it\s+is|use|type|try|the\s+\w+\s+is|my\s+\w+\s+is|\w+\s*[:=])\s+", "", value, flags=re.I)
    quoted = re.fullmatch(r"[\"'“‘](.*)[\"'”’]", value)
    return quoted[1] if quoted else value


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _duration(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 or ms % 1000 else f"{ms // 1000} s"
