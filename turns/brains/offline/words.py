"""Words: quoting, splitting an instruction into clauses, numbers and durations, fuzzy likeness."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

# A protected span (quoted text, or an on-screen label with a comma in it) is replaced by
# OPEN + number + CLOSE while the instruction is split and matched, then put back.
OPEN, CLOSE = "\ue000", "\ue001"
_TOKEN = re.compile(f"{OPEN}(\\d+){CLOSE}")
_QUOTES = re.compile(r"\"([^\"]*)\"|`([^`]*)`|(?<!\w)'([^']+)'(?!\w)")
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})


def _split(words: str) -> list[str]:
    return words.split()


VERBS = _split(
    "open launch start close stop kill quit exit tap click press hit select choose pick touch type enter input write "
    "fill clear erase empty turn switch toggle flip enable disable activate deactivate scroll swipe check verify "
    "confirm "
    "ensure make wait sleep pause take grab capture go navigate return restart relaunch reopen long double find look "
    "log sign login signin logout submit delete remove screenshot ask expect assert see put set change update use "
    "back home show hold punch provide supply bring locate search disconnect shut cut authenticate smash"
)

# "Would you mind scrolling …": the verb of a clause, said as a gerund.
_GERUNDS = {
    "scrolling": "scroll",
    "tapping": "tap",
    "clicking": "click",
    "opening": "open",
    "putting": "put",
    "turning": "turn",
    "switching": "switch",
    "checking": "check",
    "typing": "type",
    "entering": "enter",
    "taking": "take",
    "going": "go",
    "signing": "sign",
    "logging": "log",
    "pressing": "press",
    "swiping": "swipe",
    "closing": "close",
    "waiting": "wait",
    "launching": "launch",
    "enabling": "enable",
    "disabling": "disable",
    "clearing": "clear",
    "verifying": "verify",
    "filling": "fill",
    "selecting": "select",
    "restarting": "restart",
    "toggling": "toggle",
    "hitting": "hit",
    "submitting": "submit",
    "confirming": "confirm",
    "ensuring": "ensure",
    "validating": "validate",
    "double-checking": "double-check",
}


_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
_UNITS += "seventeen eighteen nineteen"
_NUMBER_WORD = {word: n for n, word in enumerate(_UNITS.split())}
for _tens, _word in ((20, "twenty"), (30, "thirty"), (40, "forty"), (50, "fifty")):
    _NUMBER_WORD[_word] = _tens
    for _n in range(1, 10):
        _NUMBER_WORD[f"{_word}-{_UNITS.split()[_n]}"] = _NUMBER_WORD[f"{_word} {_UNITS.split()[_n]}"] = _tens + _n
_COUNT_WORDS = "|".join(sorted((re.escape(w) for w in _NUMBER_WORD), key=len, reverse=True))
_COUNTED = re.compile(
    rf"\b(?P<noun>items?|rows?|entry|entries|number|no\.?|#|version)\s*(?P<word>{_COUNT_WORDS})\b|"
    # "the version is fourteen": a value said in words, at the end of its clause
    rf"\b(?P<verb>is|equals|be|says|reads|shows)\s+(?P<value>{_COUNT_WORDS})(?=\s*(?:$|[,;.!?]))",
    re.I,
)


_NTH = {
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
    "fortieth": 40,
    "fiftieth": 50,
}
for _tens, _word in ((20, "twenty"), (30, "thirty"), (40, "forty")):
    for _n, _th in enumerate(["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"], 1):
        _NTH[f"{_word}-{_th}"] = _NTH[f"{_word} {_th}"] = _tens + _n
_NTH_WORDS = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _NTH), key=len, reverse=True)) + r")\b", re.I)


ORDINAL = r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th)"


def count_word(word: str) -> int | None:
    """ "fourteen" -> 14, "twenty-one" -> 21; None for a word that is no number."""
    return _NUMBER_WORD.get(word.lower())


def _suffixed(n: int) -> str:
    return f"{n}" + ("th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th"))


def _digits_for_words(text: str) -> str:
    """ "item three", "row number five" -> "item 3", "row number 5"; "the fifteenth item" -> "the 15th item"."""
    text = _NTH_WORDS.sub(lambda m: _suffixed(_NTH[m[0].lower()]), text)
    return _COUNTED.sub(
        lambda m: (
            f"{m['noun']} {_NUMBER_WORD[m['word'].lower()]}"
            if m["noun"]
            else f"{m['verb']} {_NUMBER_WORD[m['value'].lower()]}"
        ),
        text,
    )


def _each(m: re.Match[str]) -> str:
    noun = m["noun"].rstrip("sS").capitalize()
    numbers = re.findall(r"\d+", m["list"])
    return ", ".join(f"{noun} {n}" for n in numbers[:-1]) + f" and {noun} {numbers[-1]}"


def _range(m: re.Match[str]) -> str:
    a, b = int(m["a"]), int(m["b"])
    if not 0 < b - a <= 12:
        return m[0]
    noun = m["noun"].rstrip("sS").capitalize()
    return ", ".join(f"{noun} {n}" for n in range(a, b + 1))


_SHORT_SLIPS = {
    "ni": "in",
    "ot": "to",
    "fo": "of",
    "teh": "the",
    "adn": "and",
    "nad": "and",
    "tha": "the",
    "wiht": "with",
    "sur": "sure",
    "shoud": "should",
    "rite": "right",
    "sould": "should",
}
_ABBREVIATIONS = {
    "btn": "button",
    "bttn": "button",
    "butn": "button",
    "dn": "down",
    "scrn": "screen",
    "msg": "message",
    "ver": "version",
    "vers": "version",
    "pwd": "password",
    "passwd": "password",
    "pswd": "password",
    "pword": "password",
    "usr": "user",
    "uname": "username",
    "chk": "check",
    "chck": "check",
    "clr": "clear",
    "nav": "navigate",
    "err": "error",
    "shld": "should",
    "shud": "should",
    "instal": "install",
    "homescreen": "home screen",
}
_CHAT_WORDS = {"wanna": "want to", "gonna": "going to", "gotta": "have to", "hafta": "have to", "lemme": "let me"}
_CHAT = re.compile(r"\b(?:" + "|".join(_CHAT_WORDS) + r")\b", re.I)
_ABBREVIATION = re.compile(r"\b(?:" + "|".join(_ABBREVIATIONS) + r")\b", re.I)
_SHORT_SLIP = re.compile(r"\b(?:" + "|".join(_SHORT_SLIPS) + r")\b", re.I)

# Rewrites applied before splitting, so that idioms survive the split on "and" and commas.
_EMAIL = r"[^\s@,;/:]+@[^\s@,;/:]+?(?<![.!?])"
_PW = r"(?!(?:with|as|is|of|to|in|into|and|for|on|then|field|box|input)\b)(?P<pw>[^\s,;]+)"
_NAME_WORD = r"(?!(?:on|off|and|then|also|both|it|them)\b)[\w-]+"
_NAME = rf"(?!(?:and|or|then|also|both|is|are|no|not|should|must)\b)(?:[\w-]+|{OPEN}\d+{CLOSE})"
_NO_STOP = r"(?:[^,;.!?]|\.(?=\S))"
_IDIOMS: list[tuple[re.Pattern[str], Any]] = [
    (  # "type into email demo@example.com": the field said first
        re.compile(
            r"\b(type|enter|input|write|put)\s+(?:in|into)\s+(?:the\s+)?(?P<f>(?:e-?mail(?:\s+address)?|password|username|[\w-]+(?=\s+(?:field|box|input)\b))"
            r"(?:\s+(?:field|box|input))?)\s*[:=]?\s+(?P<v>(?!(?:field|box|input|address)\b)[^\s,;]+)",
            re.I,
        ),
        r"\1 \g<v> into \g<f>",
    ),
    (re.compile(r"\b(?:press|tap|click|touch)\s+and\s+hold\b", re.I), "long press"),
    # "it should give an error", "sign in - should fail with an error": the error expected, checked
    (
        re.compile(
            r"\b(?:(?:it|that|this|which|the\s+(?:app|sign[\s-]?in|log[\s-]?in|login))\s+)?(?:should|must|will|is\s+expected\s+to)\s+"
            r"(?:give|show|throw|display|produce|return|raise|fail\s+with)\s+(?:me\s+)?(?:an?\s+|the\s+)?(error(?:\s+message)?|warning)\b",
            re.I,
        ),
        r"check the \1 is shown",
    ),
    # "scroll down to the end, then back up": to the top again
    (
        re.compile(
            r"(?:(?<=[,;]\s)|(?<=\bthen\s)|(?<=\band\s))(?:scroll\s+|go\s+|swipe\s+)?(?:all\s+the\s+way\s+)?back\s+up\b(?!\s+(?:to|till|until|and)\b)",
            re.I,
        ),
        "scroll to the top",
    ),
    (
        re.compile(r"\bits\s+(?=(?:not\s+)?(?:on|off|enabled|disabled|shown|visible|gone|there|empty)\b)", re.I),
        "it is ",
    ),  # "its off"
    (  # "bluetooth of": the state, cut short
        re.compile(
            r"\b(?!(?:and|the|one|top|all|out|end|most|some|each|both|none|part|rest|side|list|kind|sort|lot|bit|any)\b)"
            r"([a-z][\w-]{2,})\s+of(?=\s*$|\s*[,;.!?])",
            re.I,
        ),
        r"\1 off",
    ),
    (re.compile(r"\b(?:pops?|popped)\s+up\b", re.I), "appears"),  # "an error should pop up"
    (re.compile(r"\b(?:should|must|will)\s+end\s+up\b", re.I), "should be"),  # "airplane mode should end up off"
    (re.compile(r"\bends\s+up\b", re.I), "is"),
    # "I don't need Bluetooth any more", "I don't want location on anymore": that switch off
    (
        re.compile(
            r"\b(?:i|we)\s+(?:don't|do\s+not|no\s+longer)\s+(?:want|need)\s+(?!to\b|any\b|it\b|that\b|this\b)"
            r"(?P<x>(?:the\s+)?[\w-]+(?:\s+(?:mode|theme|services))?)(?:\s+on)?(?:\s+any\s*more)?(?=\s*(?:[,;.!]|$))",
            re.I,
        ),
        r"turn off \g<x>",
    ),
    (re.compile(r"\b(?:scroll|swipe|go)\s*(?:→|->|=>)\s*", re.I), "scroll to "),  # "scroll→item 33"
    (re.compile(rf"\s*(?:→|=>)\s*(?=(?:{'|'.join(VERBS)})\b)", re.I), "; "),  # "wifi on → tap About phone"
    (re.compile(r"\b(?:launch|open|start)\s+app\s+(?=[a-z][\w]*\.[\w.]+)", re.I), "launch "),  # "launchApp com.x"
    (re.compile(r"\bclear\s*state\b", re.I), "with its data cleared"),
    (re.compile(r"\b(item|row|entry)\s+(\d+)\s+(?:through|thru|-)\s+(?:\1\s+)?(\d+)\b", re.I), r"\1s \2 to \3"),
    (
        re.compile(
            r"\b(?:take|bring|get)\s+(?:me|us)\s+(?:back\s+)?(?:up\s+)?to\s+the\s+(?=top\b|bottom\b|end\b)", re.I
        ),
        "scroll to the ",
    ),
    (re.compile(r"\bgo\s+all\s+the\s+way\s+(?:down|up)\s+to\b", re.I), "scroll to"),
    (re.compile(r"\b(?:get|take)\s+(?:me|us)\s+to\b", re.I), "go to"),
    # "password is secret123, go ahead": the form sent
    (
        re.compile(
            r"^(?=.*\b(?:password|pw|credentials)\b)(?P<said>.+?),?\s+(?:and\s+)?(?:go\s+ahead|go\s+for\s+it|proceed)\s*[.!]*\s*$",
            re.I,
        ),
        r"\g<said>, submit",
    ),
    # "ensure no error is shown before submitting": when to check, not a step
    (
        re.compile(
            r"(?P<check>\b(?:ensure|verify|check|make\s+sure|confirm|assert)\b[^,;.]*?)\s+before\s+(?:submitting|signing\s+in|"
            r"logging\s+in|tapping\s+(?:sign\s+in|submit|anything)|anything\s+else)(?=\s*(?:[.;!]|$))",
            re.I,
        ),
        r"\g<check>",
    ),
    # "once you see Welcome, Demo! press sign out": that shown first; "once the sign-in page is up, type …": then
    (
        re.compile(
            r"\b(?:once|when|as\s+soon\s+as)\s+(?:you|we|i)\s+(?:can\s+)?see\s+(?P<x>[^,;]+?)"
            rf"(?:\s*,\s*|\s+(?=(?:{'|'.join(VERBS)})\b))",
            re.I,
        ),
        r"wait for \g<x>; ",
    ),
    (
        re.compile(
            r"\b(?:once|when|as\s+soon\s+as)\s+(?:[^,;]+?\s+)?(?:is\s+up|shows\s+up|appears|is\s+showing|is\s+shown|"
            rf"is\s+visible|loads|is\s+loaded|is\s+open|opens|is\s+off|is\s+on)(?:\s*,\s*|\s+(?=(?:{'|'.join(VERBS)})\b))",
            re.I,
        ),
        "; ",
    ),
    (
        re.compile(
            r"\bleave\s+(?:the\s+)?app\s+(?:with|using|via|by\s+pressing)\s+(?:the\s+)?back(?:\s+(?:key|button))?", re.I
        ),
        "press back",
    ),
    (
        re.compile(r"\bto\s+the\s+(?:top|bottom)\s+(?=(?:until|till)\b)", re.I),
        "",
    ),  # "scroll up to the top until X shows"
    # "check the email and password fields are both empty": each of them
    (
        re.compile(
            r"\b(?P<v>check|verify|confirm|make\s+sure|ensure|assert)\s+(?:that\s+)?(?:the\s+)?(?P<a>[\w-]+)(?:\s+(?:field|box))?\s+and\s+"
            r"(?:the\s+)?(?P<b>[\w-]+)(?:\s+(?:fields?|box(?:es)?))?\s+(?:are|should\s+be)\s+(?:both\s+)?(?:still\s+)?(?P<s>empty|blank)\b",
            re.I,
        ),
        r"\g<v> the \g<a> field is \g<s>; \g<v> the \g<b> field is \g<s>",
    ),
    # "turn off the wireless one": Wi-Fi or Bluetooth? which, asked
    (re.compile(r"\b(?:the\s+)?wireless\s+(?:one|ones|thing|things|stuff)\b", re.I), "the one"),
    # "I need to be logged in": a goal, the sign-in (never a check that it is so)
    (
        re.compile(
            r"\b(?:i|we)\s+(?:need|want|have|'d\s+like|would\s+like)\s+to\s+be\s+(?:logged|signed)\s+(?=in\b)", re.I
        ),
        "log ",
    ),
    # credentials said together: "X, password Y", "X and the password Y", "X / Y", "X:Y", "X and Y to log in"
    (
        re.compile(
            rf"(?P<email>{_EMAIL})(?:,?\s+and\s+|\s*[,/|;]\s*|\s+)(?:(?:the|my|a)\s+)?(?:password|pw|pass)\b\s*"
            rf"(?:is\s+|of\s+|[:=]\s*)?{_PW}(?!\s+(?:in|into|inside|as|for|on|to)\s+(?:the\s+)?(?:\w+\s+)?"
            r"(?:field|box|input))",
            re.I,
        ),
        r"\g<email> with password \g<pw>",
    ),
    # "a@b.c as the username and x as the password"
    (
        re.compile(
            rf"(?P<email>{_EMAIL})\s+as\s+(?:the\s+|my\s+)?(?:email|e-mail|username|user\s*name|login|user)(?:\s+address)?"
            rf",?\s+and\s+{_PW}\s+as\s+(?:the\s+|my\s+)?(?:password|pw|pass)\b",
            re.I,
        ),
        r"\g<email> with password \g<pw>",
    ),
    (
        re.compile(
            rf"(?P<email>{_EMAIL})\s*(?:/\s*|:\s*|,?\s+and\s+|,\s*|\+\s*|&\s*){_PW}"
            r"(?=\s*$|\s*[,;.!?]|\s+(?:to\s+(?:log|sign)|then|and|please|pls|thanks|thank\s+you|now|for\s+me)\b)",
            re.I,
        ),
        lambda m: _bare_password(m),
    ),
    # "turn wifi and bluetooth off": the state said once for both; "turn off both wifi and location"
    (
        re.compile(
            rf"\b(?P<v>turn|switch|set|put|get|flip)\s+(?P<a>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+(?:and|&|\+)\s+"
            rf"(?P<b>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+(?P<s>on|off)\b",
            re.I,
        ),
        lambda m: f"{m['v']} {m['a']} {m['s']} and {m['v']} {m['b']} {m['s']}",
    ),
    # "wifi & bluetooth both off" (no verb): the state said once for both, each set
    (
        re.compile(
            rf"(?:^|(?<=[;,]))\s*(?!(?:{'|'.join(VERBS)})\b)(?P<a>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+(?:and|&|\+)\s+"
            rf"(?P<b>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+(?:both\s+)?(?P<s>on|off)(?=\s*(?:$|[,;.!]))",
            re.I,
        ),
        lambda m: f"turn {m['a']} {m['s']} and turn {m['b']} {m['s']}",
    ),
    # "check that wifi and bluetooth are both on": each of them checked (or, after "make sure", set)
    (
        re.compile(
            r"\b(?P<v>check|verify|confirm|assert|validate|make\s+sure|ensure)\s+(?:that\s+)?(?:both\s+)?"
            rf"(?P<a>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+and\s+(?P<b>{_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+are\s+"
            r"(?:both\s+|all\s+|each\s+)?(?P<n>not\s+)?(?P<s>on|off|enabled|disabled|active|inactive)\b",
            re.I,
        ),
        lambda m: f"{m['v']} {m['a']} is {m['n'] or ''}{m['s']} and {m['v']} {m['b']} is {m['n'] or ''}{m['s']}",
    ),
    # "scroll down until Item 30 is showing": to Item 30
    (
        re.compile(
            r"\b(until|till|til)\s+(?P<x>.+?)\s+(?:(?:is|are)\s+(?:showing|visible|shown|displayed|on\s+(?:the\s+)?screen|in\s+view)|"
            r"appears|shows\s+up|pops\s+up|comes\s+(?:up|into\s+view))(?=\s*$|\s*[;,.!?])",
            re.I,
        ),
        r"\1 \g<x>",
    ),
    # "restart the app, wiping its storage": with its data cleared
    (
        re.compile(
            r",?\s+(?:and\s+)?(?:wiping|clearing|erasing|deleting|resetting|wipe|clear|erase|reset)\s+(?:its|the|all(?:\s+its)?|"
            r"all\s+the|app)\s+(?:app\s+)?(?:storage|data|state)\b",
            re.I,
        ),
        " with its data cleared",
    ),
    # "go into About phone and then come back here": back
    (re.compile(r"\bcome\s+back(?:\s+here)?(?=\s*$|\s*[;,.!?])", re.I), "go back"),
    # "scroll back up so that Item 1 is visible again", "swipe up to reveal Item 40": until it is shown
    (
        re.compile(
            r"\bso\s+that\s+(?P<x>.+?)\s+(?:is|are)\s+(?:visible|shown|on\s+(?:the\s+)?screen|in\s+view)(?:\s+again)?\b",
            re.I,
        ),
        r"until \g<x>",
    ),
    (
        re.compile(r"\b(swipe|scroll)\s+(up|down)\s+(?:to|until\s+you)\s+(?:reveal|see|show|find|get\s+to)\s+", re.I),
        # a swipe's direction is the finger's: "swipe up" brings what is below into view
        lambda m: f"scroll {m[2] if m[1].lower() == 'scroll' else {'up': 'down', 'down': 'up'}[m[2].lower()]} to ",
    ),
    (re.compile(r"\b(scroll|swipe)\s+(?:(up|down)\s+)?through\s+(?:the\s+)?(?:list|page|items)\b", re.I), r"\1 \2"),
    (re.compile(r"\bscroll\s+(top|bottom)\b", re.I), r"scroll to the \1"),
    (re.compile(r"\b(?:the\s+)?arrow\s+(up|back)\b", re.I), r"the \1 arrow"),  # "press the arrow up"
    # "keep swiping down till you see Item 22": till Item 22
    (
        re.compile(r"\b(till|til)\s+(?:you|we|i)\s+(?:can\s+)?(?:see|find|reach|get\s+to|spot)\s+", re.I),
        r"until you see ",
    ),
    # "bring wifi back up": on
    (re.compile(r"\bbring\s+(?P<x>.+?)\s+back\s+(?:up|online|on)\b", re.I), r"turn \g<x> on"),
    # "finish signing in": sign in
    (
        re.compile(r"\b(?:finish|complete)\s+(?:the\s+)?(sign|log)(?:ging|ing)?[\s-]*in(?=\s*$|\s*[;,.!?])", re.I),
        r"\1 in",
    ),
    # "I'd start by opening Settings, then I'd switch Location off": the steps
    (
        re.compile(
            r"\b(?:i|we)(?:'d|\s+would)\s+(?:then\s+|next\s+|now\s+)?(?:start\s+by\s+|begin\s+by\s+)?(?=\w+ing\b|(?:"
            + "|".join(VERBS)
            + r")\b)(?!like\b|love\b|prefer\b|expect\b|want\b|need\b|hope\b|see\b)",
            re.I,
        ),
        "",
    ),
    # "use the Navigate up arrow to return": tap it
    (
        re.compile(
            r"\buse\s+(?P<x>(?:the\s+)?[^,;]+?\s+(?:arrow|button|key|icon|link))\s+to\s+(?:return|go\s+back|navigate\s+back|"
            r"get\s+back|exit|leave)\b",
            re.I,
        ),
        r"tap \g<x>",
    ),
    # "check for me that X is off": check that X is off
    (re.compile(r"\b(check|verify|confirm|ensure)\s+for\s+(?:me|us)\b", re.I), r"\1"),
    # "shut the settings app down": close it
    (re.compile(r"\bshut\s+(?!(?:the\s+)?(?:phone|device|emulator)\b)(?P<x>.+?)\s+down\b", re.I), r"close \g<x>"),
    # "sign out of the demo account": sign out
    (
        re.compile(
            r"\b(sign|log)(?:ging|ing)?\s+out\s+of\s+(?:the\s+|my\s+)?(?:[\w-]+\s+)?(?:account|session|profile)\b", re.I
        ),
        r"\1 out",
    ),
    # "the model is listed as X", "the version shown is 14": is X
    (re.compile(r"\b(is|are)\s+(?:listed|shown|displayed|labell?ed|given)\s+as\s+", re.I), r"\1 "),
    (
        re.compile(r"\b(?:shown|displayed|listed)\s+(is|are)\s+(?!(?:not\s+)?(?:shown|visible|displayed)\b)", re.I),
        r"\1 ",
    ),
    # "make sure Email and Item 40 are not shown": neither of them (the negation is said once, for both)
    (
        re.compile(
            r"(?:(?<=^)|(?<=[;,])\s*)(?P<v>(?:check|verify|confirm|assert|validate|make\s+sure|ensure)\s+(?:that\s+)?)?"
            rf"(?:both\s+)?(?P<a>{_NAME}(?:\s+{_NAME}){{0,3}})\s+(?:and|&)\s+(?P<b>{_NAME}(?:\s+{_NAME}){{0,3}})\s+"
            r"(?:are|should|must|will|do)(?:\s+not|n't|\s+no\s+longer)\s+(?:be\s+)?(?:both\s+|either\s+)?"
            r"(?P<s>shown|visible|displayed|present|there|on\s+(?:the\s+)?screen|showing|appearing|appear|show(?:\s+up)?)\b",
            re.I,
        ),
        lambda m: " and ".join(f"{m['v'] or 'check '}{x} is not {m['s']}" for x in (m["a"], m["b"])),
    ),
    # "there's no Sign out or Log out button": no A and no B
    (
        re.compile(
            rf"\bno\s+(?P<a>{_NAME}(?:\s+{_NAME}){{0,3}}?)\s+or\s+(?P<b>{_NAME}(?:\s+{_NAME}){{0,3}}?)"
            r"(?:\s+(?P<kind>buttons?|fields?|links?|texts?|labels?|messages?|options?|items?|rows?|tabs?|icons?))?"
            r"(?=\s*$|\s*[;,.!]|\s+(?:is|are|should|must|shown|visible|on|anywhere|at\s+all)\b)",
            re.I,
        ),
        lambda m: " and ".join(f"no {x}{' ' + m['kind'] if m['kind'] else ''}" for x in (m["a"], m["b"])),
    ),
    (re.compile(r"\b(?:both|each\s+of)\s+(?=[\w-]+(?:\s+[\w-]+)?\s+and\s)", re.I), ""),
    # "kill and reopen the app": both verbs take the object
    (
        re.compile(
            r"\b(?P<a>close|kill|stop|quit|exit|force[\s-]*(?:stop|close|quit))\s+and\s+"
            r"(?P<b>re-?open|re-?start|re-?launch|open|launch|start)\s+(?P<o>the\s+\w+(?:\s+app)?|it|settings|login\s+demo)\b",
            re.I,
        ),
        lambda m: f"{m['a']} {m['o']} and {m['b']} {m['o']}",
    ),
    # "items 2, 4 and 6": each of them
    (
        re.compile(r"\b(?P<noun>items|rows)\s+(?P<list>\d{1,3}(?:\s*(?:,|,?\s*and|&)\s*\d{1,3})+)\b", re.I),
        lambda m: _each(m),
    ),
    # "sign in with wrong creds a@b.c / x": with them
    (
        re.compile(
            r"\b(?P<w>with|using)\s+(?:the\s+|some\s+|my\s+)?(?:(?:wrong|bad|invalid|incorrect|fake|test|valid|correct|right|"
            rf"demo)\s+)?(?:creds|credentials|login\s+details|details)\s*:?\s+(?={_EMAIL})",
            re.I,
        ),
        r"\g<w> ",
    ),
    # "the credentials are a@b.c and x": those to sign in with
    (
        re.compile(
            r"\b(?:my\s+|the\s+)?(?:login\s+|sign[\s-]?in\s+)?(?:credentials|login\s+details|details)\s+(?:are|is)\s*:?\s+"
            rf"(?={_EMAIL})",
            re.I,
        ),
        "use ",
    ),
    (  # "go 2 settings"; never "go back 2 times"
        re.compile(
            r"\b(go|navigate|head|back|switch|come)\s+2\s+(?!(?:times?|x|more|steps?|screens?|levels?)\b)(?=[a-z])",
            re.I,
        ),
        r"\1 to ",
    ),
    # "item number 8", "item no. 8", "item #8": the row labelled "Item 8"
    (re.compile(r"\b(item)\s+(?:number|no\.?|nr\.?|#)\s*(\d+)\b", re.I), r"\1 \2"),
    # "the item between A and B": just after A
    (re.compile(r"\bbetween\s+(?P<a>.+?)\s+and\s+(?:[\w-]+(?:\s+\d+)?)", re.I), r"right below \g<a>"),
    # "wifi off bt on": two switches
    (
        re.compile(
            r"\b(?P<a>[\w-]+(?:\s+[\w-]+)?)\s+(?P<s>on|off)\s+(?=(?!or\b|nor\b)[\w-]+(?:\s+[\w-]+)?\s+(?:on|off)\b)",
            re.I,
        ),
        r"\g<a> \g<s>; ",
    ),
    # "back back": the key twice
    (re.compile(r"\bback(?:\s+back)+\b", re.I), lambda m: "back " + str(len(m[0].split())) + " times"),
    # "neither A nor B": no A and no B
    (re.compile(r"\bneither\s+(?P<a>.+?)\s+nor\s+(?P<b>.+)", re.I), r"no \g<a> and no \g<b>"),
    # "items 1 thru 5": each of them
    (
        re.compile(
            r"\b(?P<noun>items?|rows?)\s+(?P<a>\d{1,3})\s*(?:thru|through|to|-|–|until)\s*(?P<b>\d{1,3})\b", re.I
        ),
        lambda m: _range(m),
    ),
    # "after signing in as …, tap Y": sign in as …, then tap Y; "before signing out, take a screenshot": reversed
    (
        re.compile(rf"^(?:and\s+)?after\s+(?P<g>{'|'.join(_GERUNDS)})\b(?P<a>{_NO_STOP}*),\s*(?P<b>.+)$", re.I),
        lambda m: f"{_GERUNDS[m['g'].lower()]}{m['a']}, then {m['b']}",
    ),
    (
        re.compile(rf"^before\s+(?P<g>{'|'.join(_GERUNDS)})\b(?P<a>{_NO_STOP}*),\s*(?P<b>[^;]+)$", re.I),
        lambda m: f"{m['b']}, then {_GERUNDS[m['g'].lower()]}{m['a']}",
    ),
    (
        re.compile(rf"^(?P<b>{_NO_STOP}+?)\s+after\s+(?P<g>{'|'.join(_GERUNDS)})\b(?P<a>{_NO_STOP}+)$", re.I),
        lambda m: f"{_GERUNDS[m['g'].lower()]}{m['a']}, then {m['b']}",
    ),
    # "once you have opened About phone, go back", "once logged in as …, tap X": that first, then the rest
    (
        re.compile(
            rf"^(?:once|after|when)\s+(?:(?:you|we|i)(?:'ve|\s+have)\s+)?(?P<p>\w+ed)\b(?P<a>{_NO_STOP}+),\s*(?P<b>.+)$",
            re.I,
        ),
        lambda m: f"{_PAST_FORMS[p]}{m['a']}, then {m['b']}" if (p := m["p"].lower()) in _PAST_FORMS else m[0],
    ),
    # "once the email is filled with a@b.c, sign in": fill it in, then sign in
    (
        re.compile(
            rf"^(?:once|after|when)\s+(?P<f>(?:the\s+)?[\w-]+(?:\s+(?:field|box))?)\s+(?:is|has\s+been)\s+"
            rf"(?:filled(?:\s+in)?|typed|entered|set)\s+(?:with|to|as)\s+(?P<v>{_NO_STOP}+),\s*(?P<b>.+)$",
            re.I,
        ),
        r"fill \g<f> with \g<v>, then \g<b>",
    ),
    # "type X before tapping Y": X, then tap Y
    (
        re.compile(rf"\s+before\s+(?P<g>{'|'.join(_GERUNDS)})\b", re.I),
        lambda m: f", then {_GERUNDS[m['g'].lower()]}",
    ),
    (re.compile(r"\b(?:the\s+)?(?:home\s+screen|app|it|screen)\s+greets\s+me\b", re.I), "the greeting is shown"),
    (re.compile(r"\b(turn|switch|flip|put)\s+of\b", re.I), r"\1 off"),
    # "dark theme -> on", "wifi = off": a switch and its state
    (
        re.compile(
            r"(?<=\w)(?:\s*(?:->|→|=>|=|:)\s*|\s+[-–—]\s+)(?=(?:on|off|enabled|disabled)\b|(?:enable|disable)\s*(?:$|[,;.!]))",
            re.I,
        ),
        " ",
    ),
    (re.compile(r"\b(?:go\s+ahead|try|be\s+sure)\s+and\s+", re.I), ""),
    # "Email → a@b.c", "password=x": a field and its value
    (
        re.compile(
            r"\b(email|e-mail|username|user\s*name|user|password|passcode|pw|pass)(?:\s+(?:field|box|input))?\s*(?:->|→|=>|=)\s*"
            r"(?=\S)",
            re.I,
        ),
        r"\1 ",
    ),
    # "Sign in button -> tap": the element, then what to do with it
    (
        re.compile(
            r"(?:^|(?<=[;,]))\s*(?P<t>[^;,>]+?)\s*(?:->|→|=>)\s*(?P<v>tap|click|press|long[\s-]?press|clear)\s*(?=$|[;,.])",
            re.I,
        ),
        r" \g<v> \g<t>",
    ),
    (re.compile(r"\b(?:the\s+)?following(?:\s+(?:credentials|details|data|values))?\s*:\s*", re.I), ""),
    # "do tap of the password field", "make click on Sign in", "make scroll until item 25": a verb said as a noun
    (
        re.compile(
            r"\b(?:do|make|give)\s+(?:one\s+|the\s+|an?\s+)?(?:(?P<n>tap|click|press|long[\s-]?press|double[\s-]?tap|scroll|swipe|"
            r"enable|disable|activate|deactivate|open|close|clear|check|verify|launch|toggle)\s+"
            r"(?:of|on|at)\b|(?P<m>scroll|swipe)\b)",
            re.I,
        ),
        lambda m: (m["n"] or m["m"]).replace("-", " "),
    ),
    # "the 2nd and 3rd switches": each of them
    (
        re.compile(
            rf"\b(?P<a>{ORDINAL})\s+and\s+(?:the\s+)?(?P<b>{ORDINAL})\s+"
            r"(?P<n>switch|toggle|item|row|field|button|entry|option)(?:e?s)\b",
            re.I,
        ),
        r"\g<a> \g<n> and the \g<b> \g<n>",
    ),
    # "no mention of Android", "not a trace of the error": the thing itself
    (
        re.compile(
            r"\b(?P<q>no|any|not\s+a|without)\s+(?:single\s+)?(?:mention|sign|trace|reference)s?\s+(?:of|to)\s+", re.I
        ),
        r"\g<q> ",
    ),
    # "perform a login", "do a screenshot", "give item 4 a long press": the verb in a noun ("make login" too)
    (
        re.compile(
            r"\b(?:perform|do|execute|carry\s+out|make|attempt|try)\s+(?:(?:a|an|one|the)\s+)?(?P<n>log[\s-]?in|sign[\s-]?in|scroll|swipe|tap|click|"
            r"long[\s-]?press|long[\s-]?tap|double[\s-]?tap|screenshot|screen\s*shot)\b(?:\s+(?:on|of)\b)?",
            re.I,
        ),
        lambda m: "take a screenshot" if "shot" in m["n"].lower() else m["n"].replace("-", " "),
    ),
    (
        re.compile(
            r"\bgive\s+(?P<t>(?:(?!\b(?:a|an)\b).)+?)\s+(?:a|an|one)\s+(?:quick\s+|short\s+|little\s+)?"
            r"(?P<v>tap|click|press|long[\s-]?press|double[\s-]?tap|poke)\b",
            re.I,
        ),
        lambda m: f"{m['v']} {m['t']}",
    ),
    (re.compile(r"\b(?:is|are)\s+(?:anything|something)\s+(?:but|other\s+than|except)\s+", re.I), "is not "),
    (
        # "should differ from 14", "must be different from 14": "should not be 14"
        re.compile(r"\b(should|must)\s+(?:differ|be\s+different)\s+(?:from|than)\s+", re.I),
        r"\1 not be ",
    ),
    (re.compile(r"\b(?:is|are)\s+different\s+(?:from|than)\s+|\bdiffers?\s+from\s+", re.I), "is not "),
    (
        re.compile(
            r"\b(?:(?:would|could)\s+you\s+)?(?:be\s+(?:so\s+kind|kind\s+enough|a\s+(?:dear|star|sweetheart|pal|love))|"
            r"do\s+me\s+a\s+favou?r)\s+and\s+",
            re.I,
        ),
        "",
    ),
    # "head back", "head over to settings": go
    (re.compile(r"\bhead\s+(?=back\b|home\b|(?:over\s+|down\s+|up\s+)?(?:to|into)\b)", re.I), "go "),
    # "scroll till you see item 26": to it
    (
        re.compile(
            r"\b(?P<v>scroll|swipe|keep\s+scrolling|go)(?:\s+all\s+the\s+way)?(?P<d>\s+(?:down|up))?\s+(?:till|until|untill|til)\s+(?:you|i|we)\s+"
            r"(?:can\s+)?(?:see|find|reach|get\s+to|hit|spot)\s+",
            re.I,
        ),
        lambda m: f"{m['v']}{m['d'] or ''} to ",
    ),
    # "scroll down the list until Item 22 becomes visible": to it
    (
        re.compile(
            r"\b(?P<v>scroll|swipe|keep\s+scrolling)(?P<d>\s+(?:down|up))?(?:\s+(?:the|this)\s+(?:list|page|screen))?\s+"
            r"(?:till|until|untill|til)\s+(?P<x>.+?)\s+(?:becomes\s+visible|is\s+visible|is\s+shown|appears|shows\s+up|"
            r"comes\s+(?:into|in)\s+view|is\s+displayed)\b",
            re.I,
        ),
        lambda m: f"{m['v']}{m['d'] or ''} to {m['x']}",
    ),
    # "navigate to the About phone section": the row itself
    (
        re.compile(
            r"\b(?P<v>go\s+to|navigate\s+to|open|head\s+to|go\s+into|visit|enter)\s+(?:the\s+)?(?P<n>[\w-]+(?:\s+[\w-]+)?)\s+"
            r"(?:section|area|menu\s+(?:entry|item)|entry|option|tab)\b",
            re.I,
        ),
        r"\g<v> \g<n>",
    ),
    # "tap into the password box": the box
    (re.compile(r"\b(tap|click|press|touch)\s+(?:in|into|inside)\s+(?=(?:the|that|this)\s)", re.I), r"\1 "),
    # "light mode": dark theme off, whatever verb turns the light mode on
    (
        re.compile(
            r"\b(?:(?:switch|change|go|set|put\s+it)(?:\s+it)?(?:\s+back)?\s+to|(?:turn|switch)\s+on|enable|activate|use)\s+"
            r"(?:the\s+)?light\s+(?:mode|theme)\b|\blight\s+(?:mode|theme)\s+on\b",
            re.I,
        ),
        "turn off dark theme",
    ),
    # "am I logged in?", "are we still signed in?": a check that we are
    (
        re.compile(
            r"\b(?:am\s+i|are\s+we)\s+(?=(?:still\s+|now\s+)?(?:not\s+)?(?:logged|signed)\s+(?:in|out)\b)",
            re.I,
        ),
        "check i am ",
    ),
    (re.compile(r"\bthe\s+only\s+(?=\S)", re.I), "the "),  # "tap the only Cancel"
    # "the screen should be free of errors", "the form is error-free": no error
    (
        re.compile(
            r"\b(?:the\s+)?(?:screen|page|form|app)\s+(?:is|should\s+be|must\s+be)\s+(?:completely\s+|totally\s+)?"
            r"(?:free\s+(?:of|from)\s+(?:any\s+)?|(?=error[\s-]*free\b))",
            re.I,
        ),
        "there should be no ",
    ),
    (re.compile(r"\b(error|warning)[\s-]*free\b", re.I), r"\1"),
    (
        re.compile(r"\s+on\s+the\s+(?:on[\s-]?screen\s+|soft\s+)?(?:keyboard|keypad)\b", re.I),
        "",
    ),  # "press enter on the keyboard"
    (
        re.compile(r"\b(?:take|get|bring)\s+(?:the\s+)?(?:phone|device|it)\s+out\s+of\s+(?P<m>[\w-]+\s+mode)\b", re.I),
        r"turn off \g<m>",
    ),
    # "the text box at the top": the top one; "bottom-most": bottommost
    (
        re.compile(
            r"\bthe\s+(?P<n>(?:text\s+)?(?:field|box|input|button|switch|toggle|item|row|entry|link|icon))\s+(?:at|on|in)\s+"
            r"the\s+(?:very\s+)?(?P<p>top|bottom)(?:\s+of\s+the\s+(?:screen|page|list|form))?\b",
            re.I,
        ),
        lambda m: f"the {m['p']} " + ("field" if re.match(r"text|box|input", m["n"], re.I) else m["n"]),
    ),
    (re.compile(r"\b(top|bottom)[\s-]+most\b", re.I), r"\1most"),
    # "the wifi switch is checked": on (said of a switch, "checked" is its state, not a field's)
    (
        re.compile(
            r"\b(?P<a>switch|toggle|checkbox|check\s+box)\s+(?P<v>is|are|should\s+be|must\s+be)\s+(?P<s>un)?(?:checked|ticked)\b",
            re.I,
        ),
        lambda m: f"{m['a']} {m['v']} {'off' if m['s'] else 'on'}",
    ),
    (
        re.compile(r"\b(should|must|has\s+to|needs?\s+to)\s+(?:stay|remain)\s+(?=(?:on|off|enabled|disabled)\b)", re.I),
        r"\1 be ",
    ),
    # "leave wifi alone and turn on bluetooth": nothing to do with wifi
    (
        re.compile(
            r"\b(?:leave|keep)\s+(?:the\s+)?[\w-]+(?:\s+[\w-]+)?\s+(?:alone|as\s+(?:it\s+)?is|untouched|unchanged)\b,?",
            re.I,
        ),
        "",
    ),
    # "Item 2 is not supposed to be there": should not be (never a check of the text "supposed to")
    (
        re.compile(
            r"\b(?:is|are)(?P<n>n't|\s+not)?\s+(?:supposed|meant|expected|required)\s+to\s+(?=be\b|show|appear|say|read)",
            re.I,
        ),
        lambda m: "should not " if m["n"] else "should ",
    ),
    (re.compile(r"\binvisible\b", re.I), "not visible"),
    # "no complaints about the email", "the app must not complain": the app's error
    (
        re.compile(
            r"\b(?P<q>no|any|without)\s+complaints?\b(?:\s+(?:about|regarding|on|with)\s+(?:the\s+|my\s+)?[\w-]+)?",
            re.I,
        ),
        r"\g<q> error",
    ),
    (
        re.compile(
            r"\b(?P<v>should|must|does|do|will|did)(?P<n>n't|\s+not)\s+complain\b"
            r"(?:\s+(?:about|regarding|on|with)\s+(?:the\s+|my\s+)?[\w-]+)?",
            re.I,
        ),
        r"\g<v> not show an error",
    ),
    # "there ought to be no error", "wifi has to be on": should
    (re.compile(r"\b(?:ought\s+to|oughta|has\s+to|have\s+to|needs?\s+to|got\s+to|gotta)\s+(?=be\b)", re.I), "should "),
    (re.compile(r"\bgo\s+dark\b", re.I), "turn on dark theme"),
    (re.compile(r"\bgo\s+light\b", re.I), "turn off dark theme"),
    (re.compile(r"\blog\s+(?:the\s+user|him|her|them|us|everyone)\s+out\b", re.I), "sign out"),
    (
        re.compile(
            r"\b(?:(?:exit|leave|quit)\s+(?:my|the|this)\s+account|(?:log|sign)\s*(?:me\s+)?out\s+of\s+(?:my|the|this)\s+"
            r"(?:account|app|application|session))\b",
            re.I,
        ),
        "sign out",
    ),
    (re.compile(r"\b(?:end|close|terminate|finish)\s+(?:the|my|this|your)\s+session\b", re.I), "sign out"),
    (
        re.compile(
            r"\b(turn|switch|flip|put)\s+(?!(?:right|left|top|bottom|front|out|one|all|each|both|none)\b)(\S+)\s+of\b",
            re.I,
        ),
        r"\1 \2 off",
    ),
    # "go in to About phone": into
    (re.compile(r"\b(go|get|head|navigate|step|come)\s+in\s+to\b", re.I), r"\1 into"),
    # "go to back", "return to back": back
    (
        re.compile(r"\b(?:go|come|navigate|return)\s+to\s+back\b(?!\s+(?:of|side|button|arrow|icon|key)\b)", re.I),
        "go back",
    ),
    # "wipe the email field clean", "clear the password out": the field cleared
    (
        re.compile(
            r"\b(?P<v>clear|wipe|empty|erase)\s+(?P<o>(?:the\s+|my\s+)?[\w-]+(?:\s+(?:field|box|input))?)\s+(?:clean|out)\b",
            re.I,
        ),
        r"\g<v> \g<o>",
    ),
    # "check the login form is back": shown again
    (
        re.compile(
            r"\b(?P<s>(?:the\s+)?[\w-]+(?:\s+[\w-]+)?\s+(?:screen|page|form|view))\s+(?:is|comes?)\s+back\b"
            r"(?:\s+(?:again|on\s+(?:the\s+)?screen))?",
            re.I,
        ),
        r"\g<s> is shown",
    ),
    # "make the wifi closed" (non-native): the switch's state
    (
        re.compile(r"\bmake\s+(?P<x>(?:the\s+)?[\w-]+(?:\s+[\w-]+)?)\s+(?P<s>closed|shut|opened)\b", re.I),
        lambda m: f"turn {'on' if m['s'].lower() == 'opened' else 'off'} {m['x']}",
    ),
    # "switch the theme to dark", "change to dark mode": the Dark theme switch
    (
        re.compile(
            r"\b(?:(?:switch|change|set|put|turn)\s+(?:the\s+)?(?:theme|appearance|display\s+mode|colou?r\s+(?:scheme|mode))\s+"
            r"(?:back\s+)?to|(?:change|go|move)\s+(?:over\s+|back\s+)?to)\s+(?:the\s+)?(?P<m>dark|light)"
            r"(?:\s+(?:mode|theme|one))?\b",
            re.I,
        ),
        lambda m: f"turn {'on' if m['m'].lower() == 'dark' else 'off'} dark theme",
    ),
    # "fill email field: a@b.c": the value after the colon, typed into the field
    (
        re.compile(
            r"\b(?:fill(?:\s+in|\s+out)?|type\s+in(?:to)?|enter|set|input)\s+(?:the\s+)?"
            r"(?P<f>email|e-mail|username|user\s*name|password|passcode)(?:\s+(?:field|box|input))?\s*:\s*(?P<x>[^\s,;]+)",
            re.I,
        ),
        r"type \g<x> into the \g<f> field",
    ),
    # "clear the login demo's data and open it": open it with a clean state
    (
        re.compile(
            r"\b(?:clear|wipe|reset|delete|erase)\s+(?:all\s+)?(?:of\s+)?(?:the\s+)?(?P<a>login\s+demo|demo\s+app|settings)(?:\s+app)?"
            r"(?:'s|s)?\s+(?:app\s+)?(?:data|storage|state)\b",
            re.I,
        ),
        r"open \g<a> with a clean state",
    ),
    # "check bluetooth becomes enabled": is (but "ensure it gets turned on" asks for it to be done)
    (
        re.compile(
            r"\b(?:gets?(?!\s+(?:turned|switched))|becomes?)\s+(?:turned\s+|switched\s+)?"
            r"(?=(?:on|off|enabled|disabled)\b)",
            re.I,
        ),
        "is ",
    ),
    # "back out to the main settings", "get me into settings": go (back) there
    (re.compile(r"\b(log|sign)\s+(?:right\s+)?back\s+(in|out)\b", re.I), r"\1 \2"),  # "log right back out"
    (
        re.compile(
            r"\b(?:go\s+)?back\s+out(?:\s+of\s+(?:here|it|(?:this|the)(?:\s+(?:screen|page|app|application))?|login\s+demo|"
            r"settings)\b|\b(?!\s+of\b))",
            re.I,
        ),
        "go back",
    ),
    (re.compile(r"\bgo\s+in(?=\s+(?:the\s+)?(?:settings|login\s+demo|about)\b)", re.I), "go into"),  # "go in settings"
    (re.compile(r"\b(?:go\s+back|return)\s+to\s+the\s+main\s+(?=settings\b)", re.I), "go back to "),
    (re.compile(r"\b(?:get|take|bring)\s+(?:me|us)\s+(?:in)?to\b", re.I), "go to"),
    # "there should not be a Sign in button anymore": no longer there
    (
        re.compile(
            r"\b(?P<a>there(?:'s|\s+(?:should|must|will|is|are))(?:\s+not|n't)?(?:\s+be)?\s+[^,.;!?]+?)\s+(?:any\s*more|any\s+longer)"
            r"(?=\s*$|\s*[,.;!?])",
            re.I,
        ),
        r"\g<a>",
    ),
    # "tap the little back arrow": the arrow
    (
        re.compile(
            r"\b(?:little|small|tiny|big|large)\s+(?=(?:back\s+|up\s+|left\s+)?(?:arrow|button|icon|switch|toggle|link|chevron)\b)",
            re.I,
        ),
        "",
    ),
    # "the very first item": the first
    (re.compile(r"\bthe\s+very\s+(?=(?:first|last|top|bottom|topmost|bottommost)\b)", re.I), "the "),
    # "for the password use x": x typed into it
    (
        re.compile(
            r"\bfor\s+(?:the\s+|my\s+)?(?P<f>email|e-mail|username|user\s*name|password|passcode)(?:\s+(?:field|box|input))?"
            r"\s*,?\s+(?:use|type|enter|put|write)\s+(?P<x>[^\s,;]+)",
            re.I,
        ),
        r"type \g<x> into the \g<f> field",
    ),
    # "password x and go": and submit
    (
        re.compile(r"\b(?P<a>(?:password|pw|pass)\s+[^\s,;]+)\s*(?:,\s*|\s+and\s+|\s+then\s+)go\s*[.!]*$", re.I),
        r"\g<a> and submit",
    ),
    # "OK on the first dialog": the first OK
    (
        re.compile(
            r"\b(?:the\s+)?(?P<b>ok|cancel)\s+(?:button\s+)?(?:on|in|of)\s+the\s+(?P<n>first|second|top|upper|bottom|lower|last)\s+"
            r"(?:dialog|popup|pop-up|box|one|alert|prompt)\b",
            re.I,
        ),
        lambda m: f"the {m['n']} {m['b']}",
    ),
    # "press Sign in once the form is filled in with a@b.c / x": fill it in first
    (
        re.compile(
            r"^(?P<a>[^;]+?)\s+(?:once|after|when)\s+(?:the\s+)?(?:form|fields?|login\s+form|credentials)\s+"
            r"(?:is|are|has\s+been|have\s+been)\s+(?:filled|completed|populated)(?:\s+in|\s+out)?\s+with\s+(?P<c>[^;]+?)[.!]?$",
            re.I,
        ),
        r"fill in \g<c>, then \g<a>",
    ),
]

_CALL = re.compile(rf"\b({'|'.join(VERBS)})\(\s*([^()]*?)\s*\);?", re.I)
# A step's name said as its verb (a developer's "launch_app com.x", "press_key volume_down", "clear_text into email")
_STEP_NAMES = {
    "launch_app": "open",
    "stop_app": "stop",
    "press_key": "press",
    "clear_text": "clear",
    "scroll_until_visible": "scroll to",
    "wait_for": "wait for",
    "long_press": "long press",
    "volume_up": "volume up",
    "volume_down": "volume down",
    "app_switch": "app switch",
}
_STEP_NAME = re.compile(r"\b(" + "|".join(_STEP_NAMES) + r")\b(?:\s+(?:into|in|from)\b)?", re.I)
_SHELL = re.compile(r"\b(?:adb\s+shell\s+)?am\s+(start|force-stop)(?:\s+-[a-z]+)*\s+(?=[a-z][\w.]*\.[\w.]+)", re.I)
_GHERKIN = re.compile(r"(?<=\S)[,.]?\s+(?=(?:Given|When|Then|And|But)\s)")
_GIVEN = re.compile(r"(?:^|(?<=; ))Given\s+(?=the\s|(?:I|we|you)\s+(?:am|are|'m|'re|should|have|see)\b)")
_STEP_FLAG = re.compile(r"\s*(?:with\s+|,\s*)?clear_state\s*[=:]\s*(true|false)\b", re.I)
# "assert_visible Model", "long_press item 4": a step's own name; not a resource id ("sign_in")
_SNAKE = re.compile(r"\b(?:assert|expect|wait|scroll|long|press|clear|take|launch|stop)(?:_[a-z]+)+\b", re.I)
_CAMEL = re.compile(rf"\b(?:{'|'.join(VERBS)})(?:[A-Z][a-z]+)+\b")

# A comma between two numbers ("tap at 540, 1200") does not split; ">" splits ("Settings > About phone").
_PUNCT_SPLIT = re.compile(
    r"\s*;\s*|(?<!\d)\s*,\s*|\s*,(?!\s*\d)\s*|\s*[.!?]+(?:\s+|$)|\s+(?:>|->|→|=>|&|\+|\||/|-|–|—)\s+|"
    r"\s*(?:->|→|=>)\s*|(?<=[a-z]):\s+(?=(?:open|tap|go|turn|type|press|sign|log|check|verify|scroll|take|wait)\b)"
)
_WORD_SPLIT = re.compile(
    r"\s+(?:and\s+then|and\s+after\s+that|then|and|after\s+that|afterwards|followed\s+by|and\s+also|also|"
    r"and\s+finally|and\s+next|and\s+now|once\s+(?:done|that'?s\s+done|finished)|when\s+(?:done|finished)|"
    r"(?:and\s+)?(?:once|when|after)\s+(?:that|this|it)(?:'s|\s+is|\s+has\s+been)\s+(?:done|finished|complete)|"
    r"(?:and\s+)?(?:once|when)\s+(?:you(?:'re|\s+are|'ve|\s+have)|that'?s)\s+(?:done|finished)(?:\s+with\s+(?:that|it))?|"
    r"after\s+which|and\s+once\s+done|plus|as\s+well\s+as|along\s+with|together\s+with|but|while|"
    r"after(?=\s+(?:click|tap|press|hit|push|touch|open|go|turn|switch|check|verify|scroll|select)\s))\s+",
    re.I,
)
_LEADING = re.compile(
    r"^(?:(?:and|then|also|now|first(?:ly)?(?!\s+(?:item|row|one|field|button|switch|entry|option|icon|link)\b)|"
    r"secondly|next|finally|lastly|after\s+that|afterwards|(?:in|at|by)\s+the\s+end|please|pls|plz|kindly|just|ok(?:ay)?|so|right|alright|"
    r"once\s+(?:done|that'?s\s+done|finished)|when\s+(?:done|finished)|after\s+which|"
    r"(?:once|when|after)\s+(?:that|this|it)(?:'s|\s+is|\s+has\s+been)\s+(?:done|finished|complete)|"
    r"(?:once|when)\s+(?:you(?:'re|\s+are|'ve|\s+have)|that'?s)\s+(?:done|finished)(?:\s+with\s+(?:that|it))?|"
    r"(?:might|may|could|can)\s+i\s+(?:trouble|bother|ask)\s+you\s+to|given|when|and\s+when|(?:the\s+)?(?:user|tester|customer)\s+(?=(?:then\s+)?\w+s\b)|(?:i|we|you|u)\s+(?=(?:then\s+)?(?:"
    + "|".join(v for v in VERBS if v not in ("see", "expect", "find", "look", "make", "use", "set", "change", "show"))
    + r")\b)|attempt\s+to|"
    r"hi|hello|hey|(?:(?:dear|hey|hi|hello|ok(?:ay)?|yo)\s+)?(?:assistant|bot|robot|agent|computer|cognisim|buddy|friend)|"
    r"(?:can|could|would|will)\s+(?:you|u)(?:\s+please)?(?:\s+(?:be\s+so\s+kind\s+as|mind|kindly|be\s+able|possibly))?"
    r"(?:\s+to)?|but|and\s+then|"
    r"(?:i|we)\s+(?:want|need|would\s+like|'?d\s+like|'d\s+love)\s+(?:you\s+)?to|i'?d\s+like\s+(?:you\s+)?to|"
    r"(?:i|we)\s+(?:want|need|would\s+like|'?d\s+like)\s+that\s+(?:you|u)|"
    r"(?:i|we)\s+(?:want|need|would\s+like)\s+(?:you|u)\s+(?=(?:" + "|".join(VERBS) + r")\b)|"
    r"let'?s|go\s+ahead\s+and|try\s+to|you\s+should|do\s+me\s+a\s+favou?r\s+and|be\s+so\s+kind\s+as\s+to|"
    r"time\s+to|you\s+can|you\s+may|i\s+need\s+to|we\s+need\s+to|make\s+sure\s+to|remember\s+to|don't\s+forget\s+to|"
    r"try(?=\s+\w+ing\b)|keep(?=\s+(?:scrolling|swiping)\b)|terribly|really|possibly|perhaps|maybe|"
    r"(?:i'?d|i\s+would)\s+(?:really\s+|greatly\s+)?appreciate\s+it\s+if\s+you(?:\s+(?:could|would|can))?|it\s+would\s+be\s+(?:great|nice)\s+if\s+you\s+(?:could|would)|"
    r"(?:i\s+was\s+)?wondering\s+if\s+you\s+(?:could|can)|if\s+possible|if\s+you\s+can|"
    r"would\s+you\s+mind|please\s+(?:could|would|can)\s+you|can\s+i\s+get\s+you\s+to|pretty\s+please|"
    r"(?:would|is|could)\s+it\s+be\s+possible\s+(?:for\s+you\s+)?to|is\s+it\s+possible\s+to|"
    r"(?:can|could|would)\s+you\s+(?:quickly|just|please\s+just)|quickly|mind|"
    r"(?:could|can|may)\s+i\s+(?:ask|get)\s+you\s+to|i'?d\s+love\s+(?:it\s+)?if\s+you\s+(?:could|would|can)|"
    r"(?:and\s+)?(?:in|on)\s+(?:there|it|that\s+screen|that\s+app|that\s+page)|"
    r"(?:in|on|within)\s+(?:the|this)\s+(?:list|screen|page|view|form|current\s+screen)|(?:in|on)\s+here|"
    r"(?:once|when)\s+(?:there|(?:you're|you\s+are|we're|we\s+are|i'm|i\s+am)\s+(?:there|in|on\s+(?:it|that\s+\w+)))|"
    r"(?:i|we)\s+(?:want|need)\s+to|do\s+you\s+think\s+(?:you\s+)?(?:could|can|would|might)|"
    r"(?:i\s+was\s+|i'?m\s+|we\s+were\s+|we'?re\s+)?hoping\s+(?:that\s+)?you\s+(?:could|can|would|might)|"
    r"(?:(?:can|could|would|will)\s+you\s+)?help\s+(?:me|us)(?:\s+to)?|be\s+so\s+kind\s+(?:as\s+to|and)|"
    r"(?:would|could)\s+you\s+be\s+(?:so\s+kind|kind\s+enough|good\s+enough)\s+(?:as\s+)?(?:to|and)|"
    r"you\s+(?:could|can|might)\s+(?:also\s+)?(?=\w)|(?:i|we)\s+(?:would|'d)\s+(?:really\s+)?(?:like|love)\s+(?:it\s+)?"
    r"(?:if\s+you\s+(?:could|would|can)|you\s+to)|(?:is\s+there\s+)?any\s+chance\s+you\s+(?:could|can)|"
    r"(?:can|could|would)\s+you\s+try\s+to|feel\s+free\s+to|go\s+on\s+and|(?:now|next)\s+(?:i\s+want\s+you\s+to|you\s+can)|"
    r"(?:shall|can|could|should|may)\s+we|we\s+(?:should|must|need\s+to|have\s+to|can|could|will)(?!\s+(?:not\s+)?be\b)|"
    r"(?:would|is|will)\s+it\s+be\s+(?:ok(?:ay)?|alright|fine|possible)\s+(?:for\s+you\s+)?(?:to|if\s+you)|"
    r"is\s+it\s+(?:ok(?:ay)?|alright|fine)\s+(?:to|if\s+you)|(?:proceed|continue|go\s+on)\s+(?:to|by|and|with)|"
    r"from\s+(?:here|there)|hiya|heya|howdy|yo|greetings|excuse\s+me|sorry|just\s+wondering|oh|ah|"
    r"(?:(?:i\s+would|i'?d|we\s+would|we'?d)\s+be\s+(?:very\s+|really\s+|so\s+|most\s+)?)?grateful\s+if\s+you\s+(?:could|would|can)|"
    r"if\s+you\s+(?:could|would|can)(?:\s+please)?(?=\s+\w)|help(?:\s+(?:me|us))?\s+by|"
    r"(?:would\s+you\s+)?be\s+(?:kind|good|nice)\s+enough\s+(?:to|and)|do\s+me\s+the\s+(?:kindness|honou?r|favou?r)\s+of|"
    r"(?:i'?d|i\s+would|we'?d)\s+(?:love|like)\s+(?:it\s+)?for\s+you\s+to|(?:then\s+)?(?:to|(?:into|onto)"
    r"(?![^,;]*\s(?:type|enter|input|write|put|key\s+in|fill\s+in)\s))(?=\s+\w))"
    r"\b,?\s*)+",
    re.I,
)
_TRAILING = re.compile(
    r"(?:\s*,?\s+(?:please|pls|plz|pleas|plx|for\s+me|4\s+me|now|rn|asap|real\s+fast|super\s+quick|at\s+once|"
    r"if\s+(?:u|ya)\s+(?:can|could)|when\s+(?:u|ya)\s+can|lol|kthx|tia|as\s+well|too|thanks|thank\s+you|thx|again|once\s+more|instead|"
    r"from\s+here|from\s+there|right\s+now|right\s+away|straight\s+away|immediately|(?<!starts\s)(?<!start\s)(?<!loads\s)(?<!load\s)(?<!opens\s)(?<!open\s)(?<!responds\s)(?<!works\s)quickly|real\s+quick|"
    r"if\s+you\s+(?:can|could|would|don't\s+mind)|when\s+you\s+can|(?<!starts\s)(?<!start\s)(?<!loads\s)(?<!load\s)(?<!opens\s)(?<!open\s)(?<!responds\s)(?<!works\s)quickly|if\s+you\s+please|"
    r"if\s+you\s+(?:would|could|'d)\s+be\s+so\s+kind|for\s+me\s+please|thanks?\s+(?:a\s+lot|so\s+much|in\s+advance)|"
    r"cheers|ta|thx|ty|mate|buddy|together|completely|entirely|fully|for\s+good|for\s+(?:a\s+)?(?:moment|bit|second|sec|while)|"
    r"for\s+now|temporarily|afterwards|after\s+(?:that|this)|(?:in|at)\s+the\s+end|(?<!the\s)(?<!a\s)first|one\s+(?:step|notch)|a\s+notch|"
    r"(?<!\bbe\s)(?:on|in)\s+this\s+(?:current\s+)?(?:screen|page|view)|"
    r"(?:in|on|at)\s+the\s+(?:top\s+bar|toolbar|tool\s+bar|action\s+bar|app\s+bar|title\s+bar|header)|(?:when|once)\s+(?:you're|you\s+are|you\s+get|we're|we\s+are)\s+there|"
    r"(?:when|once)\s+(?:it's|it\s+is)\s+(?:open|loaded|up)|for\s+(?:this|the|my|our)\s+(?:test(?:\s+run|\s+case)?|run|check)|"
    r"for\s+testing(?:\s+purposes)?|from\s+the\s+(?:list|menu|settings\s+list)|thanks\s+a\s+(?:bunch|ton|million)|thank\s+you\s+kindly|,?\s*(?:that|it)\s*(?:would|'d|will)\s+be\s+(?:great|nice|lovely|awesome|perfect|"
    r"helpful|much\s+appreciated)|(?:that'?s|that\s+is)\s+all))+$",
    re.I,
)
_FILLER = re.compile(
    r"(?:hi|hello|hey|thanks|thank\s+you(?:\s+(?:so\s+much|very\s+much))?|thx|cheers|ok(?:ay)?|right|alright|"
    r"great|cool|please|pls|that's\s+(?:it|all)|done|good|if\s+possible|if\s+you\s+can|when\s+you\s+(?:can|get\s+a\s+"
    r"chance)|no\s+rush|go\s+ahead|ready|let's\s+go|next|first|then|finally|also|and|"
    r"when\s+you\s+(?:have|get)\s+a\s+(?:moment|minute|sec(?:ond)?|chance)|(?:much|really)\s+appreciated|"
    r"(?:i\s+)?appreciate\s+it|sorry(?:\s+to\s+bother\s+you)?|if\s+you\s+could|if\s+you\s+would|no\s+worries|"
    r"thanks\s+(?:a\s+lot|so\s+much|in\s+advance)|thank\s+you\s+in\s+advance|cheers\s+mate|many\s+thanks|"
    r"(?:good\s+)?(?:morning|afternoon|evening)|(?:(?:dear|hey|hi|hello|ok(?:ay)?|yo)\s+)?(?:assistant|bot|robot|agent|computer|cognisim)|(?:um+|uh+|hmm+|well|so|okay\s+so)|"
    r"(?:(?:can|could|would)\s+you\s+)?do\s+me\s+a\s+favou?r|pretty\s+please|quick\s+one|one\s+more\s+thing|"
    r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:just\s+)?(?:testing|checking|trying\s+out|working\s+on|looking\s+at|playing\s+with)"
    r"\b.*|(?:i|we)\s+(?:think|guess|believe|suppose|hope|feel)\b(?!.*\b(?:tap|open|type|turn|press|click)\b).*|"
    r"(?:this|that)\s+is\s+(?:a|an|just\s+a)\s+(?:test|check|quick\s+test)\b.*|here\s+goes|let\s+me\s+see|"
    r"if\s+you\s+(?:would|could|'d)\s+be\s+so\s+kind|if\s+you\s+please|right|correct|ok\?|yes|sure|hiya|heya|howdy|yo|oh|ah|"
    r"(?:that|it)\s*(?:would|'d|will)\s+be\s+(?:great|nice|lovely|awesome|perfect|helpful|much\s+appreciated)|"
    r"greetings|excuse\s+me|from\s+(?:the\s+)?(?:home|main|start)\s+screen|from\s+(?:here|there)|"
    r"as\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,3}(?:user|tester|customer|admin|person|developer|qa|member)|"
    r"(?:just\s+)?wondering|i\s+was\s+(?:just\s+)?wondering|quick\s+question|thanks\s+a\s+(?:bunch|ton|million)|"
    r"thank\s+you\s+kindly|much\s+obliged|leave\s+(?:the\s+)?(?:\w+\s+)?(?:field\s+)?(?:empty|blank|as\s+it\s+is)|"
    r"(?:don't|do\s+not)\s+(?:type|fill\s+in|enter)\s+(?:a|the|any)\s+(?:password|email)|(?:once|when)\s+(?:it|that)'s\s+(?:open|loaded|ready|up|there)|"
    r"if\s+(?:it\s+isn't|it's\s+not|it\s+is\s+not)\s+too\s+much\s+(?:trouble|bother)|if\s+(?:that's|that\s+is)\s+(?:ok|okay|"
    r"alright|fine)|if\s+you\s+don't\s+mind|be\s+a\s+(?:dear|star|pal|sweetheart|love)|ty|tysm|tyvm|thx|thnx|cheers|"
    r"if\s+(?:it'?s|it\s+is)\s+(?:not\s+)?(?:already\s+)?(?:on|off|enabled|disabled|there|shown|visible|open)|"
    r"if\s+(?:needed|necessary|required|not\s+already|need\s+be)|(?:when|once)\s+ready|"
    r"(?:since|because|'?cause)\s+.+|(?:and\s+)?stop\s+(?:there|here)(?:\s+without\s+\w+ing.*)?|"
    # the tester's own story around the steps ("I just want to be certain", "we left it on by mistake")
    r"(?:i|we)(?:\s+|(?='))(?:just\s+)?(?:want|wanted|need|needed|would\s+like|'d\s+like)\s+to\s+(?:be\s+(?:sure|certain)|review|look\s+at|"
    r"take\s+a\s+look|see\s+(?:how|what|why|whether|if)|know|understand|find\s+out)\b.*|"
    r"(?:i|we)\s+(?:left|turned|switched|set)\s+.+\s+by\s+(?:mistake|accident)|"
    r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:all\s+)?(?:done|finished|through)(?:\s+(?:here|now|with\s+.+))?|"
    r"(?:we'?re|we\s+are|i'?m|i\s+am)\s+(?:pairing|going\s+to|about\s+to|planning|demoing|presenting|recording)\b.*|"
    r"(?:we'?ve|we\s+have|i'?ve|i\s+have)\s+(?:seen|done|had|got)\s+enough\b.*|(?:our|my|the)\s+[\w\s-]+\s+needs?\s+(?:it|this|that|them)|"
    r"(?:the\s+)?\w+(?:\s+\w+)?\s+looks?\s+(?:fine|good|ok(?:ay)?|right|correct|alright)|(?:i'?m|i\s+am|we'?re|we\s+are)\s+seeing\s+.*|"
    r"(?:the\s+\w+|everything|it|both(?:\s+fields)?|both\s+of\s+them|the\s+fields)\s+(?:is|are)\s+(?:already\s+)?"
    r"(?:pre-?filled|filled(?:\s+in)?|typed(?:\s+in)?|entered)(?:\s+already)?|"
    r"(?:once|when|after)\s+(?:it|that|the\s+\w+(?:\s+\w+)?)\s+(?:has\s+)?(?:loaded|opened|appeared|finished|shows|appears|loads|"
    r"opens|comes\s+up|shows\s+up|is\s+(?:open|loaded|"
    r"ready|shown|visible|up))|please\s+and\s+thank\s+you|thanks\s+in\s+advance)"
    r"(?:\s+there)?",
    re.I,
)
_ORDINAL_LEAD = re.compile(
    r"^(?:first|second|third|fourth|fifth|sixth|next|then|last|lastly|finally|after\s+that)(?:ly)?,?\s+(?=(?:"
    + "|".join(VERBS)
    + r")\b)",
    re.I,
)
_VERB_COLON = re.compile(rf"^({'|'.join(VERBS)})\s*:\s*", re.I)
_TURN_OF = re.compile(r"\b(turn|switch|flip)\s+of\b", re.I)
# "tap Sign in without filling anything in": how, not what.
_ASIDE = re.compile(
    r"(?:^|\s+)(?:without|instead\s+of|by)\s+\w+ing\b.*$|\s+unless\s+.*$|"
    # "… so we can see the message", "… for the report", "… because it drains the battery": why, not what
    r"(?:^|\s+)so\s+(?:that\s+)?(?:we|i|you|it|they)\s+(?:can|could|get|will|won't|see|are|have|don't)\b.*$|"
    r"\s+before\s+(?:we|i|you)\s+\w+.*$|"
    r"\s+(?:because|cause|'cause)\s+.*$|\s+(?:using|via|with|by\s+using)\s+the\s+(?:up|back)\s+(?:arrow|button)$|"
    r"\s+(?:and\s+)?stop\s+(?:there|here)\b.*$|\s+for\s+(?:the|my|our)\s+(?:report|record|records|docs|documentation|ticket|"
    r"bug\s+report|screenshots?)$|\s+when\s+you\s+(?:get|have)\s+(?:a\s+)?(?:chance|moment|minute|time)$|,?\s+if\s+(?:it'?s|it\s+is)\s+(?:not\s+)?(?:already\s+)?"
    r"(?:on|off|enabled|disabled|there|shown|visible|open)$|\s+(?:and|then|or)$|"
    r"\s+with\s+(?:both\s+|all\s+|the\s+)?(?:fields?|form|email|password)\s+(?:(?:left\s+)?empty|blank)$",
    re.I,
)
# "clear the error by signing in with …": what to do is how, the rest is what it is for.
_BY_DOING = re.compile(rf"^\S.*?\s+by\s+(?P<g>{'|'.join(_GERUNDS)})\b(?P<b>\s+\S.*)$", re.I)
_PURPOSE = re.compile(r"(?P<verb>tap|click|press|hit|touch|flip|toggle|select|poke|push)\s+(?:on\s+)?(?P<t>.+)", re.I)
_TO = re.compile(r"\s+(?:in\s+order\s+|so\s+as\s+)?to\s+", re.I)
# "tap Sign in with empty fields": how the form is, not what to tap
_TAP_EMPTY = re.compile(
    r"^(?P<v>tap|click|press|hit|touch|select|push)\s+(?P<t>.+?)(?:\s+(?:again|anyway|right\s+away))?\s+(?:with\s+"
    r"(?:both\s+|all\s+(?:the\s+)?|the\s+|an\s+)?(?:(?:empty|blank)\s+(?:fields?|form|inputs?|credentials)|"
    r"nothing\s+(?:filled\s+in|typed|entered)|(?:fields?|form)\s+(?:still\s+)?(?:empty|blank))|"
    r"without\s+(?:a|an|the|any|entering|typing|filling)\b.*)$",
    re.I,
)
_PURPOSE_STATE = re.compile(
    r"(?:turn|switch|flip|set|toggle)\s+(?:it\s+|this\s+|that\s+)?(?P<s>on|off)(?:\s+(?:it|this|that))?|"
    r"(?P<e>enable|disable|activate|deactivate)(?:\s+(?:it|this|that))?",
    re.I,
)
_PURPOSE_ANY = re.compile(
    r"(?:open|see|view|go|get|sign|log|submit|continue|proceed|confirm|close|dismiss|return|reach|expand|show|start|"
    r"navigate|access|enter|reveal|focus|select|choose|pick|finish|complete|trigger|send|login|signin|leave|exit|quit|"
    r"move|jump|head|come|bring|land|try|retry|attempt|check|test|verify|make|dismiss|hide|load|refresh|reload)\b.*",
    re.I,
)


def _purpose(clause: str) -> str:
    """ "tap the Wi-Fi toggle to disable it": the switch set to that state (a tap alone flips it whatever it is);
    "click Sign in to log in": the tap."""
    said = _PURPOSE.fullmatch(clause)
    if not said:
        return clause
    for to in _TO.finditer(said["t"]):
        target, purpose = said["t"][: to.start()], said["t"][to.end() :]
        if state := _PURPOSE_STATE.fullmatch(purpose):
            on = (state["s"] or "").lower() == "on" or (state["e"] or "").lower() in ("enable", "activate")
            return f"turn {'on' if on else 'off'} {target}"
        if _PURPOSE_ANY.fullmatch(purpose):
            return f"{said['verb']} {target}"
    return clause


# "I'd appreciate it if you turned dark theme on": the verb of a clause, said in the past.
_PAST_FORMS: dict[str, str] = {
    "turned": "turn",
    "switched": "switch",
    "tapped": "tap",
    "clicked": "click",
    "pressed": "press",
    "opened": "open",
    "launched": "launch",
    "closed": "close",
    "typed": "type",
    "entered": "enter",
    "scrolled": "scroll",
    "swiped": "swipe",
    "went": "go",
    "signed": "sign",
    "logged": "log",
    "enabled": "enable",
    "disabled": "disable",
    "took": "take",
    "cleared": "clear",
    "toggled": "toggle",
    "selected": "select",
}
_PAST = re.compile(rf"^(?P<p>{'|'.join(_PAST_FORMS)})\b(?=\s+\S)", re.I)
_THIRD_BASES = [v for v in VERBS if not v.endswith("s")] + ["press"]
_THIRD = re.compile(rf"^(?P<v>{'|'.join(_THIRD_BASES)})(?:es|s)\b(?=\s+\S)", re.I)
_MID_PLEASE = re.compile(
    rf"^((?:{'|'.join(VERBS)})(?:\s+(?:on|off|in|out|up|down))?)\s+(?:please|pls|plz|kindly)\s*:?\s+(?=\S)", re.I
)  # "activate please the bluetooth"
_NAME_IS = re.compile(
    r"(\w)'s\s+(?=(?:not\s+|still\s+)?(?:on|off|enabled|disabled|active|inactive|checked|unchecked|turned|switched)\b)",
    re.I,
)
_CALLED = re.compile(r"\b(is|are|should\s+be|must\s+be)\s+(?:called|named|labell?ed|titled)\s+", re.I)
_ITS = re.compile(r"\b(it|that|this|what|where|who)'s\b", re.I)
_GERUND = re.compile(rf"^(?P<g>{'|'.join(_GERUNDS)})\b", re.I)


# Labels with these in them are protected too: a check reads them as negation or as "X is Y".
_NEGATIVE = re.compile(r"\b(?:no|not|none|nothing|never|without)\b|n't\b", re.I)
_IS = re.compile(r"\s(?:is|are)\s", re.I)


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


# Emoji and pictographs ("turn on wifi 🙏", "log in 👍") say how, never what; a quoted label keeps its own.
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]+")
_EMOTICON = re.compile(r"(?<!\S)(?:[:;=8][-']?[()DPpO3/|\]\[]+|<3+|\^\^|[xX]D+)(?=[\s,.!?]|$)")
_LIST_MARK = re.compile(
    r"(?:(?<=^)|(?<=[\s.;,:]))(?:step\s+(?P<s>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s*[-–—:.)]?\s*|(?P<n>\d{1,2})\s*[.):]\s+)(?=[A-Za-z])|"
    r"(?:(?<=^)|(?<=;\s))\d{1,2}\s*[-–—]\s+(?=[A-Za-z])",  # "1 - open settings; 2 - wifi off": one step a line
    re.I,
)
_LETTERED = re.compile(r"^\s*a\)\s+(?=[A-Za-z])", re.I)
_LETTER_MARK = re.compile(r"(?:(?<=^)|(?<=[\s.;,]))[a-h]\)\s+(?=[A-Za-z])", re.I)
_NOT_MARKS = ("item", "row", "number", "no", "option", "entry", "#", "version", "field", "button", "switch")
# A test log's or a checklist's marks before a step ("[step 1] tap …", "- [ ] turn off wifi", "INFO: …",
# "12:03:04 …"): where a step starts, not what it does.
_LOG_MARK = re.compile(
    r"^[-*•]?\s*\[\s*[xX✓✔*]?\s*\]\s+|"
    r"(?:(?<=^)|(?<=\s))\[\s*(?:(?:step|#)?\s*\d{1,3}(?:\s*/\s*\d{1,3})?|info|debug|trace|note|test|step)\s*\](?=\s|$)|"
    r"^(?:\d{4}-\d{2}-\d{2}[T\s])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?Z?\s+|^(?:info|debug|trace|note)\s*:\s*",
    re.I | re.M,
)
# "✓ Model is X": a check mark before what must hold is a check; before a verb ("✔ tap Sign in") just a mark.
_CHECK_MARK = re.compile(
    r"(?:(?<=^)|(?<=[\s;,]))[✓✔☑✅]\ufe0f?\s*(?=\w)(?!(?:" + "|".join(VERBS) + r")\b)", re.I | re.M
)


def _unlist(text: str) -> str:
    """ "1. open settings 2. turn off wifi", "Step 1: …", "a) … b) …": numbered steps become clauses."""
    if _LETTERED.match(text):
        text = _LETTER_MARK.sub("; ", text)

    def mark(m: re.Match[str]) -> str:
        before = text[: m.start()].split()
        return m[0] if before and before[-1].lower().strip(".,;:") in _NOT_MARKS else "; "

    return _LIST_MARK.sub(mark, text)


@cache
def _shapes(label: str) -> list[re.Pattern[str]]:
    """Patterns of texts shaped as `label` (its words around a comma, as "Welcome, Demo!") with one capitalised
    word said in place of one of its own: said in a check, it is one text, not two clauses."""
    parts = re.split(r"([^\w@.'-]+)", label)
    if not re.fullmatch(r"[\w'-]+(?:\s[\w'-]+)?,\s[\w'-]+(?:\s[\w'-]+)?[!.?]?", label):
        return []
    shapes = []
    for k, part in enumerate(parts):
        if part[:1].isupper() and part.isalpha():
            pieces = [re.escape(p) if n != k else r"(?-i:[A-Z])[\w'-]*" for n, p in enumerate(parts)]
            shapes.append(re.compile(rf"(?<![\w{OPEN}{CLOSE}]){''.join(pieces)}(?![\w{CLOSE}])", re.I))
    return shapes


# "turnoff wifi", "goback", "scrolldown": a verb and its particle typed without the space between them
_GLUED = re.compile(
    r"\b(?P<v>turn|switch|flip|go|scroll|swipe|tap|click|press|wait|look|sign|log|come)"
    r"(?P<p>on|off|back|down|up|for|out|in|into)\b",
    re.I,
)
_GLUED_WORDS = frozenset({"login", "logon", "signin", "logout", "signout", "lookup"})


def _unglue(m: re.Match[str], keep: frozenset[str]) -> str:
    word = m[0].lower()
    if word in _GLUED_WORDS or word in keep:
        return m[0]
    return f"{m['v']} {m['p']}"


# "wifi is on, right?", "error gone?", "Welcome shown?": a sentence said as a question without a verb to do is a check
# of what it says (never a switch set, nor a tag read as a name)
_TAG = re.compile(
    r",?\s+(?:right|correct|yes|yeah|yep|no|ok(?:ay)?|true|isn't\s+it|aren't\s+they|is\s+it|are\s+they|innit|"
    r"am\s+i\s+right|don't\s+you\s+think)\s*(?=\?)",
    re.I,
)
_ASKED = re.compile(r"(?:(?<=^)|(?<=[.!?;]\s))(?P<s>[^.!?;]+?)\s*\?+")
_ASKED_STATE = re.compile(
    r"\b(?:on|off|enabled|disabled|active|inactive|checked|unchecked|shown|showing|visible|displayed|there|gone|present|"
    r"hidden|selected|empty|blank)$|\s(?:is|are)(?:n't|\s+not)?\s|\s=\s",
    re.I,
)
_BARE_STATE = re.compile(
    r"(?P<x>.+?)\s+(?:still\s+|now\s+)?(?P<s>(?:not\s+)?(?:on|off|enabled|disabled|active|inactive|checked|unchecked|"
    r"shown|showing|visible|displayed|there|gone|present|hidden|selected|empty|blank))",
    re.I,
)
_AND = re.compile(r"\sand\s", re.I)
_IS_OR_NOT = re.compile(r"\s(?:is|are)(?:n't|\s+not)?\s", re.I)
_EITHER = re.compile(r"\b(?:on|enabled|shown|visible|there)\s+or\s+(?:off|disabled|not)\b", re.I)
_SEEN = re.compile(r"\s(?:visible|shown|showing|displayed|present|gone|hidden|there)$", re.I)
_CHECK_VERBS = frozenset(_split("check verify confirm ensure make assert expect see look find wait show"))
_NOT_ASKED = frozenset(
    _split(
        "is are am do does did can could would will should shall may might has have was were what which where how why "
        "who when any anything no none nothing there"
    )
)


_ASKED_LEAD = re.compile(
    r"^(?:(?:and|then|so|also|now|ok(?:ay)?|and\s+then|finally|lastly|please|pls|kindly)\b,?\s*)*", re.I
)


def _state_said(part: str) -> bool:
    """Whether a part of a question names something and a state, with no verb to do ("wifi on", "Item 3 there")."""
    first = part.split()[0].lower() if part.split() else ""
    if _FILLER.fullmatch(part.strip()):
        return False  # "Hi there, wifi on?"
    if first in VERBS:
        # "turn wifi on?" asks for it; "Sign out button visible?" (a label that starts with a verb) asks whether it is
        return first not in _CHECK_VERBS and bool(_SEEN.search(part)) and not _IS.search(f" {part} ")
    return first not in _NOT_ASKED and first not in _GERUNDS and bool(_ASKED_STATE.search(part))


def _check_of(part: str) -> str:
    if not _IS_OR_NOT.search(f" {part} ") and (bare := _BARE_STATE.fullmatch(part)):
        verb = "are" if _AND.search(bare["x"]) else "is"
        part = f"{bare['x']} {verb} {bare['s']}"  # "wifi on?": is it
    return f"check {part}"


def _asked_part(part: str) -> str:
    lead = _ASKED_LEAD.match(part)
    start = lead.end() if lead else 0
    said = part[start:]
    if _EITHER.search(said) and _state_said(said):
        return f"{part[:start]}is {said}"  # "wifi on or off?": a state to be told
    pieces = _AND.split(said)
    if len(pieces) > 1 and all(_state_said(piece) for piece in pieces):
        return part[:start] + " and ".join(_check_of(piece) for piece in pieces)  # "wifi on and bluetooth off?"
    return f"{part[:start]}{_check_of(said)}" if _state_said(said) else part


def _asked(m: re.Match[str]) -> str:
    """Each part of a question ("Hi, wifi on, bluetooth off?") that names something and a state is a check of it."""
    return ", ".join(_asked_part(part) for part in m["s"].split(", ")) + "?"


_CREDENTIALS_ASIDE = re.compile(rf"\s*\(\s*(?P<e>{_EMAIL})\s*(?:,|/|\band\b)\s*(?P<p>[^\s,;()]+)\s*\)", re.I)
_BARE_W = re.compile(r"(?<!\S)w\s+(?=\S+@|(?:password|pw|pwd|pass|the|my)\b)", re.I)


# A test case written as a document: "Test case TC-7 (login).", "Precondition: …", "Expected result: …", and a
# statement asked to be verified after it is said ("Wi-Fi should be off — please verify").
_CASE_TITLE = re.compile(
    r"(?:^|(?<=[.;]\s))(?:test\s*case|tc)\s*(?:#|no\.?)?\s*[\w-]*\d[\w-]*\s*(?:\([^()]*\))?\s*[:.\-–—]*\s*", re.I
)
_EXPECTED_LABEL = re.compile(
    r"(?:^|(?<=[\s.;,]))(?:expected(?:\s+(?:result|results|outcome|behaviou?r|state))?|expectations?|results?|outcome|"
    r"pre-?\s*conditions?|prerequisites?|pre-?reqs?)\s*:\s*(?!(?:open|launch|start|go|navigate|tap|click|sign|log|type|enter)\b)",
    re.I,
)
_VERIFY_AFTER = re.compile(
    r"(?P<s>[^;.!?—–]+?)(?:,?\s+right)?\s*(?:[—–]+|\s-\s|[;,.!?]+)\s*(?:(?:please|pls|plz|kindly|can\s+you|could\s+you|now)\s+)?"
    r"(?:verify|check|confirm|double[\s-]*check)(?:\s+(?:it|that|this|please|pls|plz|for\s+me))*"
    r"(?:\s+before\s+(?:we|i|you)\s+(?:continue|go\s+on|proceed|move\s+on))?\s*[.!]*(?=\s*(?:;|$))",
    re.I,
)
_STATEMENT = re.compile(r"\b(?:is|are|isn't|aren't|should|must|shouldn't|mustn't|has|have|stays?|remains?)\b", re.I)


_NOTE = re.compile(
    r"\s*\((?:note|nb|n\.b\.|fyi|remark|comment|this\s+is|that'?s|which\s+is|it'?s\s+(?:our|a|the|just)|just\s+(?:to|for|a)|"
    r"for\s+(?:the|our|my|a)|as\s+(?:a|the|expected|before)|because|since|optional|off\s+and|on\s+and|"
    r"(?:it|they|this|that)\s+(?:should|must|will)|should|expected|default|per|as\s+per|regression|fresh|capital|"
    r"one\s+(?:char(?:acter)?|digit|letter)|bug|ticket|see|ref|known|case|happy|sad|edge|negative|positive|smoke|sanity|"
    r"tc|test)\b[^()]*\)",
    re.I,
)


def _test_case(text: str) -> str:
    text = _EXPECTED_LABEL.sub("; check ", _CASE_TITLE.sub("", text))
    text = re.sub(
        r"(?:^|(?<=[\s.;,]))(?:test\s+)?(?:steps?(?:\s+to\s+reproduce)?|repro(?:\s+steps)?|actions?|procedure)\s*:\s*",
        "; ",
        text,
        flags=re.I,
    )
    # "Actual: the version shows 14.": what was seen, not what should be
    text = re.sub(
        r"(?:^|(?<=[\s.;,]))actual(?:\s+(?:result|behaviou?r|outcome))?\s*:[^.;]*[.;]?", "; ", text, flags=re.I
    )
    return _VERIFY_AFTER.sub(_verify_after, text)


def _verify_after(m: re.Match[str]) -> str:
    said = m["s"].strip()
    if re.match(r"(?:is|are|does|do|has|have|can)\s", said, re.I):
        return f"{said}?"  # "is the greeting still there? check": the question, which is a check
    if re.search(r"\b(?:should|must|shouldn't|mustn't)\b", said, re.I):
        return said  # "wifi should be off — verify": what a test expects is checked as it is
    return f"check {said}" if _STATEMENT.search(said) else m[0]


def mask(text: str, labels: Iterable[str] = ()) -> Masked:
    """Protect quoted text, then the given labels (case-insensitively) where they contain separators."""
    spans: list[str] = []

    def keep(value: str) -> str:
        spans.append(value)
        return f"{OPEN}{len(spans) - 1}{CLOSE}"

    text = _CHECK_MARK.sub("check ", _LOG_MARK.sub("; ", text.strip()))
    text = re.sub(r"\s*[\r\n]+\s*", "; ", text.strip(" ;"))
    if "«" not in text:
        text = re.sub(r"\s*[»›]\s*", " > ", text)  # "Settings » About phone": a path, not a closing quote
    # What is quoted is said as it is: none of the rewrites below reach inside it ('type "rock n roll"')
    text = _QUOTES.sub(lambda m: keep(next(said for said in m.groups() if said is not None)), text.translate(_CURLY))
    text = re.sub(r"\b(sign|log)\s+(?:ot|otu|uot|oot)\b", r"\1 out", text, flags=re.I)  # "sign ot", never "sign to"
    text = _SHORT_SLIP.sub(lambda m: _SHORT_SLIPS[m[0].lower()], text)
    text = _CHAT.sub(lambda m: _CHAT_WORDS[m[0].lower()], text)
    text = re.sub(r"(?<=[a-z\d])\s+nd?\s+(?=[a-z])", " and ", text)  # "the email field n then …": chat's "and"
    text = _test_case(text)
    text = re.sub(r"(?<!\w)w/\s*(?=\w)", "with ", text, flags=re.I)
    text = _BARE_W.sub("with ", text)  # "log in w a@b.c"
    text = _CALL.sub(lambda m: f"{m[1]} {m[2]}", text)  # 'tap("Sign in")': a verb called like a function
    text = _STEP_NAME.sub(lambda m: _STEP_NAMES[m[1].lower()], text)  # "launch_app com.x", "press_key volume_down"
    text = _SHELL.sub(lambda m: "open " if m[1].lower() == "start" else "stop ", text)  # "am start com.x"
    text = re.sub(r"(?<![\w./])(?:[a-z][\w.]*:)?id/(?=[a-z_])", "", text, flags=re.I)  # "into id/email": that id
    text = re.sub(r"(?<![\w@.#])[@#](?=[a-z][a-z_]*\b)", "", text, flags=re.I)  # "tap #sign_in", "into @email": ids
    text = _GHERKIN.sub("; ", text)  # "Given … When I … And I … Then I see …": one step a keyword
    text = _GIVEN.sub("check ", text)  # "Given the login screen", "Given I am signed in": what must hold first
    text = _STEP_FLAG.sub(lambda m: " with its data cleared" if m[1].lower() == "true" else "", text)
    text = _SNAKE.sub(lambda m: m[0].replace("_", " "), text)  # "assert_visible Model"
    text = _CAMEL.sub(lambda m: " ".join(re.findall(r"[A-Z]?[a-z]+", m[0])).lower(), text)  # "assertVisible"
    text = _CREDENTIALS_ASIDE.sub(r" with \g<e> and \g<p>", text)  # "fill the form (a@b.c, x)": with them
    text = re.sub(r"(\b(?:with|using))\s+with\s+", r"\1 ", text, flags=re.I)
    text = _NOTE.sub("", text)  # "(note: one digit short)", "(this is our smoke test)": a remark, not a step
    text = re.sub(r"\s*\((?![\s\dxy=:,]+\))([^()]*)\)", r", \1,", text)  # "(password x)": an aside, not coordinates
    text = re.sub(r",?\s+(?:i\.e\.|e\.g\.|ie,|that\s+is(?=,)),?\s*", "; ", text, flags=re.I)  # "…, i.e. X should …"
    text = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m[0].lower()], text)
    text = re.sub(r"(?<!\S)(?:←|<|‹|<-)(?!\S)", "back arrow", text)  # "tap the < button"
    text = _digits_for_words(text)
    text = _unlist(" ".join(text.split()))
    splittable = {
        label
        for label in labels
        if _PUNCT_SPLIT.search(label)
        or _WORD_SPLIT.search(label)
        or _NEGATIVE.search(label)
        or _IS.search(label)
        or " or " in label  # "no invalid email or password message": one label, not two
    }
    for label in sorted(splittable, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(label)}(?!\w)", lambda m: keep(m[0]), text, flags=re.I)
    for label in sorted(splittable, key=len, reverse=True):
        # "Welcome, Admin!" beside the label "Welcome, Demo!": a text of the same shape, one name changed
        for pattern in _shapes(label):
            text = pattern.sub(lambda m: keep(m[0]), text)
    text = " ".join(_EMOTICON.sub(" ", _EMOJI.sub(" ", text)).split())
    keep_words = frozenset(word.lower() for label in labels for word in label.split())
    text = _GLUED.sub(lambda m: _unglue(m, keep_words), text)
    if "?" in text:
        text = _ASKED.sub(_asked, _TAG.sub("", text))
    for pattern, replacement in _IDIOMS:
        text = pattern.sub(replacement, text)
    return Masked(text, spans)


def idioms(text: str) -> str:
    """A clause with the rewrites of `mask` applied again (after a typo in it was corrected)."""
    for pattern, replacement in _IDIOMS:
        text = pattern.sub(replacement, text)
    return text


def clauses(text: str) -> list[str]:
    """Split a masked instruction into clauses: on punctuation and ">", then on "and", "then", "after that" …

    Greetings and thanks ("Hi!", "thanks") are not clauses.
    """
    found = []
    for piece in _PUNCT_SPLIT.split(text):
        for clause in _WORD_SPLIT.split(piece):
            if _FILLER.fullmatch(clause.strip(" .,;:!?")):
                continue
            clause = tidy(clause)
            if clause and not _FILLER.fullmatch(clause):
                found.append(clause)
    return found


def tidy(clause: str) -> str:
    clause = re.sub(r"^[-*•·]+\s*", "", clause.strip(" .,;:!?"))  # a bulleted list
    clause = _LEADING.sub("", clause)
    clause = _MID_PLEASE.sub(r"\1 ", clause)
    clause = _ORDINAL_LEAD.sub("", clause)
    clause = _VERB_COLON.sub(r"\1 ", clause)
    clause = _ITS.sub(r"\1 is", clause)
    clause = _NAME_IS.sub(r"\1 is ", clause)  # "verify wifi's off"
    clause = _CALLED.sub(r"\1 ", clause)  # "the phone is called X": is X
    # "read me the model", "read out the error": a value to say back, which no step does (as "tell me X")
    clause = re.sub(r"^read\s+(?:(?:me|out|back|aloud)\s+)+(?=\S)", "tell me ", clause, flags=re.I)
    clause = _TURN_OF.sub(r"\1 off", clause)
    clause = _TRAILING.sub("", clause).strip(" .,;:!?")
    clause = _purpose(clause)
    clause = _TAP_EMPTY.sub(r"\g<v> \g<t>", clause)
    clause = _BY_DOING.sub(lambda m: _GERUNDS[m["g"].lower()] + m["b"], clause)
    clause = _TRAILING.sub("", _ASIDE.sub("", clause)).strip(" .,;:!?")
    clause = _TAP_EMPTY.sub(r"\g<v> \g<t>", clause)  # "tap X with the empty form so we can see …": its aside gone
    clause = _PAST.sub(lambda m: _PAST_FORMS[m["p"].lower()], clause)
    clause = _THIRD.sub(lambda m: m["v"], clause)  # "(the user) taps sign in"
    return _GERUND.sub(lambda m: _GERUNDS[m["g"].lower()], clause)


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
UNIT = r"ms|milliseconds?|millis|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?"


def number(word: str) -> float:
    word = " ".join(word.lower().split())
    return float(word) if word[0].isdigit() else _NUMBER_WORDS[word]


def to_ms(amount: str, unit: str) -> int:
    unit = unit.lower()
    scale = 1 if unit in ("ms", "millis") or unit.startswith("millisecond") else 1000
    if unit in ("h", "hr", "hrs") or unit.startswith("hour"):
        return round(number(amount) * 3_600_000)
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
    "nite mode": "dark theme",
    "dark look": "dark theme",
    "dark appearance": "dark theme",
    "internet": "wi-fi",
    "red message": "error",
    "red text": "error",
    "error banner": "error",
    "welcome banner": "welcome demo",
    "welcome message": "welcome demo",
    "welcome text": "welcome demo",
    "flight mode": "airplane mode",
    "aeroplane mode": "airplane mode",
    "plane mode": "airplane mode",
    "gps": "location",
    "loc": "location",
    "log in": "sign in",
    "login": "sign in",
    "log out": "sign out",
    "logout": "sign out",
    "log off": "sign out",
    "logoff": "sign out",
    "sign off": "sign out",
    "sign me out": "sign out",
    "log me out": "sign out",
    "login button": "sign in",
    "flight": "airplane mode",
    "airplane": "airplane mode",
    "dark": "dark theme",
    "location services": "location",
    "back arrow": "navigate up",
    "device model": "model",
    "phone info": "about phone",
    "phone information": "about phone",
    "device info": "about phone",
    "device information": "about phone",
    "system info": "about phone",
    "about the phone": "about phone",
    "about device": "about phone",
    "phone details": "about phone",
    "submit": "sign in",
    "submit button": "sign in",
    "device name": "model",
    "phone model": "model",
    "os version": "android version",
    "software version": "android version",
    "e-mail": "email",
    "e mail": "email",
    "username": "email",
    "user name": "email",
    "user": "email",
    "pw": "password",
    "pass": "password",
    "passwd": "password",
    "pwd": "password",
    "up arrow": "navigate up",
    "warning": "error",
    "error text": "error",
    "error message": "error",
    "invalid credentials": "error",
    "wrong credentials": "error",
    "login failed": "error",
    "login error": "error",
    "sign in error": "error",
    "failed login": "error",
    "invalid login": "error",
} | {  # "no error popup", "the warning banner": what shows the error, said by its look
    f"{head} {noun}": "error"
    for head in ("error", "warning")
    for noun in (
        "popup",
        "pop-up",
        "pop up",
        "dialog",
        "banner",
        "toast",
        "box",
        "label",
        "notification",
        "alert",
        "prompt",
    )
}


def norm(text: str) -> str:
    """Lower case, punctuation to spaces, single spaces: "Welcome, Demo!" -> "welcome demo"."""
    return " ".join(_NON_WORD.sub(" ", text.casefold().replace("&", " and ")).split())


_WORD_SYNONYMS = {
    "warning": "error",
    "alert": "error",
    "errors": "error",
    "wireless": "wi-fi",
    "wifi": "wi-fi",
    "bt": "bluetooth",
    "gps": "location",
    "loc": "location",
    "mail": "email",
    "e-mail": "email",
    "passcode": "password",
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "username": "email",
    "items": "item",
    "entries": "item",
    "greeting": "welcome",
    "night": "dark",
    "wlan": "wi-fi",
}


_SQUASHED = {name.replace(" ", "").replace("-", ""): alias for name, alias in _ALIASES.items()} | {
    "darktheme": "dark theme",
    "airplanemode": "airplane mode",
    "aboutphone": "about phone",
    "signin": "sign in",
    "signout": "sign out",
}


@lru_cache(maxsize=65536)
def canonical(text: str) -> str:
    """`norm`, with the common alternative names replaced ("wifi" -> "wi fi", "dark mode" -> "dark theme"),
    whole phrases first, then word by word ("the wireless switch" -> "the wi fi switch")."""
    text = norm(text)
    if text in _ALIASES:
        return norm(_ALIASES[text])
    if text.replace(" ", "") in _SQUASHED:
        return norm(_SQUASHED[text.replace(" ", "")])
    if len(text) >= 6 and " " in text:
        # "dark mdoe": one slip from a name of two words or more
        near = {alias for name, alias in _ALIASES.items() if " " in name and OSA.distance(text, name) <= 1}
        if len(near) == 1:
            return norm(near.pop())
    return norm(" ".join(_WORD_SYNONYMS.get(word, word) for word in text.split()))


def _squash(text: str) -> str:
    return text.replace(" ", "")


def _digits(text: str) -> list[str]:
    return re.findall(r"\d+", text)


@lru_cache(maxsize=65536)
def word_likeness(a: str, b: str) -> float:
    """How well one word stands for another: 1.0 equal, 0.9 one slip (a missing, extra or swapped letter, or a
    wrong one in a word of six letters or more), 0.7 one wrong letter in a shorter word, 0.8 two slips in a
    long word, else 0. Words under three letters and numbers must be equal."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit() or min(len(a), len(b)) < 3:
        return 0.0
    slips = OSA.distance(a, b, score_cutoff=2)
    longest = max(len(a), len(b))
    if slips == 1 and len(a) == len(b) and sorted(a) != sorted(b) and longest < 6:
        return 0.7  # one letter for another in a short word: as often another word ("gmail", "email") as a typo
    if slips == 1 and (longest >= 4 or sorted(a) == sorted(b)):
        return 0.9
    if slips == 2 and longest >= 7:
        return 0.8
    return 0.0


# Words that say what kind of thing is meant more than which: unexplained, they count for little.
GENERIC = frozenset(
    _split(
        "services service setting settings mode option options feature function toggle screen page menu section area "
        "thing phone device app application entry row tab control preference preferences hardware physical system "
        "android key networking network tracking access connection connectivity radio red green blue grey gray black "
        "white yellow orange big small little large tiny bold text message label address name value arrow thingy"
    )
)


@lru_cache(maxsize=65536)
def likeness(query: str, label: str) -> float:
    """How well `query` names `label`, 0..1, a confidence the planner acts on from 0.8 and asks about from 0.55.

    1.0 the same words (after the usual aliases: "wifi" is "Wi-Fi"); 0.97 the same but for spaces or
    hyphens; otherwise every word of the query is matched to its most alike word of the label (typos
    allowed, `word_likeness`) and the score is the share of the query explained, weighted by the share
    of the label covered, and cut again by the share of the query left unexplained: "about" ->
    "About phone" 0.9, "bluetoth" -> "Bluetooth" 0.88, "Forgot password" -> "Password" 0.25 and
    "Google sign in" -> "Sign in" 0.44 (words the label does not explain: something else is meant);
    an unexplained GENERIC word counts a tenth ("bluetooth connection" -> "Bluetooth" 0.91). Numbers must agree:
    "item 2" never names "Item 12".
    """
    q, lab = canonical(query), canonical(label)
    if not q or not lab:
        return 0.0
    if q == lab:
        return 1.0
    if _digits(q) and _digits(q) != _digits(lab):
        return 0.0
    if _squash(q) == _squash(lab):
        return 0.97
    q_words, l_words = q.split(), lab.split()
    explained = [max(word_likeness(w, other) for other in l_words) for w in q_words]
    weights = [0.1 if value == 0 and w in GENERIC else 1.0 for w, value in zip(q_words, explained, strict=True)]
    covered = [max(word_likeness(w, other) for other in q_words) for w in l_words]
    share = sum(value * weight for value, weight in zip(explained, weights, strict=True)) / sum(weights)
    unexplained = sum(weight for value, weight in zip(explained, weights, strict=True) if value == 0 and weight == 1)
    unexplained /= sum(weights)
    score = share * (1 - unexplained) * (0.8 + 0.2 * sum(covered) / len(covered))
    if len(q_words) == 1:
        score = max(score, word_likeness(_squash(q), _squash(lab)) * 0.97)
    if len(q) >= 5 and _digits(q) == _digits(lab):
        whole = fuzz.ratio(_squash(q), _squash(lab)) / 100
        if whole >= 0.85:
            score = max(score, 0.92 * whole)
    return min(score, 0.96)


# Verbs with a typo ------------------------------------------------------------------------


KEYWORDS = frozenset(
    VERBS
    + _split(
        "back home enter screenshot screen field button switch item password email visible shown displayed error "
        "greeting please there with into then from down left right"
    )
)
"""What `correct_words` corrects to: the words the grammar is made of."""
COMMON = frozenset(
    _split(
        "top bottom left right up down upper lower middle first second third last next previous one two three all both "
        "each every some any this that these those it its my your our their to of in at by from as is are be no not "
        "new "
        "old for and or but the then than when what which who how why where with without into onto form fields items "
        "buttons switches screens list row icon link tab box menu page view main only same other more less again once "
        "twice now here there text label title name value data state app apps phone device wifi mode dark light theme "
        "about model version demo welcome invalid sure make like just also still even very much many few lot user "
        "name names code number address account profile search submit cancel save delete edit add done continue "
        "register forgot reset help info more less login logout settings setting option options home work test "
        "android mobile data theme mode view show hide open close from over under above below near next beside "
        "current other another same different whole full empty blank clean fresh again back theres thats along"
    )
)
"""Words `correct_words` leaves alone, though one slip from a keyword ("top" is not "stop")."""


def correct_words(clause: str, keep: frozenset[str] = frozenset()) -> str | None:
    """The clause with each word that is one slip from exactly one keyword replaced by it ("tunr" -> "turn",
    "hoem" -> "home"), or None when there is none. Words in `keep` (on the screen) stay as they are."""
    words = clause.split(" ")
    changed = False
    for n, said in enumerate(words):
        word = said.rstrip(":,")  # "emial:" is "email:"
        tail = said[len(word) :]
        lower = word.lower()
        if lower in _SHORT_SLIPS:
            words[n], changed = _SHORT_SLIPS[lower] + tail, True
            continue
        if lower in KEYWORDS or lower in COMMON or lower in keep or not lower.isalpha() or _inflected(lower):
            continue
        if len(lower) < 3:
            continue
        near = {keyword for keyword in KEYWORDS if word_likeness(lower, keyword) >= 0.9}
        if near in ({"sign", "signin"}, {"log", "login"}):
            # "sigin", "logn": one verb either way ("sigin in": the verb of "sign in")
            following = words[n + 1].lower() if n + 1 < len(words) else ""
            near = {min(near, key=len) if following == "in" else max(near, key=len)}
        if not near and n == 0 and len(lower) >= 4:
            # the clause's first word, one letter off a verb ("opem", "clck"): the verb, when only one is that near
            near = {verb for verb in VERBS if len(verb) == len(lower) and word_likeness(lower, verb) >= 0.7}
        if not near and n == 0 and len(lower) >= 3:
            # ... or one letter short of one ("sgn out", "opn settings")
            near = {verb for verb in VERBS if len(verb) == len(lower) + 1 and OSA.distance(lower, verb) == 1}
        if len(near) == 1:
            words[n], changed = near.pop() + tail, True
    return " ".join(words) if changed else None


def _inflected(word: str) -> bool:
    """Whether a word is a keyword with an ending ("shows", "appears", "tapped"): said right, not a slip."""
    return any(word.endswith(end) and word[: -len(end)] in KEYWORDS for end in ("s", "es", "ed", "d", "ing"))


def _bare_password(m: re.Match[str]) -> str:
    """ "a@b.c and secret": the second word is a password unless it is a word of the grammar ("a@b.c, then …")."""
    word = m["pw"].lower()
    return m[0] if word in VERBS or word in COMMON else f"{m['email']} with password {m['pw']}"
