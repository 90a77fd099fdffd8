"""Words: quoting, splitting an instruction into clauses, numbers and durations, fuzzy likeness."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

# A protected span (quoted text, or an on-screen label with a comma in it) is replaced by
# OPEN + number + CLOSE while the instruction is split and matched, then put back.
OPEN, CLOSE = "\ue000", "\ue001"
_TOKEN = re.compile(f"{OPEN}(\\d+){CLOSE}")
_QUOTES = re.compile(r"\"([^\"]*)\"|(?<!\w)'([^']+)'(?!\w)")
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})

# Rewrites applied before splitting, so that idioms survive the split on "and".
_IDIOMS = [
    (re.compile(r"\b(?:press|tap|click|touch)\s+and\s+hold\b", re.I), "long press"),
    (re.compile(r"(\S+@\S+?),?\s+and\s+(?:the\s+)?(password|pw)\b", re.I), r"\1 with \2"),
    (re.compile(r"(\S+@\S+?),\s+(?:the\s+)?(password|pw)\b", re.I), r"\1 with \2"),
    (re.compile(r"\b(?:the\s+)?(?:home\s+screen|app|it|screen)\s+greets\s+me\b", re.I), "the greeting is shown"),
]

# A comma between two numbers ("tap at 540, 1200") does not split.
_PUNCT_SPLIT = re.compile(r"\s*;\s*|(?<!\d)\s*,\s*|\s*,(?!\s*\d)\s*|\s*[.!?]+(?:\s+|$)")
_WORD_SPLIT = re.compile(
    r"\s+(?:and\s+then|and\s+after\s+that|then|and|after\s+that|afterwards|followed\s+by)\s+", re.I
)
_LEADING = re.compile(
    r"^(?:(?:and|then|also|now|first(?:ly)?(?!\s+(?:item|row|one|field|button|switch|entry|option|icon|link)\b)|"
    r"secondly|next|finally|lastly|after\s+that|afterwards|please|pls|"
    r"kindly|just|ok(?:ay)?|so|can\s+you|could\s+you|would\s+you|will\s+you|i\s+want\s+(?:you\s+)?to|"
    r"i'?d\s+like\s+(?:you\s+)?to|i\s+need\s+(?:you\s+)?to|let'?s|go\s+ahead\s+and|try\s+to|you\s+should)\b,?\s*)+",
    re.I,
)
_TRAILING = re.compile(r"(?:\s*,?\s+(?:please|for\s+me|now|as\s+well|too))+$", re.I)


@dataclass
class Masked:
    """An instruction with its protected spans replaced by tokens."""

    text: str
    spans: list[str]

    def restore(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self.spans[int(m[1])], text)

    def quoted(self, text: str) -> bool:
        """Whether `text` is exactly one protected span (the user quoted it)."""
        return bool(_TOKEN.fullmatch(text.strip()))


def mask(text: str, labels: Iterable[str] = ()) -> Masked:
    """Protect quoted text, then the given labels (case-insensitively) where they contain separators."""
    spans: list[str] = []

    def keep(value: str) -> str:
        spans.append(value)
        return f"{OPEN}{len(spans) - 1}{CLOSE}"

    text = " ".join(text.translate(_CURLY).split())
    text = _QUOTES.sub(lambda m: keep(m[1] if m[1] is not None else m[2]), text)
    splittable = {label for label in labels if _PUNCT_SPLIT.search(label) or _WORD_SPLIT.search(label)}
    for label in sorted(splittable, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(label)}(?!\w)", lambda m: keep(m[0]), text, flags=re.I)
    for pattern, replacement in _IDIOMS:
        text = pattern.sub(replacement, text)
    return Masked(text, spans)


def clauses(text: str) -> list[str]:
    """Split a masked instruction into clauses: on punctuation, then on "and", "then", "after that" …"""
    found = []
    for piece in _PUNCT_SPLIT.split(text):
        for clause in _WORD_SPLIT.split(piece):
            clause = tidy(clause)
            if clause:
                found.append(clause)
    return found


def tidy(clause: str) -> str:
    clause = _LEADING.sub("", clause.strip(" .,;:!?"))
    return _TRAILING.sub("", clause).strip(" .,;:!?")


# Numbers and durations ------------------------------------------------------------

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "half a": 0.5,
    "a couple of": 2,
    "a couple": 2,
    "a few": 3,
}
NUMBER = (
    r"\d+(?:\.\d+)?|half\s+an?|a\s+couple(?:\s+of)?|a\s+few|an?|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty"
)
UNIT = r"ms|milliseconds?|millis|s|secs?|seconds?|m|mins?|minutes?"


def number(word: str) -> float:
    word = " ".join(word.lower().split())
    return float(word) if word[0].isdigit() else _NUMBER_WORDS[word]


def to_ms(amount: str, unit: str) -> int:
    unit = unit.lower()
    scale = 1 if unit in ("ms", "millis") or unit.startswith("millisecond") else 1000
    if unit in ("m", "min", "mins") or unit.startswith("minute"):
        scale = 60_000
    return round(number(amount) * scale)


ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
    "top": 1,
    "topmost": 1,
    "upper": 1,
    "bottom": -1,
    "bottommost": -1,
    "lower": -1,
}
ORDINAL = r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th)"
POSITION = r"top|topmost|upper|bottom|bottommost|lower"
"""Said of a named element ("the top OK button"), never alone ("scroll to the top")."""


def ordinal(word: str) -> int:
    """1-based position; -1 for "last"."""
    word = word.lower()
    return ORDINALS[word] if word in ORDINALS else int(word[:-2])


TIMES = {"once": 1, "twice": 2, "thrice": 3}


# Fuzzy likeness ---------------------------------------------------------------------

_NON_WORD = re.compile(r"[^\w@.]+|(?<!\w)\.|\.(?!\w)|_")
_ALIASES = {
    "wifi": "wi-fi",
    "wi fi": "wi-fi",
    "wireless": "wi-fi",
    "wlan": "wi-fi",
    "bt": "bluetooth",
    "dark mode": "dark theme",
    "night mode": "dark theme",
    "flight mode": "airplane mode",
    "aeroplane mode": "airplane mode",
    "plane mode": "airplane mode",
    "gps": "location",
    "log in": "sign in",
    "login": "sign in",
    "log out": "sign out",
    "logout": "sign out",
    "e-mail": "email",
    "e mail": "email",
    "username": "email",
    "user name": "email",
}


def norm(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: "Welcome, Demo!" -> "welcome demo"."""
    return " ".join(_NON_WORD.sub(" ", text.casefold().replace("&", " and ")).split())


def canonical(text: str) -> str:
    """`norm`, with the common alternative names replaced ("wifi" -> "wi fi", "dark mode" -> "dark theme")."""
    text = norm(text)
    return norm(_ALIASES.get(text, text))


def _squash(text: str) -> str:
    return text.replace(" ", "")


def _digits(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def likeness(query: str, label: str) -> float:
    """How well `query` names `label`, 0..1: exact 1.0, spacing/hyphens 0.97, within the words 0.7-0.9, typos ~0.8.

    Numbers must agree exactly: "item 2" never names "Item 12".
    """
    q, lab = canonical(query), canonical(label)
    if not q or not lab:
        return 0.0
    if q == lab:
        return 1.0
    if _digits(q) != _digits(lab) and _digits(q):
        return 0.0
    if _squash(q) == _squash(lab):
        return 0.97
    q_words, l_words = q.split(), lab.split()
    if set(q_words) <= set(l_words):
        return 0.7 + 0.2 * len(q_words) / len(l_words)
    score = 0.0
    if set(l_words) <= set(q_words):
        score = 0.6 + 0.2 * len(l_words) / len(q_words)
    ratio = SequenceMatcher(None, _squash(q), _squash(lab)).ratio()
    if ratio >= 0.8 and _digits(q) == _digits(lab):
        score = max(score, ratio * 0.92)
    return score
