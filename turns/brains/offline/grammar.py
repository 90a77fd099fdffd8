"""One clause of English -> one intent: what to do, to which element, with which text.

Each rule is a regular expression over the whole (masked) clause, tried in order; the
first that matches and whose builder accepts it wins. Nothing here looks at the screen:
the planner decides whether a terse clause ("wifi off", "item 5") names something there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.steps import KEYS

from .known import app_package, known_element
from .words import CLOSE, NUMBER, OPEN, TIMES, UNIT, number, to_ms


@dataclass
class Intent:
    kind: str
    """login, credentials, screenshot, sleep, wait_for, ask, toggle, check_state, field_check, assert, assert_not,
    dismiss, key, open, restart, stop, long_press, type, clear, backspace, scroll_to, scroll_edge, swipe, scroll, tap,
    back_to, unsupported, duration."""
    target: str = ""
    text: str = ""
    on: bool | None = None
    ms: int | None = None
    direction: str = ""
    fresh: bool = False
    point: tuple[int, int] | None = None
    end: tuple[int, int] | None = None
    times: int = 1
    inherited: bool = False
    """The clause had no verb and borrowed the previous one's."""
    terse: bool = False
    """The clause has no verb at all ("wifi off", "item 5"): it must name something the planner can see or knows."""
    form: str = ""
    """How a following clause without a verb borrows this one's ("fill A with x, B with y")."""
    pronoun: bool = False
    """The target was "it", "that" … with nothing before it to stand for."""
    explicit: bool = False
    """The direction was said ("scroll up to …"), not assumed; of a check, a value was said ("the model is X"):
    it is looked for as written, not by a likeness or an alias ("Login" is not "Sign in" there)."""
    says: bool = False
    """Of a check, the text was said after "says", "reads" …: as written too, but it may be a label and its value
    ("it says Android version 14")."""

    @property
    def verb(self) -> str:
        """What a following clause without a verb of its own inherits ("tap A and B")."""
        if self.form:
            return self.form
        if self.kind == "toggle":
            return {True: "turn on ", False: "turn off ", None: "toggle "}[self.on]
        return _VERBS.get(self.kind, "")


_VERBS = {
    "tap": "tap ",
    "long_press": "long press ",
    "assert": "verify ",
    "assert_not": "verify there is no ",
    "type": "type ",
    "stop": "close ",
    "open": "open ",
    "scroll_to": "scroll to ",
    "wait_for": "wait for ",
    "clear": "clear ",
}

N = rf"(?P<n>{NUMBER})\s*(?P<unit>{UNIT})"
POINT = (
    r"(?:(?:the\s+)?(?:coordinates?|coords|position|point|location|pixel)\s+)?\(?\s*(?:x\s*[=:]?\s*)?(?P<{0}x>\d+)\s*"
    r"(?:[,x ]|,\s*y\s*[=:]?)\s*(?:y\s*[=:]?\s*)?(?P<{0}y>\d+)\s*\)?"
)
VERIFY = (
    r"(?:make\s+sure|ensure|verify|check(?:\s+and\s+see)?|double[\s-]*check|assert|confirm|validate|expect|read|"
    r"see\s+(?:if|whether)|test(?:\s+that)?|look\s+(?:and\s+see\s+)?(?:if|whether)|"
    r"(?:tell|show)\s+me\s+(?=if|whether)|let\s+me\s+know\s+(?=if|whether)|find\s+out\s+(?=if|whether))\s*"
    r"(?:that\s+|if\s+|whether\s+|for\s+(?:the\s+presence\s+of\s+)?)?"
)
TAP = (
    r"(?:tap|click|press|hit|smash|select|choose|pick|touch|push|poke|prod|focus(?:\s+on)?|click\s+into|tap\s+into|"
    r"use)"
)
PRONOUNS = (
    "it",
    "that",
    "this",
    "them",
    "that one",
    "this one",
    "the same",
    "the same one",
    "there",
    "here",
    "in there",
    "the other one",
    "the other",
    "another one",
    "the one",
    "one",
)
_KEY_NAMES = {name.replace("_", " "): name for name in KEYS} | {
    "return": "enter",
    "backspace": "del",
    "back space": "del",
    "delete": "del",
    "recent apps": "app_switch",
    "recents": "app_switch",
    "app switcher": "app_switch",
    "overview": "app_switch",
    "volume +": "volume_up",
    "volume -": "volume_down",
    "vol up": "volume_up",
    "vol down": "volume_down",
    "spacebar": "space",
}
KEY = "|".join(re.escape(name) for name in sorted(_KEY_NAMES, key=len, reverse=True))
_FRESH = (
    r"(?P<fresh>,?\s+(?:fresh|freshly|clean|from\s+scratch|(?:with|from)\s+a\s+(?:fresh\s+start|clean\s+slate)|"
    r"(?:from|in|with)\s+a\s+(?:clean|fresh|cleared|reset)\s+state|"
    r"with\s+(?:a\s+)?(?:clean|fresh|cleared|empty|reset)\s+(?:state|data|slate|storage)|"
    r"with\s+(?:its\s+|the\s+|all\s+)?(?:app\s+)?(?:data|state|storage)\s+(?:cleared|wiped|reset|erased)|"
    r"(?:after\s+)?(?:clearing|wiping|resetting)\s+(?:its\s+|the\s+|all\s+)?(?:app\s+)?(?:data|state|storage)|"
    r"and\s+clear\s+(?:its\s+|the\s+)?(?:app\s+)?(?:data|state)))?"
)
_CURRENT_APP = r"(?:the|this|current|that)\s+app(?:lication)?|the\s+current\s+app(?:lication)?|it|this|app"

Builder = Callable[[re.Match[str]], Intent | None]
_RULES: list[tuple[re.Pattern[str], Builder]] = []


def rule(*patterns: str) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        _RULES.extend((re.compile(pattern, re.I), build) for pattern in patterns)
        return build

    return register


def parse(clause: str) -> Intent | None:
    """The intent of one clause, or None when no rule understands it."""
    times = 1
    repeat = re.search(
        r"\s+(?P<t>once|twice|thrice|(?P<n>\d+|two|three|four|five)\s*(?:times|x)|x\s*(?P<x>\d+))(?:\s+in\s+a\s+row)?$",
        clause,
        re.I,
    )
    if repeat:
        times = TIMES.get(repeat["t"].lower()) or int(number(repeat["n"] or repeat["x"]))
        clause = clause[: repeat.start()]
    elif middle := re.search(
        r"\s+(?P<t>once|twice|thrice|(?P<n>\d+|two|three|four|five)\s*times)(?=\s+(?:in|on|into|from|of)\s+\S+(?:\s+\S+){0,2}$)",
        clause,
        re.I,
    ):
        times = TIMES.get(middle["t"].lower()) or int(number(middle["n"]))
        clause = clause[: middle.start()] + clause[middle.end() :]
    for pattern, build in _RULES:
        match = pattern.fullmatch(clause)
        if match and (intent := build(match)):
            intent.times = times * intent.times
            return intent
    return None


def _ms(match: re.Match[str], n: str = "n", unit: str = "unit") -> int | None:
    return to_ms(match[n], match[unit]) if match[n] else None


# What no step can do ---------------------------------------------------------------------------

_CHECK_LEAD = r"check|verify|make\s+sure|ensure|confirm|assert|see\s+if|test|validate|double[\s-]*check"

_UNSUPPORTED = {
    r"(?:un-?install|install|download|update|upgrade|sideload)\s+.+": "install, update or uninstall apps",
    r"(?:delete|remove|get\s+rid\s+of)\s+(?:the\s+|this\s+)?app(?:lication)?(?:\s+.*)?|"
    r"(?:delete|remove|get\s+rid\s+of)\s+(?:the\s+|this\s+)?(?:settings|login\s+demo|demo|[\w-]+)\s+app(?:lication)?": (
        "uninstall apps"
    ),
    r"(?:re-?boot|restart|power\s+(?:off|down|on|cycle)|shut\s*down|switch\s+off|turn\s+off|unlock|lock)\s+"
    r"(?:the\s+)?(?:phone|device|emulator|screen|handset)": "restart, lock or power off the phone",
    r"rotate.*|(?:switch|change|go|turn)\s+(?:it\s+|the\s+(?:phone|screen)\s+)?(?:to\s+)?(?:landscape|portrait).*": (
        "rotate the screen"
    ),
    r"(?:zoom|pinch|spread).*": "zoom or pinch",
    r"(?:call|dial|ring|facetime|phone)\s+(?!field).+|send\s+(?:a|an|the|my)?\s*(?:sms|text|message|email|e-mail|mail)"
    r".*|send\s+.+\s+(?:a|an)\s+(?:sms|text|message|email)": "call or message people",
    r"(?:copy|paste|select\s+all|highlight)(?:\s+.*)?|cut(?:\s+(?:the\s+)?(?:text|it|this|that|all|word|words)\b.*)?": (
        "copy and paste"
    ),
    r"(?:record|film)\s+.*|(?:take|make|capture|start|begin)\s+(?:a\s+|the\s+)?(?:video|recording|screen\s*recording)"
    r"(?:\s+.*)?": "record video",
    r"(?:make|place|start|do|give)\s+(?:a\s+|an\s+)?(?:phone\s+|video\s+|voice\s+)?call(?:\s+.*)?": (
        "call or message people"
    ),
    r"shake.*": "shake the phone",
    r"(?:set|create|add|make|schedule|start|book)\s+(?:an?\s+|the\s+|my\s+|new\s+)*(?:alarm|timer|reminder|calendar\s+event|event|"
    r"appointment|meeting|countdown|stopwatch)s?(?:\s+.*)?|wake\s+me\s+up(?:\s+.*)?|remind\s+me\s+.+": (
        "set alarms, timers or reminders"
    ),
    r"translate\s+.+": "translate text",
    r"(?:clear|wipe|empty|flush|free\s+up)\s+(?:the\s+|all\s+(?:the\s+)?)?(?:(?:phone|device|system|android)(?:'s)?\s+)?"
    r"(?:cache|caches|memory|ram|storage)": "clear the phone's cache or memory",
    r"(?:take|snap|shoot)\s+(?:a\s+|some\s+|an?\s+)?(?:photo|photograph|selfie|pic|picture)s?"
    r"(?!\s+of\s+(?:what(?:'s|\s+is)\s+on\s+)?(?:the\s+|this\s+|that\s+|my\s+)?(?:screen|page|display|it|this|that|app)\b)"
    r"(?:\s+.*)?": "take photos",
    r"scan\s+.+": "scan codes or documents",
    r"(?:turn|switch|power|shut)\s+(?:the\s+)?(?:phone|device|emulator|handset)\s+(?:off|down)": (
        "restart, lock or power off the phone"
    ),
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+)?)?.+?\s+(?:has|have|contains?|shows?|lists?|displays?)\s+(?:exactly\s+|only\s+)?\d+\s+"
    r"(?:items|rows|entries|elements|switches|fields|buttons|options|things)": (
        "count elements (I can check that one is or is not shown)"
    ),
    r".+\s+(?:out\s+loud|aloud|(?:out|back)\s+to\s+(?:me|us))(?:\s+.*)?|(?:speak|dictate)\s+.+": (
        "speak or read things aloud"
    ),
    r"(?:run|execute)\s+(?:the\s+|an?\s+)?(?:adb|shell|command|script|terminal)\b.*|adb\s+.+": "run shell commands",
    # "tell me the Android version", "tell me which item is at the bottom": a value to report ("tell me if X is on"
    # checks it)
    r"(?:tell|give)\s+(?:me|us)\s+(?!if\b|whether\b|how\s+to\b)(?:what|which|the|how|who|when|where)\b.+|"
    # "tell me whether X is on", "tell me if X is on or off": a state to report ("tell me if X is on" checks it)
    r"(?:tell|let)\s+(?:me|us)(?:\s+know)?\s+(?:whether\s+.+|if\s+.+\s+or\s+(?:not|off|on|disabled|enabled|hidden|shown)\b.*)|"
    r"report\s+(?:back\s+)?(?:the|what|which|how)\b.+": (
        "tell you what the screen shows (I can check that something is or is not shown)"
    ),
    r"(?:answer|pick\s+up|accept|decline|reject|ignore|hang\s+up|end)\s+(?:the\s+|an?\s+|this\s+)?(?:incoming\s+)?"
    r"(?:phone\s+|video\s+)?call(?:\s+.*)?|hang\s+up": "call or message people",
    r"(?:set|change|adjust|update|move)\s+(?:the\s+)?(?:phone'?s\s+|device'?s\s+|system\s+)?"
    r"(?:clock|time|date|time\s*zone|timezone)(?:\s+.*)?": "set the phone's clock or date",
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?(?!nothing\b|no\b).+?\s+(?:is|are|looks?|should\s+be|must\s+be)\s+"
    r"(?:not\s+)?(?:coloured\s+|colored\s+|in\s+)?(?:red|blue|green|yellow|orange|purple|pink|grey|gray|black|white|bold|italic|"
    r"underlined|centered|centred|aligned|bigger|smaller|larger|big|small|round(?:ed)?|highlighted\s+in\s+\w+)"
    r"(?:\s+.*)?|(?:make|turn|paint|colou?r|change)\s+.+?\s+(?:to\s+)?(?:red|blue|green|yellow|orange|purple|pink|grey|gray|"
    r"black|white|bold|italic|bigger|smaller|larger)": (
        "check colours, fonts, sizes or positions (I can check that a text is or is not shown)"
    ),
    r"(?:(?:check|verify|make\s+sure|ensure|confirm|assert)\s+(?:that\s+)?)?(?:there\s+(?:are|is|should\s+be)\s+)?"
    r"(?:no\s+more\s+than|at\s+least|at\s+most|exactly|fewer\s+than|more\s+than|less\s+than|only)\s+\d+\s+.+|"
    r"(?:count|number\s+of)\s+(?:the\s+)?.+": "count elements (I can check that one is or is not shown)",
    r"swipe\s+(?:up\s+)?to\s+unlock.*|(?:unlock|lock)\s+(?:it|the\s+(?:phone|device|screen))": (
        "lock or unlock the phone"
    ),
    r"(?:set|change|adjust)\s+(?:the\s+)?(?:media\s+|ringer\s+)?volume\s+(?:to|at)\s+.+|"
    r"(?:un)?mute(?:\s+.*)?|silence\s+.+": ("set the volume to a level or mute it (I can press the volume keys)"),
    r"(?:e-?mail|text|message|mail|send|share|forward|airdrop)\s+(?:it|this|that|them|the\s+[\w\s-]+?|item\s+\d+)\s+"
    r"(?:to|with)\s+.+": "share or send things to people",
    r"(?:factory[\s-]*reset|wipe|erase|format)\s+(?:the\s+)?(?:phone|device|emulator)": "reset the phone",
    r"(?:check|verify|make\s+sure|ensure|confirm|assert)\s+(?:that\s+)?(?:the\s+)?"
    r"(?!.+\s(?:screen|page|view)\s+(?:is|are)\s+(?:still\s+)?open$)"  # "the About page is open": that page shown
    r".+?\s+(?:is|are|isn't|aren't|is\s+not|are\s+not)\s+(?:still\s+)?(?:empty|blank|"
    r"filled(?:\s+in)?|cleared|focused|greyed\s+out|highlighted|installed|uninstalled|running|closed|open|"
    r"in\s+the\s+background)": ("check a field's value or an element's state, only what text is shown"),
    # "check that signing in takes less than 2 seconds", "sign in should be fast": no step measures time
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?(?!wait\b).+?\s+(?:should\s+|must\s+|will\s+|does\s+|did\s+)?"
    r"(?:takes?|took|taking|loads?|loaded|happens?|happened|finish(?:es|ed)?|completes?|completed|starts?|started|opens?|"
    r"opened|responds?|responded|runs?|ran|is\s+done|appears?|appeared|shows?\s+up|showed\s+up)\s+(?:in\s+)?"
    r"(?:less\s+than|under|within|faster\s+than|no\s+more\s+than|no\s+longer\s+than|at\s+most|below)\s+"
    r"(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|ten|half\s+a)\s*(?:ms|milliseconds?|s|secs?|seconds?|minutes?|mins?)\b.*|"
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?.+?\s+(?:is|are|was|were|should\s+be|must\s+be|"
    r"(?:should|must|will|does|did)(?:\s+not|n't)?\s+(?:be\s+)?|(?:starts?|loads?|opens?|responds?|runs?|works?|happens?|"
    r"finishes|completes|signs?\s+in|logs?\s+in)\s+)(?:fast|quick|quickly|slow|slowly|snappy|responsive|laggy|"
    r"instant(?:aneous)?|instantly|speedy|sluggish|performant)(?:\s+enough)?(?:\s+.*)?|"
    r"(?:measure|benchmark|profile|time)\s+(?:how\s+(?:long|fast|quickly)|the\s+(?:time|duration|speed|latency))\s+.+|"
    r"(?:measure|benchmark|profile)\s+.+|how\s+(?:long|fast|quickly)\s+(?:does|did|will|do)\s+.+": (
        "measure how long something takes (I can wait for something to appear, up to a time)"
    ),
    # "make sure the password is hidden / masked": how a field shows its text is no step's to read
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?(?:the\s+|my\s+)?(?:password|passcode|pin)"
    r"(?:\s+(?:text|characters?|value|input|entry))?(?:\s+(?:field|box|input))?\s+"
    r"(?:is|are|was|stays?|remains?|gets?|should|must|will|does|did|has|have)?(?:\s*n't|\s+not)?\s*(?:be\s+|been\s+|stay\s+|remain\s+)?"
    r"(?:still\s+)?(?:masked|obscured|dotted|starred|encrypted|obfuscated|concealed|unmasked|revealed|"
    r"(?:shown|displayed|visible|readable|rendered)\s+(?:as\s+(?:dots|stars|bullets|asterisks)|in\s+(?:plain\s*text|clear(?:\s*text)?|"
    r"the\s+clear))|in\s+(?:plain\s*text|clear\s*text)|plain\s*text|(?:shown\s+)?as\s+(?:dots|stars|bullets|asterisks))(?:\s+.*)?|"
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?(?:the\s+|my\s+)?(?:password|passcode|pin)"
    r"(?:\s+(?:text|characters?|value|input|entry))?\s+(?:is|are|was|stays?|remains?|should\s+be|must\s+be|gets?)\s+"
    r"(?:still\s+)?(?:hidden|secret|private)(?:\s+.*)?|"
    rf"(?:(?:{_CHECK_LEAD})\s+(?:that\s+|whether\s+|if\s+)?)?(?:the\s+|my\s+)?(?:password|passcode|pin)\s+(?:field|box|input)\s+"
    r"(?:hides|masks|obscures|conceals|dots\s+out|shows|displays)\s+"
    r"(?:what|the\s+(?:text|characters|password)|my|it).*": (
        "read a field's value or how it shows its text, only what text is shown"
    ),
    r"(?:drag|move)\s+(?!(?:from\s+)?\(?\s*\d).+\s+(?:to|onto|into|over)\s+.+": (
        "drag one element onto another (a swipe between two points can)"
    ),
    r"what\s+time(?:\s+is\s+it)?(?:\s+.*)?|what\s+day\s+is\s+(?:it|today)|what'?s\s+the\s+(?:time|date)(?:\s+now)?|"
    r"(?:check|verify|read|get|tell\s+me|what\s+is|what's)\s+(?:the\s+)?(?:battery|signal|time|date|cpu|memory|"
    r"network\s+speed).*|(?:check|verify|read|get|tell\s+me)\s+(?:the\s+|my\s+)?(?:weather|forecast|temperature|news|stocks?|"
    r"traffic).*": "read the phone's status or the news",
    r"(?:open|pull\s+down|show|expand)\s+(?:the\s+)?(?:notification|notifications|notification\s+shade|quick\s+settings)"
    r"(?:\s+(?:shade|panel|bar|drawer))?|"
    r"(?:clear|dismiss|swipe\s+away|read)\s+(?:all\s+)?(?:the\s+|my\s+)?notifications?": (
        "open or clear the notifications"
    ),
    r"(?:what|how\s+many|how\s+much|why|when|where|who|which\s+\w+\s+(?:is|are))\b(?!.*\b(?:tap|open|type|turn)\b)"
    r"(?=.*\b(?:screen|page|list|switch(?:es)?|items?|buttons?|fields?|shown|visible|there|says?|show|display)\b).*": (
        "answer questions about the screen (I can check that something is or is not shown)"
    ),
    r"(?:go\s+to|open|visit|browse(?:\s+to)?|navigate\s+to|load|search\s+(?:for|on))\s+(?:the\s+)?(?:website\s+|site\s+|url\s+|web\s*page\s+)?"
    r"(?:https?://\S+|www\.\S+|(?!(?:com|org|net|android|io)\.)[\w-]+\.(?:com|org|net|io|dev|co|uk|de|fr|edu|gov|info)(?:/\S*)?)"
    r"|(?:search\s+(?:the\s+)?(?:web|internet|google)|google)\b.*": "browse the web",
    r"(?:what|which|how\s+many|how\s+much|who|why)\b(?!.*\b(?:tap|open|type|turn|press|click|scroll)\b).*\b(?:apps?|installed|"
    r"version|model|phone|device|on|off|enabled|disabled|there|here)\b.*": (
        "answer questions (I can check that something is or is not shown)"
    ),
    r"(?:delete|remove|edit|rename|sort|filter|reorder|rearrange|like|unlike|favou?rite|star|bookmark|pin|archive|duplicate|"
    r"refresh|reload)\s+(?:the\s+|this\s+|that\s+|an?\s+|my\s+|all\s+(?:the\s+)?)?"
    r"(?:(?:first|second|third|last|top|bottom|new|\d+(?:st|nd|rd|th))\s+)?"
    r"(?:items?|rows?|list|entry|entries|greeting|page|screen|feed|content)(?:\s+.*)?|"
    r"add\s+(?:a\s+|an\s+|another\s+|one\s+more\s+)?(?:new\s+)?(?:items?|rows?|entry|entries|widget)(?:\s+.*)?|"
    r"swipe\s+.+\s+to\s+(?:delete|remove|dismiss|archive)(?:\s+.*)?|"
    r"(?:mark|flag)\s+.+\s+as\s+(?:a\s+|an\s+)?(?:favou?rite|read|unread|done|completed?|important|spam|starred)|"
    r"(?:add|save)\s+.+\s+to\s+(?:my\s+|the\s+)?(?:favou?rites|bookmarks|wish\s*list|cart|basket)": (
        "delete, edit, add, sort or refresh what an app lists"
    ),
    r"(?:rate|share|send|upload|download|print|sync|backup|export|import)\s+.*": (
        "rate, share, print or transfer things"
    ),
}


@rule(
    rf"(?:{VERIFY})?(?:the\s+)?(?P<target>(?!.*\b(?:screen|page|list|app|switch|toggle)\b).+?)\s+(?:is|are|should\s+be|must\s+be|"
    r"stays?|remains?|(?:should|must)\s+(?:stay|remain)|(?P<neg2>isn't|aren't|(?:should|must)(?:n't|\s+not)\s+be))\s+"
    r"(?:still\s+)?(?P<neg>not\s+|no\s+longer\s+)?(?:both\s+|all\s+)?(?:still\s+)?"
    r"(?:empty|blank)(?:\s+(?:now|again|still|any\s*more))?",
)
def _field_empty(m: re.Match[str]) -> Intent:
    """ "verify the email field is empty", "both fields should be blank": what the field shows is checked."""
    return Intent("field_check", target=m["target"], on=not (m["neg"] or m["neg2"]))


_A_FIELD = (
    r"(?:the\s+)?(?P<target>e-?mail(?:\s+address)?|password|username|user\s+name|[\w-]+(?=\s+(?:field|box|input)\b))"
    r"(?:\s+(?:field|box|input))?"
)


@rule(
    rf"(?:{VERIFY})?(?P<value>\S+)\s+is\s+(?:still\s+|now\s+)?(?:in|inside|typed\s+in(?:to)?|entered\s+in(?:to)?|filled\s+in)\s+"
    rf"{_A_FIELD}",
    rf"(?:{VERIFY})?{_A_FIELD}\s+(?:still\s+|now\s+)?(?:has|holds|contains|shows|reads|says|should\s+(?:have|hold|contain|show|read|say))\s+"
    r"(?P<value>\S+)(?:\s+in\s+it)?",
)
def _field_holds(m: re.Match[str]) -> Intent:
    """ "verify demo@example.com is in the email field", "the email field has x in it": what the field shows."""
    if re.fullmatch(r"something|anything|text|stuff|content|data", m["value"], re.I):
        return Intent("field_check", target=m["target"], on=False)  # "… has something in it": not empty
    return Intent("field_check", target=m["target"], text=m["value"], on=True)


@rule(*_UNSUPPORTED)
def _unsupported(m: re.Match[str]) -> Intent:
    clause = m[0]
    what = next(why for pattern, why in _UNSUPPORTED.items() if re.fullmatch(pattern, clause, re.I))
    return Intent("unsupported", text=what)


# Signing in ------------------------------------------------------------------------------------

_LOGIN_VERB = (
    r"(?:log(?:ging)?[\s-]*(?:me\s+)?(?:back\s+)?in(?:to)?|sign(?:ing)?[\s-]*(?:me\s+)?(?:back\s+)?in(?:to)?|login|signin|log\s+on(?:to)?|"
    r"sign\s+on(?:to)?|"
    r"auth(?:enticate)?|retry|try\s+again|re-?try\s+(?:the\s+)?(?:login|sign[\s-]*in))"
    r"(?:\s+(?:properly|correctly|again|this\s+time|now|successfully))*"
)
_APP_WORDS = (
    r"(?:\s+again)?(?:\s+(?:to|into|on))?(?:\s+(?:the\s+)?(?:login\s+demo|demo|login\s+app|demo\s+app|app|account))?"
)
_PASSWORD = (
    r",?\s+(?:(?:with|and|using)\s+)?(?:(?:the|a|an|my)\s+)?(?:(?:wrong|bad|invalid|incorrect|fake)\s+)?"
    r"(?:password|passcode|pw|pass)\b\s*(?:of\s+|is\s+|=\s*|:\s*)?"
    r"(?P<pw>\S+)"
)
_ACCOUNT = (
    r"(?:(?:the\s+|my\s+|a\s+)?(?:\w+\s+)?(?:email|e-mail|user(?:name)?|account|login|user\s+name|address)"
    r"(?:\s+address)?\s+)?"
)


@rule(
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:as|with|using|for)\s+{_ACCOUNT}(?!(?:the|my|a|an|your|our)\s)(?P<email>\S+?){_PASSWORD}",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+{_ACCOUNT}(?P<email>\S+@\S+?){_PASSWORD}",
    rf"(?:use|using)\s+{_ACCOUNT}(?P<email>\S+?){_PASSWORD}\s+to\s+{_LOGIN_VERB}{_APP_WORDS}",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s*:\s*(?P<email>\S+?){_PASSWORD}",
)
def _login(m: re.Match[str]) -> Intent:
    return Intent("login", target=m["email"], text=m["pw"])


@rule(
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:(?:as|with|using|for)\s+)?{_ACCOUNT}(?P<email>\S+@\S+?)"
    r"(?:\s*[,/:]\s*|\s+(?:and|with|using|/)\s+|\s+)(?!password\b|pw\b|pass\b)(?P<pw>\S+)",
)
def _login_pair(m: re.Match[str]) -> Intent:
    """ "sign on as a@b.c with secret", "signin a@b.c secret": an email, then the password without its name."""
    return Intent("login", target=m["email"], text=m["pw"])


@rule(
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:as|with|using|for)\s+{_ACCOUNT}(?P<email>\S+@\S+|[\w.-]+)"
    r"(?:\s+(?:with|and|using)\s+(?:(?:the|a|my)\s+)?(?:password|pw|passcode|pass))?"
)
def _login_no_password(m: re.Match[str]) -> Intent | None:
    if re.fullmatch(r"(?:my|the|your|our|a|an|it|them)", m["email"], re.I):
        return None
    if "@" not in m["email"] and re.search(r"\s(?:with|using)\s", m[0], re.I):
        return Intent("tap", target=m[0])  # "sign in with Google": a button of its own
    return Intent("login", target=m["email"])


@rule(
    r"(?:attempt|try|make)\s+(?:a\s+|an\s+)?(?:login|log(?:ging)?[\s-]*in|sign(?:ing)?[\s-]*in)(?:\s+attempt)?\s+(?:with|using)\s+"
    r"(?:a\s+|an\s+|some\s+|the\s+)?(?:wrong|bad|invalid|incorrect|fake|random|made[\s-]up)\s+(?:\w+\s+)?"
    r"(?:password|credentials|creds|email|details|account|login|info|data)",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using)\s+(?:a\s+|an\s+|some\s+|the\s+)?(?:wrong|bad|invalid|incorrect|fake|random)"
    r"\s+(?:\w+\s+)?(?:password|credentials|creds|email|details|account|login|info|data)",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using|as)\s+(?:my|the|your|our|a|an)\s+(?!(?:empty|blank)\b)(?:\w+\s+)?"
    r"(?:credentials|account|details|login|user|password|creds|email|e-mail|username|address|ones|info)",
    rf"{_LOGIN_VERB}{_APP_WORDS}(?:\s+(?:now|again|please|then))?",
    r"(?:try|retry)(?:\s+(?:it|that))?(?:\s+(?:again|once\s+more))?",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+as\s+(?:the|an?|my|our|some)\s+[\w-]+(?:\s+(?:user|account|one))?",
)
def _login_unknown(m: re.Match[str]) -> Intent | None:
    only_verb = re.fullmatch(rf"{_LOGIN_VERB}(?:\s+(?:now|again|please|then))?", m[0], re.I)
    if app_package(m[0], strict=True) and not only_verb:
        return None  # "login demo": the app's name, not a sign-in
    if re.search(_ANOTHER_ACCOUNT, m[0], re.I) or re.search(
        r"\b(?:wrong|bad|invalid|incorrect|fake|random)\b", m[0], re.I
    ):
        # "sign in with the other account", "… with a wrong password": not the one typed, so asked
        return Intent("login", form="another")
    return Intent("login")


_ANOTHER_ACCOUNT = (
    r"\b(?:other|different|another|second|alternate|alternative|backup|usual|correct|right|proper|real|valid|admin)\s+"
    r"(?:\w+\s+)?(?:account|user|login|credentials|creds|details|one|email|profile|ones|password)$"
)


@rule(
    r"(?:(?:type|enter|input|fill\s+in|use|put|key\s+in|with)\s+(?:in\s+)?(?:my\s+|the\s+)?)?"
    r"(?:(?:the\s+|my\s+)?(?:(?:correct|right|valid|proper|demo|test|following)\s+)?"
    r"(?:credentials|creds|login|details|login\s+details)\s*:?\s+)?"
    rf"(?:(?:the\s+|my\s+)?(?:email|e-mail|username|user(?:\s+name)?|login)(?:\s+address)?(?:\s*[:=]\s*|\s+is\s+|\s+))?"
    rf"(?P<email>\S+@\S+|\S+?){_PASSWORD}"
    r"(?:,?\s+(?:and\s+|then\s+)?(?P<go>submit|sign\s*in|log\s*in|login|enter|go))?",
    r"(?:(?:type|enter|input|fill\s+in|use|put\s+in)\s+)?(?:the\s+|my\s+)?(?:credentials|creds|login\s+details)\s*:?\s+"
    r"(?P<email>\S+@\S+)\s+(?P<pw>\S+)(?P<go>)",
)
def _credentials(m: re.Match[str]) -> Intent | None:
    """ "email X, password Y" (the sign-in itself follows, or not): type both; "… submit": and sign in."""
    if "@" not in m["email"] and not re.search(r"\b(?:email|e-mail|username|user|login)[\s:=]", m[0], re.I):
        return None
    return Intent("login" if m["go"] else "credentials", target=m["email"], text=m["pw"])


@rule(
    rf"(?:finish\s+|complete\s+)?{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using)\s+(?:the\s+|my\s+)?(?:password|pw|passcode)\s+"
    r"(?:of\s+|is\s+|=\s*|:\s*)?(?P<pw>\S+)",
    rf"(?:finish|complete)\s+(?:the\s+)?{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using)\s+(?P<pw>(?!\S+@)\S+)",
)
def _login_password(m: re.Match[str]) -> Intent:
    """ "sign in with password x" once the email is there: the password, then Sign in."""
    return Intent("login", text=m["pw"])


@rule(
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using)\s+(?:an?\s+|the\s+)?(?:empty|blank|nothing\s+in\s+the)\s+"
    r"(?:form|fields|credentials|details|password|passcode|email|e-mail)(?:\s+field)?",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+without\s+(?:any\s+)?(?:credentials|details|an?\s+\w+|typing|filling|entering).*",
    rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|having)\s+(?:nothing|no\s+(?:credentials|details|input|text|data))"
    r"(?:\s+(?:filled\s+in|filled\s+out|typed(?:\s+in)?|entered|in\s+(?:the\s+)?(?:form|fields)))?",
)
def _login_empty(m: re.Match[str]) -> Intent:
    return Intent("tap", target="sign in")


@rule(rf"{_LOGIN_VERB}{_APP_WORDS}\s+(?:with|using|via|through)\s+(?:[\w-]+\s+){{1,2}}[\w-]+")
def _login_provider(m: re.Match[str]) -> Intent:
    """ "sign in with face id", "log in using your apple account": a button of its own, if the screen has one."""
    return Intent("tap", target=m[0])


# Screenshots, pauses, waits ----------------------------------------------------------------------


@rule(
    r"(?:take|grab|capture|make|save|get|snap)\s+(?P<n>\d+|two|three|four|five)\s+(?:screenshots|screen\s*shots|snapshots)"
)
def _screenshots(m: re.Match[str]) -> Intent:
    return Intent("screenshot", times=int(number(m["n"])))


@rule(
    r"(?:take|grab|capture|make|save|get|snap)(?:\s+(?:a|an|another|one\s+more|the))?\s+(?:screenshot|screen\s*shot|"
    r"snapshot|screen\s+capture|picture|screen\s*grab|capture)(?:\s+of\s+(?:what\s+is\s+on\s+)?(?:the\s+|this\s+)?"
    r"(?:current\s+|whole\s+|entire\s+)?(?:screen|this|it|page|app|display))?",
    # "a screenshot of the About phone page", "screenshot the error": of what the screen shows
    r"(?:(?:take|grab|capture|make|save|get|snap)(?:\s+(?:a|an|another|the))?\s+)?(?:screenshot|screen\s*shot|snapshot)"
    r"(?:\s+of)?\s+(?:the|this|that)\s+(?:[\w-]+\s+){0,3}(?:screen|page|error|message|dialog|list|form|app|view|greeting)"
    r"(?:\s+for\s+.+)?",
    r"screenshot(?:\s+(?:it|this|the\s+screen|again))?|(?:capture|grab|snap|save|record)\s+(?:the\s+|this\s+|a\s+)?screen|"
    r"screen\s*shot|print\s*screen",
)
def _screenshot(m: re.Match[str]) -> Intent:
    return Intent("screenshot")


@rule(
    rf"(?:wait|sleep|pause|hold\s+on|delay|idle|stay)(?:\s+for)?(?:\s+(?:about|around|roughly|another|like|exactly))?\s+{N}"
    r"(?:\s+(?:or\s+so|first|more))?",
    r"(?:wait|pause|hold\s+on)(?:\s+for)?\s+a\s+(?:moment|bit|little|little\s+bit|sec|second|tick)",
    rf"(?:give\s+it|allow|let\s+it\s+(?:load|settle)\s+for)\s+{N}",
)
def _sleep(m: re.Match[str]) -> Intent:
    return Intent("sleep", ms=_ms(m) if "n" in m.re.groupindex else 1000)


@rule(r"(?:wait|pause|sleep|hold\s+on)")
def _sleep_unknown(m: re.Match[str]) -> Intent:
    return Intent("sleep")


_WAIT_TAIL = (
    r"(?:\s+to\s+(?:appear|show(?:\s+up)?|be\s+(?:visible|shown|displayed)|load|come\s+up|pop\s+up))?"
    r"(?:\s+(?:is|becomes|gets|to\s+be)\s+(?:visible|shown|displayed))?(?:\s+(?:appears|shows(?:\s+up)?|loads|is\s+there))?"
)


@rule(
    r"wait\s+(?:for|until|till|til)\s+(?P<target>.+?)\s+(?:to\s+)?(?:disappears?|goes\s+away|go\s+away|vanish(?:es)?|"
    r"is\s+gone|(?:to\s+)?be\s+gone|closes?|is\s+hidden|is\s+no\s+longer\s+(?:shown|visible)|disappear)",
)
def _wait_gone(m: re.Match[str]) -> Intent:
    """ "wait until the error disappears": a check that it is not shown, which waits for it to go."""
    return Intent("assert_not", target=m["target"])


@rule(
    rf"wait(?:\s+(?:up\s+to|at\s+most|max)\s+{N})?\s+(?:for|until|till|til)\s+(?P<target>.+?){_WAIT_TAIL}"
    rf"(?:,?\s+(?:for|up\s+to|within|at\s+most)\s+(?:up\s+to\s+)?(?P<n2>{NUMBER})\s*(?P<unit2>{UNIT}))?",
    rf"wait\s+{N}\s+(?:for|until|till)\s+(?P<target>.+?){_WAIT_TAIL}",
)
def _wait_for(m: re.Match[str]) -> Intent | None:
    if re.fullmatch(r"(?:a\s+)?(?:moment|bit|little|while|second|sec)", m["target"], re.I):
        return None
    ms = _ms(m) if m["n"] else (_ms(m, "n2", "unit2") if "n2" in m.re.groupindex and m["n2"] else None)
    return Intent("wait_for", target=m["target"], ms=ms)


@rule(rf"(?:for|within|up\s+to|at\s+most)\s+{N}")
def _duration(m: re.Match[str]) -> Intent:
    """A time limit said apart from its verb ("wait for the error, for 3 seconds"): the planner attaches it."""
    return Intent("duration", ms=_ms(m))


@rule(r"ask\s+(?:me|the\s+user|the\s+tester|us)(?:\s+(?P<rest>.*))?")
def _ask(m: re.Match[str]) -> Intent:
    rest = (m["rest"] or "").strip()
    if not rest:
        return Intent("ask", text="Please confirm to continue.")
    if match := re.fullmatch(r"(?:for|about)\s+(.+)", rest, re.I):
        prompt = f"Please provide {match[1]}."
    elif match := re.fullmatch(r"to\s+(.+)", rest, re.I):
        prompt = f"Please {match[1]}."
    else:
        prompt = rest[0].upper() + rest[1:] + ("" if rest[-1] in "?.!" else "?")
    return Intent("ask", text=prompt)


# Switches ----------------------------------------------------------------------------------------

_AGAIN = r"(?:\s+(?:again|back|as\s+well|too))?"
# "bluetooth should be on", "wifi must not be off": a state a test expects, checked ("make sure X is on",
# "X needs to be on" make it so)
_EXPECTED = re.compile(r".+?\s(?:should|must|ought\s+to)\b", re.I)


@rule(
    rf"(?:turn|switch|toggle|flip|flick|slide|set|put|power)\s+(?P<state>on|off)\s+(?P<target>.+?){_AGAIN}",
    rf"(?:get|have|leave|keep)\s+(?P<target>.+?)\s+(?:turned|switched|set)\s+(?P<state>on|off){_AGAIN}",
    r"(?:leave|keep)\s+(?P<target>.+?)\s+(?P<state>on|off|enabled|disabled)",
    rf"(?:turn|switch|set|put|toggle|flip|flick|slide|get|have|power|make(?!\s+sure\b))\s+(?P<target>.+?)\s+(?:back\s+)?(?:to\s+)?(?:be\s+)?"
    rf"(?P<state>on|off){_AGAIN}",
    rf"(?:turn|switch|set|put|toggle|flip|get|have)\s+(?P<target>.+?)\s+(?:back\s+)?to\s+(?P<state>enabled|disabled){_AGAIN}",
    rf"(?:re-?)?(?P<state>enable|activate|disable|deactivate)\s+(?P<target>.+?){_AGAIN}",
    r"(?P<state>enable|activate|disable|deactivate)",  # "enable" alone: which? asked
    r"(?:make\s+sure|ensure)\s+(?:that\s+)?(?P<target>.+?)\s+gets?\s+(?:turned|switched|set)\s+(?P<state>on|off)",
    r"(?:make\s+sure|ensure)\s+(?:that\s+)?(?P<target>.+?)(?:\s+is|'s|\s+stays|\s+stayed|\s+remains|\s+remained)"
    r"(?P<neg>\s+not|n't)?\s+(?:still\s+|now\s+)?"
    r"(?:turned\s+|switched\s+|set\s+)?"
    r"(?P<state>on|off|enabled|disabled|activated|deactivated)",
    r"(?:toggle|flip|slide|flick)\s+(?!(?:up|down|left|right)\b)(?P<target>.+)",
    rf"(?:turn|switch|flip|flick)\s+(?P<state>on|off){_AGAIN}",
    r"(?P<connect>connect|reconnect)\s+(?:to\s+)?(?:the\s+)?(?P<target>.+)",
    r"(?P<tick>check|tick|untick|uncheck|select|deselect)\s+(?!(?:that|if|whether|there|for|the\s+(?:page|screen))\b)"
    r"(?:the\s+)?(?P<target>.+?)\s+(?:box|checkbox|check\s+box|option)",
    r"(?P<tick>tick|untick|uncheck|deselect|unselect)\s+(?:the\s+)?(?P<target>.+?)",
    r"(?:the\s+)?(?P<target>.+?)\s+(?:should|must|needs?\s+to|has\s+to|ought\s+to)(?P<neg>\s+not|n't)?(?:\s+still)?\s+be\s+"
    r"(?:still\s+|now\s+)?(?:turned\s+|switched\s+|set\s+)?(?P<state>on|off|enabled|disabled|active|inactive)",
    r"(?:i|we)(?:\s+(?:want|need|would\s+like|wanna)|'d\s+like)\s+(?:the\s+)?(?P<target>.+?)\s+(?:to\s+be\s+)?"
    r"(?:turned\s+|switched\s+)?(?P<state>on|off|enabled|disabled)",
    r"(?:put|set|switch|turn)\s+(?:the\s+)?(?:phone|device)\s+(?:in|into|on|to)(?:\s+the)?\s+(?P<target>.+)",
    r"(?P<off>shut\s+off|shut\s+down|cut|disconnect(?:\s+from)?|kill|stop|cut\s+off)\s+(?:the\s+)?(?P<target>.+?)"
    r"(?:\s+(?:setting|switch|toggle|option))?",
)
def _toggle(m: re.Match[str]) -> Intent | None:
    if "off" in m.re.groupindex:
        # "kill location", "disconnect from wifi": only a switch; "kill the demo app" stops an app
        if app_package(m["target"], strict=False) or re.fullmatch(_CURRENT_APP, m["target"], re.I):
            return None
        return Intent("toggle", target=m["target"], on=False)
    if re.match(r"(?:put|set|switch|turn)\s+(?:the\s+)?(?:phone|device)\b|(?:re)?connect\b", m[0], re.I):
        return Intent("toggle", target=m["target"], on=True)
    if "tick" in m.re.groupindex:
        return Intent("toggle", target=m["target"], on=m["tick"].lower() in ("check", "tick", "select"))
    state = (m["state"] or "").lower() if "state" in m.re.groupindex else ""
    on = None if not state else state in ("on", "enable", "activate", "enabled", "activated", "active")
    if on is not None and m.groupdict().get("neg"):
        on = not on  # "make sure it's not off"
    if on is not None and (_EXPECTED.match(m[0]) or re.match(r"(?:make\s+sure|ensure)\b(?!.*\bgets?\s)", m[0], re.I)):
        # "make sure wifi is on", "X should be on": what a test expects is checked (it fails when the switch is
        # not so); "make sure to turn it on", "ensure it gets turned on" set it
        # "bluetooth should be on", "wifi must not be off": what a test expects is checked, never made so
        return Intent("check_state", target=m["target"], on=on, form=state)
    if "target" in m.re.groupindex and m["target"]:
        # "the toggle next to Bluetooth", "the switch for Wi-Fi": the switch of that row
        named = re.fullmatch(
            r"(?:the\s+)?(?:switch|toggle|checkbox|slider)\s+(?:next\s+to|for|of|beside|by|(?:to\s+the\s+)?right\s+of)\s+"
            r"(?P<n>.+)",
            m["target"],
            re.I,
        )
        if named:
            return Intent("toggle", target=named["n"], on=on)
    target = m["target"] if "target" in m.re.groupindex else "it"
    return Intent("toggle", target=target, on=on)


@rule(
    r"switch\s+(?:over\s+)?to\s+(?P<target>.+)",
    r"(?:go|get|enter|put\s+(?:it|the\s+(?:phone|device))|engage)\s+(?:into\s+|in\s+to\s+|to\s+|in\s+)?(?P<target>.+?\s+(?:mode|theme))",
)
def _switch_to(m: re.Match[str]) -> Intent | None:
    """ "switch to dark mode", "go into flight mode": that switch on; "switch to Settings": the app (`_open`)."""
    target = re.sub(r"^the\s+", "", m["target"], flags=re.I)
    if not known_element(target, package=None, kinds=("switch",)):
        return None
    return Intent("toggle", target=target, on=True)


@rule(
    r"(?:set|adjust|configure|switch|flip|change|modify)\s+(?!.*\b(?:to|on|off|with|as|into)\b)(?:the\s+)?(?P<target>.+?)"
    r"(?:\s+(?:setting|switch|toggle|option))?"
)
def _set_unknown(m: re.Match[str]) -> Intent:
    """ "set wifi": a switch named without on or off (the planner asks which); "set the email": its value."""
    if re.fullmatch(rf"(?:the\s+|my\s+)?(?:{_FIELD_WORDS})(?:\s+(?:field|box|address))?", m["target"], re.I):
        return Intent("type", target=m["target"], text="")
    if m["target"].lower() in PRONOUNS:
        return Intent("toggle", target=m["target"])  # "switch it": which switch is asked
    return Intent("tap", target=m["target"], terse=True)


@rule(
    r"(?P<verb>confirm|accept|approve|ok|dismiss|cancel|close)\s+(?:the\s+|this\s+|that\s+)?"
    r"(?:(?P<which>(?!(?:dialog|popup|pop-up|prompt|alert|modal)\b)[\w-]+(?:\s+[\w-]+)?)\s+)?"
    r"(?:dialog|popup|pop-up|prompt|alert|modal)(?:\s+box)?",
    # "dismiss the error": what closes it (a text that nothing closes is not on the screen to tap)
    r"(?P<verb2>dismiss|close)\s+(?:the\s+|this\s+|that\s+)?(?:error|warning)(?:\s+(?:message|banner|toast|snackbar|text))?",
    # "accept the update": the OK of the dialog that says it
    r"(?P<verb>accept|approve)\s+(?:the\s+|this\s+|that\s+)?(?P<which>(?!(?:it|this|that|them)$)[\w-]+(?:\s+[\w-]+)?)",
)
def _dialog(m: re.Match[str]) -> Intent:
    """ "confirm the dialog": its OK button; "dismiss the popup": its Cancel (a question when there are two);
    "dismiss the update dialog": the one below that title."""
    if m.groupdict().get("verb2"):
        return Intent("dismiss", target="the error")
    confirm = m["verb"].lower() in ("confirm", "accept", "approve", "ok")
    if m["which"]:
        return Intent("tap", target=f"{'ok' if confirm else 'dismiss'} on the {m['which']} dialog")
    return Intent("tap", target="ok" if confirm else "cancel")


@rule(
    rf"{VERIFY}(?P<target>.+?)\s+(?:is|are)(?P<neg>\s+not|n't)?\s+(?:currently\s+|still\s+|now\s+)?"
    r"(?:turned\s+|switched\s+|set\s+(?:to\s+)?)?"
    r"(?P<state>on|off|enabled|disabled|checked|unchecked|ticked|unticked|selected|active|inactive)",
    r"(?:(?:tell|show)\s+me|let\s+me\s+know|find\s+out)\s+(?:if|whether)\s+(?P<target3>.+?)\s+(?:is|are)\s+"
    r"(?P<state3>on|off|enabled|disabled|checked|unchecked|active|inactive)(?:\s+or\s+(?:off|on|not))?",
    r"(?:what(?:'s|\s+is)\s+the\s+(?:state|status|setting)\s+of|is)\s+(?P<target2>.+?)\s+(?:on\s+or\s+off|enabled\s+or\s+disabled)|"
    r"what(?:'s|\s+is)\s+the\s+(?:state|status|setting)\s+of\s+(?P<target4>.+)",
    r"(?:is|are)\s+(?P<target>.+?)\s+(?:currently\s+|still\s+|now\s+)?(?:turned\s+|switched\s+|set\s+(?:to\s+)?)?"
    r"(?P<state>on|off|enabled|disabled|checked|unchecked|ticked|unticked|selected|active|inactive)",
    # "assert wifi on", "verify bluetooth off": said without "is"
    r"(?:assert|verify|confirm)\s+(?:that\s+)?(?P<target>[\w-]+(?:\s+[\w-]+)?)\s+(?P<state>on|off|enabled|disabled)",
)
def _check_state(m: re.Match[str]) -> Intent:
    groups = m.groupdict()
    target = next(groups[name] for name in ("target", "target2", "target3", "target4") if groups.get(name))
    state = (groups.get("state") or groups.get("state3") or "on").lower()
    on = state in ("on", "enabled", "checked", "ticked", "selected", "active")
    if groups.get("target2") or groups.get("target4"):
        return Intent("check_state", target=target, on=None)  # "is wifi on or off?": a state to report, not check
    return Intent("check_state", target=target, on=on != bool(groups.get("neg")), form=state)


@rule(r"(?:swipe|drag)\s+(?:the\s+(?:list|page|screen)\s+)?down\s+to\s+refresh")
def _pull_to_refresh(m: re.Match[str]) -> Intent:
    return Intent("swipe", direction="down")


# Scrolling to something ----------------------------------------------------------------------------


@rule(
    r"(?:(?:go|scroll|swipe|move|jump|get)\s+)?(?:(?:the|this)\s+(?:list|page|screen)\s+)?(?:all\s+the\s+way\s+)?(?:back\s+)?"
    r"(?:(?:up|down)\s+)?(?:to|until)\s+"
    r"(?:the\s+)?(?:very\s+)?(?P<edge>top|bottom|end|beginning|start)(?:\s+of\s+(?:the\s+)?(?:list|page|screen))?",
    r"(?:the\s+)?(?P<edge>top|bottom)(?:\s+of\s+(?:the\s+)?(?:list|page|screen))?",
    r"(?:scroll|go|swipe|move)\s+(?:all\s+the\s+way|right)\s+(?P<way>down|up)(?:\s+(?:the\s+)?(?:list|page))?",
)
def _scroll_edge(m: re.Match[str]) -> Intent:
    edge = (m.groupdict().get("edge") or "").lower()
    up = edge in ("top", "beginning", "start") or (m.groupdict().get("way") or "").lower() == "up"
    return Intent("scroll_edge", direction="up" if up else "down")


@rule(
    r"(?:(?:go|scroll|swipe|move)\s+)?back\s+(?P<dir>up|down)\s+(?:to|until(?:\s+(?:you|i|we)\s+(?:see|find|reach))?|"
    r"till)\s+(?P<target>.+?)(?:\s+(?:(?:is|are)\s+)?(?:visible|shown|displayed)|\s+(?:appears|shows(?:\s+up)?))?",
    r"(?:scroll|swipe)\s+back\s+(?:to|until)\s+(?P<target>(?!the\s+(?:top|bottom)\b).+)",
    r"(?:jump|skip|move|go|head|travel|navigate|browse)\s+(?P<dir>down|up)\s+(?:the\s+(?:list|page)\s+)?(?:to|till|until)\s+(?P<target>.+)",
    r"(?:browse|navigate|move|head)\s+(?:the\s+list\s+)?to\s+(?P<target>(?:item|row|entry)\s+\d+)",
    r"(?P<verb>scroll|swipe)(?:\s+(?:the\s+)?(?:list|page|screen))?(?:\s+(?P<dir>down|up))?\s+(?:to|until(?:\s+(?:you|i|we)\s+(?:see|find|reach|get\s+to))?|"
    r"till|towards?)\s+(?P<target>.+?)(?:\s+(?:is|are)\s+(?:visible|shown|displayed|on\s+(?:the\s+)?screen|in\s+view|there))?"
    r"(?:\s+(?:appears|shows(?:\s+up)?|comes\s+into\s+view))?",
    r"(?P<find>find|locate|look\s+for|search\s+for)\s+(?P<target>.+?)(?:\s+(?:by\s+)?scrolling(?:\s+(?P<dir>down|up))?)?"
    r"(?:\s+in\s+the\s+list)?",
    r"(?:bring|get|scroll)\s+(?P<target>.+?)\s+(?:into|in|to)\s+view",
    r"(?:reveal|expose|jump\s+to|skip\s+to)\s+(?P<target>.+)",
    r"show\s+me\s+(?P<target>(?:item|row|entry)\s+\d+)",
    r"scroll\s+(?!(?:up|down|left|right|back|a\s+bit|a\s+little|some|more|the\s+(?:screen|page|list))\b)"
    r"(?P<target>(?:item|row|entry)\s+\d+)",
    r"make\s+(?P<target>.+?)\s+visible\s+by\s+scrolling(?:\s+(?P<dir>down|up))?",
)
def _scroll_to(m: re.Match[str]) -> Intent:
    groups = m.groupdict()
    if edge := re.fullmatch(
        r"(?:the\s+)?(?:very\s+)?(?P<e>last|final|bottom|first|top)\s+(?:item|row|entry|one)(?:\s+in\s+the\s+list)?",
        m["target"],
        re.I,
    ):
        return Intent("scroll_edge", direction="up" if edge["e"].lower() in ("first", "top") else "down")
    direction = (groups.get("dir") or "down").lower()
    if (groups.get("verb") or "").lower() == "swipe" and groups.get("dir"):
        direction = "down" if direction == "up" else "up"
    intent = Intent("scroll_to", target=m["target"], direction=direction, explicit=bool(groups.get("dir")))
    intent.terse = bool(groups.get("find"))  # "find X": only what the screen or its list can show
    return intent


# Checks: what is shown, and what must not be ------------------------------------------------------

_NEGATION = re.compile(
    r"\b(?:no|not|none|nothing|never|without|nowhere|nobody|isn't|aren't|doesn't|don't|didn't|shouldn't|mustn't|"
    r"can't|cannot|won't|wasn't|hasn't|haven't|zero)\b|n't\b|\b(?:gone|hidden|absent|missing|disappeared|disappears|vanished|vanishes|"
    r"went\s+away|gone\s+away|goes\s+away|cleared)$",
    re.I,
)
_SHOWN = (
    r"(?:shown|visible|displayed|there|present|on\s+(?:the\s+|this\s+)?(?:screen|page)|showing|appearing|"
    r"appears?|appeared|show(?:s|n)?(?:\s+up)?|exists?|gone|hidden|absent|missing|disappeared|vanished|seen|anywhere|"
    r"available|displaying|in\s+view|around|listed|included|rendered|on\s+display|showing\s+up|in\s+the\s+list|"
    r"went\s+away|gone\s+away|goes\s+away|disappears|vanishes|remains?|stays?|persists?|"
    r"on\s+(?:the\s+|this\s+)?[\w-]+\s+(?:screen|page))"
)
_PREDICATE = re.compile(
    r"(?:\s+(?:(?:is|are|'s|should|must|will|does|do|did|has|have|can)(?:\s*n't|\s+not|\s+no\s+longer)?\s+)?"
    r"(?:still\s+|now\s+|also\s+)?(?:have\s+)?"
    r"(?:be\s+|been\s+)?"
    rf"(?:not\s+|no\s+longer\s+|still\s+|now\s+|being\s+|also\s+|any\s*more\s+|both\s+|all\s+|each\s+)*{_SHOWN}"
    r"(?:\s+(?:anywhere|(?:on|in)\s+(?:the\s+|this\s+)?(?:[\w-]+\s+){0,2}(?:screen|page|launcher|app|form|view)|any\s*more|"
    r"now|at\s+all|either|here|yet|"
    r"again|right\s+now|at\s+the\s+moment|currently|in\s+the\s+list|on\s+top|at\s+the\s+(?:very\s+)?(?:top|bottom)"
    r"(?:\s+of\s+the\s+(?:screen|page|list))?))*)$",
    re.I,
)
_OPENING = re.compile(
    r"^(?:there'?s\s+(?=\S)|theres\s+|(?:is|are)\s+there(?:\s+(?:a|an|any|still)\b)?|there(?:\s+(?:is|are|should\s+be|must\s+be|will\s+be|isn't|aren't|should\s+not\s+be|shouldn't\s+be|"
    r"must\s+not\s+be|mustn't\s+be|is\s+not|are\s+not))|"
    r"(?:i|we|you|(?:the\s+)?(?:user|tester|customer))\s+(?:should\s+|must\s+|can\s+|could\s+|will\s+)?(?:not\s+)?"
    r"(?:now\s+|still\s+|also\s+)?(?:see|find|notice|sees)|(?:i|we)(?:\s+(?:would|should))?(?:\s+|'d\s+)(?:expect|want|like|need|hope)\s+(?:not\s+)?to\s+"
    r"(?:see|find)|"
    r"(?:i|we|you)\s+(?:shouldn't|mustn't|can't|cannot|don't|do\s+not|won't|should\s+not|must\s+not)\s+"
    r"(?:(?:be\s+able\s+to\s+)?see|find|notice)|"
    r"(?:i|we)\s+(?:don't|do\s+not|wouldn't|would\s+not)\s+(?:expect|want|like|need)\s+to\s+(?:see|find)|"
    r"(?:the\s+)?(?:screen|page|app)\s+(?:shows|says|displays|contains|has|reads)|"
    r"it\s+(?:says|shows|reads|displays)|"
    r"nothing\s+(?:on\s+(?:the\s+)?(?:screen|page)\s+)?(?:says|reads|shows|mentions|displays)|"
    r"(?:the\s+)?(?:\w+\s+)?(?:screen|page|app|list|form|view)\s+(?:should\s+|must\s+|does\s+|do\s+|will\s+|can\s+)?"
    r"(?:not\s+|n't\s+|no\s+longer\s+|still\s+)?(?:shows?|says?|displays?|contains?|has|have|lists?|includes?)|"
    r"(?:the\s+)?(?:\w+\s+)?(?:screen|page|app|list|form|view)\s+(?:doesn't|does\s+not|won't|shouldn't|mustn't)\s+"
    r"(?:show|say|display|contain|have|list|include)|"
    r"(?:the\s+)?(?:\w+\s+)?(?:screen|page|app|list|form|view)\s+(?:is|are)\s+(?:not\s+|no\s+longer\s+|still\s+)?"
    r"(?:showing|displaying|listing)|"
    r"none\s+of\s+(?:the\s+)?\w+\s+(?:should\s+|must\s+|may\s+)?(?:says?|reads?|shows?)|"
    r"(?:we're|we\s+are|i'?m|i\s+am|you're|you\s+are)\s+(?:now\s+|still\s+)?(?:not\s+)?(?:on|at|in|seeing)|"
    r"(?:can|could|do|does)\s+(?:you|i|we)\s+(?:still\s+)?(?:see|find|spot)|see|spot|"
    r"(?:does|do|did)\s+(?:the\s+)?(?:\w+\s+)?(?:screen|page|list|app|form)\s+(?:still\s+)?(?:show|display|contain|have|list|"
    r"include)|"
    r"(?:the\s+)?[\w-]+(?:\s+[\w-]+){0,2}\s+(?:says|reads|displays|equals|is\s+set\s+to|mentions|contains|includes)|"
    r"(?:the\s+)?(?:presence|existence|visibility|display|appearance)\s+of|(?:the\s+)?(?:absence|lack)\s+of)\s*",
    re.I,
)
_ACTION = re.compile(
    r"(?:tap|click|press|hit|select|choose|open|launch|start|type|enter|put|turn|switch|scroll|swipe|wait|go|navigate|"
    r"long|double|take|clear|close|stop|find|fill|input|write|set|toggle|enable|disable|sign|log)\b(?!\s+(?:out|in)\s+"
    r"(?:button|link)?\s*(?:is|are|should|must|isn't|does|doesn't)\b)",
    re.I,
)
_CONTRACTION = re.compile(r"(\w)'s\s+(?=(?:not\s+|still\s+|now\s+|no\s+longer\s+)*" + _SHOWN + r")", re.I)
_GONE = re.compile(
    r"\b(?:gone|hidden|absent|missing|disappeared|disappears|vanished|vanishes|went\s+away|goes\s+away)\b", re.I
)
_NOT = re.compile(r"\b(?:not|never|no\s+longer)\b|n't\b", re.I)
_LOGGED = re.compile(
    r"(?:i'?m|i\s+am|we're|we\s+are|(?:the\s+)?user\s+is|you're|you\s+are|(?:i|we|you)\s+should\s+be|"
    r"(?:i|we|you)\s+(?:are|am)\s+still)\s+(?:still\s+|now\s+)?(?P<not>not\s+|no\s+longer\s+)?(?:logged|signed)\s+"
    r"(?P<way>in|out)(?P<account>\s+as\s+\S+)?",
    re.I,
)
# "we are no longer on the login screen": that screen is not shown (never a check of the text "we")
_ON_SCREEN = re.compile(
    r"\b(?:i'?m|i\s+am|we're|we\s+are|you're|you\s+are|"
    # "the user should be taken back to the sign in page", "we end up on the home screen", "the device is on …"
    r"(?:(?:the\s+)?(?:user|tester|device|phone|app(?:lication)?)|i|we|you)\s+"
    r"(?:(?:is|are|am|should|must|will|gets?|got|has|have)\s+)?(?:be(?:en)?\s+|get\s+)?(?:still\s+|now\s+|then\s+)?"
    r"(?:taken|redirected|sent|returned|brought|navigated|directed|stay(?:s|ed)?|remain(?:s|ed)?|end(?:s|ed)?\s+up|"
    r"land(?:s|ed)?|arrive(?:s|d)?|is|are|be))\s+"
    r"(?:still\s+|now\s+)?(?P<not>not\s+|no\s+longer\s+)?(?:still\s+|now\s+|back\s+|again\s+)*(?:on|to|at|onto)\s+"
    r"(?P<x>(?:the\s+|this\s+)?(?:[\w-]+\s+){0,2}(?:screen|page|form|view|launcher|dashboard))\b",
    re.I,
)
_WHEN_SAID = re.compile(
    r"\b(?P<w>shown|visible|displayed|there|present|gone|hidden|listed)\s+(?:after|before|even\s+though|although|though|"
    r"when|while|once|because|until|despite|without)\b.*$",
    re.I,
)
# "the home page opens", "the sign-in screen comes back": that screen is shown
_APPEARS = re.compile(
    r"(?P<x>(?:the\s+)?(?:[\w-]+\s+){0,2}(?:screen|page|form|view|dashboard))\s+(?:(?:is|should\s+be|must\s+be)\s+)?"
    r"(?P<not>(?:should|must|does|did|will|may)(?:\s*n't|\s+not|\s+never)\s+|never\s+)?"
    r"(?:open(?:s|ed)?|loaded|loads?|appears?|comes?\s+(?:back|up)|shows?\s+up|displayed|visible|shown)(?:\s+again)?$",
    re.I,
)
_QUANTITY = re.compile(
    r"^(?:no\s+longer(?:\s+(?:an?|any|the))?|no|zero|not\s+any|not\s+an?|not\s+the|any|an?|some|the\s+text|the\s+words?)\s+",
    re.I,
)
_VALUE = re.compile(
    r"(?P<x>.+?)\s+(?:is|are|says|reads|shows|displays|equals|contains|holds|=|(?:(?:does|do|should|must|will)\s+(?:not\s+)?)?"
    r"(?:say|read|show|display|equal|be|contain|hold))\s+(?P<not>not\s+)?(?P<y>.+)",
    re.I,
)
# "text containing X", "anything that says X", "the message 'X'", "an 'X' warning": X, what the screen would show
_DESCRIBED = re.compile(
    r"(?:(?:any|an?|the|some)\s+)?(?:text|texts|label|labels|message|messages|string|words?|element|elements|thing|"
    r"anything|something|item|line|title|error|warning|notice|banner)\s+(?:containing|that\s+contains?|which\s+contains?|"
    r"with(?:\s+the\s+words?)?|saying|that\s+says|which\s+says|that\s+reads|reading|mentioning|that\s+mentions|"
    r"including|that\s+includes)\s+(?P<x>.+)|"
    rf"(?:(?:an?|the)\s+)?(?:(?:error|warning)\s+)?(?:text|label|message|string|word|title|greeting|error|warning|notice|"
    rf"banner)\s+(?P<q>{OPEN}\d+{CLOSE})|"
    rf"(?:(?:an?|the|any)\s+)?(?P<q2>{OPEN}\d+{CLOSE})\s+(?:text|label|message|string|word|warning|error|notice|banner)",
    re.I,
)
# "the model should be X", "the greeting must not say Y": a check of a value, said without "check".
_SHOULD = re.compile(
    r"(?:the\s+|my\s+)?[\w-]+(?:\s+[\w-]+){0,3}\s+(?:should|must)\s+(?:not\s+|still\s+)?(?:be|say|read|show|display|equal|"
    r"contain|hold)\s+\S|"
    r"(?:the|my)\s+[\w-]+(?:\s+[\w-]+){0,3}\s+(?:is|are|says|reads|shows|does\s+not\s+(?:say|read|show))\s+(?:not\s+|still\s+)?\S",
    re.I,
)
# "isn't", "doesn't say": a check's negation in full words, so that "X isn't Y" reads as "X is not Y".
_NEGATED_VERB = re.compile(r"\b(is|are|does|do|should|must|was|were)n'?t\b", re.I)
_FIELD_STATES = re.compile(
    r"(?:still\s+)?(?:empty|blank|filled(?:\s+in)?|cleared|focused|greyed\s+out|grayed\s+out|highlighted|enabled|disabled|"
    r"clickable|tappable|selected|checked|unchecked|editable|read[\s-]*only)",
    re.I,
)
_STATES = re.compile(r"(?:on|off|enabled|disabled|checked|unchecked|selected)", re.I)


# "expect the greeting to be visible", "I expect the error not to appear": a check of what is expected
_EXPECT_TO = re.compile(
    r"^(?:(?:i|we)\s+)?(?:expect|want|need|would\s+expect)\s+(?P<x>(?:(?!\bto\b).)+?)\s+(?P<not>not\s+)?to\s+(?P<not2>not\s+)?"
    r"(?:be\s+(?P<be>.+)|(?:appear|show(?:\s+up)?|exist|be\s+there|come\s+up|pop\s+up))$",
    re.I,
)


# Signing in, said as an outcome: "the login didn't work", "I couldn't sign in" (a failure: the app's error is what
# shows it), "the sign in worked", "I was able to log in" (a success: as "I'm logged in").
_ATTEMPTED = (
    r"(?:the\s+|my\s+|our\s+|your\s+)?"
    r"(?:sign(?:ing)?[\s-]*in|signin(?:g)?(?:\s+in)?|log(?:ging)?[\s-]*in|login|logon|authentication)"
)
_NOT_DONE = (
    r"(?:(?:did|does|do|has|have|had|will|should|must|would)(?:\s*n't|\s+not|nt)\s+(?:work(?:ed)?|succeed(?:ed)?|go\s+through|"
    r"pass(?:ed)?|been\s+successful|be\s+successful)|(?:didnt|doesnt|wont|won't|hasnt)\s+(?:work|succeed|go\s+through|pass)|"
    r"(?:was|is|were|are)(?:\s*n't|\s+not|nt)\s+(?:successful|a\s+success|accepted)|(?:was|is|were)\s+unsuccessful|"
    r"(?:should|must|will|is\s+going\s+to|has\s+to)\s+fail|(?:never|not)\s+(?:work(?:ed|s)?|succeed(?:ed|s)?))"
)
_FAILED_SIGN_IN = re.compile(
    rf"^(?P<lead>(?:{VERIFY})?)(?:{_ATTEMPTED}(?:\s+attempt)?\s+{_NOT_DONE}|"
    r"(?:(?:i|we|you|the\s+user)\s+)?(?:(?:could|can|did|was|were|am|are|is)(?:\s*n't|\s+not|nt)|can't|cant|cannot|failed\s+to|"
    r"(?:was|were|am|are|is)\s+(?:un|not\s+)able\s+to|(?:should|must)\s+not\s+be\s+able\s+to|(?:should|must)n't\s+be\s+able\s+to)"
    r"\s+(?:successfully\s+)?(?:sign|log)[\s-]*(?:in|on)|"
    r"(?:sign|log)(?:ging)?[\s-]*in\s+(?:must|should|will|does|did|can)(?:\s*n't|\s+not|nt)\s+(?:work|succeed|be\s+possible)|"
    rf"{_ATTEMPTED}\s+(?:is|was|should\s+be|must\s+be)\s+(?:not\s+possible|impossible|not\s+allowed))$",
    re.I,
)
# "we didn't get signed in", "I got logged out": the state it left ("we are not signed in")
_GOT_SIGNED = re.compile(
    r"\b(i|we|you)\s+(did\s+not\s+get|didn't\s+get|didnt\s+get|never\s+got|got)\s+(signed|logged)\s+(in|out)\b",
    re.I,
)
_BE = {"i": "I am", "we": "we are", "you": "you are"}
_DONE = (
    r"(?:succeeded|succeeds|worked|works|went\s+through|passed|goes\s+through|(?:was|is|has\s+been)\s+(?:successful|a\s+success|"
    r"accepted)|(?:should|must|will|did)\s+(?:succeed|work|go\s+through|pass|be\s+successful))"
)
_SIGNED_IN = re.compile(
    rf"^(?P<lead>(?:{VERIFY})?)(?:{_ATTEMPTED}(?:\s+attempt)?\s+(?:was\s+|is\s+)?{_DONE}|"
    r"(?:i|we|you|the\s+user)\s+(?:could|can|did|was\s+able\s+to|were\s+able\s+to|am\s+able\s+to|are\s+able\s+to|"
    r"managed\s+to|successfully)\s+(?:successfully\s+)?(?:sign|log)[\s-]*(?:in|on))$",
    re.I,
)
# "the app doesn't crash / freeze / close": a crash is no text of the screen (checks of it ask what should be shown)
_APP_DIES = re.compile(
    rf"^(?P<lead>(?:{VERIFY})?)(?P<app>(?:the\s+|this\s+)?(?:app(?:lication)?|it|[\w-]+(?:\s+demo)?\s+app)\s+)"
    r"(?P<neg>(?:(?:did|does|do|will|should|must|may|can|has|had)(?:\s*n't|\s+not|nt|\s+never)|didnt|doesnt|wont|never|won't)\s+)"
    r"(?:close|closed|quit|exit|exited|die|died|stop|stopped|shut\s+down|go\s+away|disappear|freeze|froze|frozen|hang|hung|"
    r"stall|stalled|crash|crashed)(?:\s+.*)?$",
    re.I,
)


def check(clause: str) -> Intent | None:
    """A check ("make sure no error is shown", "verify the model is X", "Sign out should not be visible"), or None.

    Negation anywhere in the check ("no", "not", "n't", "none", "nothing", "gone", "hidden" …) makes it a
    check that the thing is NOT shown; it is never dropped. "X is Y" (where Y is not a visibility or
    switch word) checks that the value Y is shown.
    """
    clause = _EXPECT_TO.sub(
        lambda m: f"verify {m['x']} is " + ("not " if m["not"] or m["not2"] else "") + (m["be"] or "shown"), clause
    )
    clause = _CONTRACTION.sub(r"\1 is ", clause)
    clause = _NEGATED_VERB.sub(r"\1 not", clause)
    clause = re.sub(  # "assert not visible: X"
        r"^((?:assert|check|verify|expect|ensure)\s+)(not\s+)?(?:visible|shown|displayed|present)\s*[:=]?\s+(.+)$",
        r"\1\3 is \2shown",
        clause,
        flags=re.I,
    )
    clause = _GOT_SIGNED.sub(lambda m: f"{_BE[m[1].lower()]} {'not ' * bool(_NOT.search(m[2]))}{m[3]} {m[4]}", clause)
    if failed := _FAILED_SIGN_IN.match(clause):
        clause = f"{failed['lead'] or 'verify '}the sign in failed"
    elif signed := _SIGNED_IN.match(clause):
        clause = f"{signed['lead'] or 'verify '}I'm logged in"
    elif dies := _APP_DIES.match(clause):
        clause = f"{dies['lead'] or 'verify '}{dies['app']}did not crash"
    clause = re.sub(r"\b(i|we|you)\s+(should|must)\s+not\s+be\s+on\b", r"\1 \2 be not on", clause, flags=re.I)
    clause = _ON_SCREEN.sub(lambda m: f"{m['x']} is {'not ' if m['not'] else ''}shown", clause)
    clause = _APPEARS.sub(lambda m: f"{m['x']} is {'not ' if m['not'] else ''}shown", clause)
    # "X is still shown after the failed attempt", "… even though the list is scrolled": when, not what
    clause = _WHEN_SAID.sub(lambda m: m["w"], clause)
    clause = _LOGGED.sub(
        # "I'm signed in as X": signed in (no screen shows which account); "not signed in as X" is left as said, and
        # asked about (signed out is not what it denies)
        lambda m: (
            m[0]
            if m["account"] and (m["not"] or m["way"].lower() == "out")
            else ("no " if m["not"] else "") + ("Sign out" if m["way"].lower() == "in" else "Sign in") + " is shown"
        ),
        clause,
    )
    lead = re.match(
        rf"^(?:{VERIFY}|(?=(?:is|are)\s+there\s)|(?:is|are|does|do)\s+(?=.*{_SHOWN}$)|(?:is|are)\s+(?=(?:the|my|this)\s)|"
        r"(?:does|do)\s+(?=(?:the|my|this)\s.*\b(?:say|read|show|display|contain|have|list|include)\b))",
        clause,
        re.I,
    )
    body = clause[lead.end() :] if lead else clause
    body = re.sub(r"\s+(is|are)\s+(still\s+)?up$", r" \1 \2shown", body, flags=re.I)  # "the banner is still up"
    if re.search(r"\sgets?\s+(?:turned|switched|set)\s+(?:on|off)$", body, re.I):
        return None  # "ensure bluetooth gets turned on": to be done, not checked
    if not lead and re.fullmatch(r"(?:the|my|your)\s+(?:password|passcode|pin)\s+(?:is|=|:)\s+\S+", body, re.I):
        return None  # "the password is x": a password said (never shown to check), to type
    opening = _OPENING.match(body)
    predicate = _PREDICATE.search(body)
    should = _SHOULD.match(body)
    if elliptic := re.fullmatch(r"(?P<x>.+?)\s+(?:is|are)(?P<not>\s+not)?", body, re.I):
        # "… and NFC isn't": the check said before, of another thing
        if not lead and (_ACTION.match(body) or _STATES.fullmatch(elliptic["x"].split()[-1])):
            return None
        return Intent("assert_not" if elliptic["not"] else "assert", target=_QUANTITY.sub("", elliptic["x"]))
    if not lead and not opening and not predicate and not should and not re.match(r"^no\s+\S", body, re.I):
        return None
    if not lead and not opening and _ACTION.match(body):
        return None  # "put it in there", "tap the one shown": an action, not a check
    negated = bool(_NEGATION.search(body)) or bool(re.match(r"(?:the\s+)?(?:absence|lack)\s+of\b", body, re.I))
    if negated and _GONE.search(body) and _NOT.search(body):
        negated = False  # "isn't missing": shown
    if opening and not body[opening.end() :].strip():
        opening = None  # "the login screen shows": the subject is what to look for
    target = body[opening.end() :] if opening else body
    if predicate:
        target = _PREDICATE.sub("", target)
    target = _QUANTITY.sub("", target.strip())
    target = re.sub(r"\s+(?:on|in)\s+(?:the|this)\s+(?:\w+\s+)?(?:screen|page|list)$", "", target, flags=re.I)
    value = _VALUE.fullmatch(target)
    if value and not lead and not opening and not value["not"] and _STATES.fullmatch(value["y"]):
        return None  # "the wifi switch is on": a switch and the state it should be in, as "wifi is on" is
    if value and _FIELD_STATES.fullmatch(value["y"]):
        return Intent("unsupported", text="check a field's value or an element's state, only what text is shown")
    # "the title says Log in", "it reads X": the words of the screen, as written (never "Sign in" for "Log in")
    literal = says = bool(
        opening and re.search(r"\b(?:says|reads|equals|is\s+set\s+to|mentions)\s*$", opening[0].strip(), re.I)
    )
    if value and not _STATES.fullmatch(value["y"]) and not _NOT.fullmatch(value["y"]):
        target, literal, says = re.sub(r"^(?:an?|running|using)\s+(?=\S)", "", value["y"], flags=re.I), True, False
        said_first = not re.match(r"(?:the|my|your|it|this|that)\b", value["x"], re.I)
        if said_first and re.match(r"(?:the|my|your)\s", value["y"], re.I):
            target = value["x"]  # "X is the model": the value said first
    target = target.strip(" ,")
    if described := _DESCRIBED.fullmatch(target):
        target = described["x"] or described["q"] or described["q2"]
    if not target:
        return None
    return Intent("assert_not" if negated else "assert", target=target, explicit=literal, says=says)


@rule(rf"(?:{VERIFY})?.+")
def _check(m: re.Match[str]) -> Intent | None:
    return check(m[0])


# Keys, apps --------------------------------------------------------------------------------------


@rule(
    r"(?:(?:go|navigate|get|head|return|come|jump|hop)\s+back|return|back|take\s+(?:me|us)\s+back)\s+to\s+(?P<target>.+)",
    r"(?:return|go)\s+to\s+(?:the\s+)?(?P<target>(?:previous|last|main|first)\s+.+)",
)
def _back_to(m: re.Match[str]) -> Intent:
    if re.fullmatch(
        r"(?:the\s+)?(?:(?:phone|device|android)'?s?\s+)?(?:home(?:\s+screen)?|launcher)", m["target"], re.I
    ):
        return Intent("key", text="home")  # "return to the phone's home screen"
    return Intent("back_to", target=m["target"])


@rule(
    r"(?:go|navigate|get|move)\s+back\s+(?:using|with|via|by\s+(?:tapping|pressing|clicking|hitting|using))\s+"
    r"(?:the\s+)?(?P<target>.+)",
)
def _back_using(m: re.Match[str]) -> Intent:
    """ "go back using the back arrow": what to tap to go back (the key, when it is the back key or button)."""
    key = r"(?:(?:hardware|device|system|phone|android|physical)\s+)?back(?:\s+(?:key|button))?"
    if re.fullmatch(key, m["target"], re.I):
        return Intent("key", text="back")
    bar = r"(?:the\s+)?(?:tool\s*bar|app\s*bar|action\s*bar|top\s+bar|header|title\s+bar|nav(?:igation)?\s+bar)"
    if re.fullmatch(bar, m["target"], re.I):
        return Intent("tap", target="back arrow")  # its back arrow
    return Intent("tap", target=m["target"])


@rule(
    r"(?:go|navigate|move|step|come|get)\s+back(?:wards)?(?:\s+(?:a|one)\s+(?:page|screen|step))?|back|go\s+up\s+a\s+level|"
    r"(?:go\s+)?up\s+(?:one|a)\s+level|(?:the\s+)?previous\s+(?:screen|page)",
    rf"{TAP}\s+(?:the\s+)?(?:(?:hardware|device|system|phone|android|physical|os)\s+)?back(?:\s+(?:key|button))?",
)
def _back(m: re.Match[str]) -> Intent:
    return Intent("key", text="back")


@rule(
    r"(?:go|return|navigate|get|head)\s+(?:back\s+)?(?:to\s+)?(?:the\s+)?(?:(?:phone|device|android)'?s?\s+)?home(?:\s+screen)?|"
    r"(?:back\s+)?home(?:\s+(?:screen|key|button))?|"
    r"(?:go\s+to|open|show)\s+(?:the\s+)?launcher",
    rf"{TAP}\s+(?:the\s+)?home(?:\s+(?:key|button))?",
    r"(?:minimi[sz]e|background|hide)\s+(?:the\s+|this\s+)?(?:app(?:lication)?|it)",
    r"(?:go|return|navigate|get|head|exit|quit|leave|bail\s+out)\s+(?:back\s+)?to\s+(?:the\s+)?"
    r"(?:start\s+screen|launcher|desktop|home)",
)
def _home(m: re.Match[str]) -> Intent:
    return Intent("key", text="home")


@rule(
    r"(?:(?:turn|crank|push|put|set|bump|nudge|knock)\s+(?:the\s+)?volume\s+(?P<dir>up|down)|volume\s+(?P<dir2>up|down)|"
    r"(?:turn|crank|push)\s+(?P<dir3>up|down)\s+(?:the\s+)?volume|"
    r"(?P<word>raise|increase|lower|decrease|reduce|bump\s+up)\s+(?:the\s+)?volume)"
    r"(?:\s+(?:key|button|rocker))?(?:\s+(?:a\s+(?:notch|bit|little|step|tad|touch)|one\s+(?:notch|step)|slightly))?",
)
def _volume(m: re.Match[str]) -> Intent:
    direction = (m["dir"] or m["dir2"] or m["dir3"] or "").lower()
    if m["word"]:
        direction = "up" if m["word"].lower().split()[0] in ("raise", "increase", "bump") else "down"
    return Intent("key", text=f"volume_{direction}")


@rule(
    rf"(?:press|hit|push|use|tap)\s+(?:the\s+)?(?P<key>{KEY})(?:\s+(?:key|button))?",
    rf"{TAP}\s+(?:the\s+)?(?P<key>{KEY})\s+(?:key|button)",
    r"(?:open|show|bring\s+up|view)\s+(?:me\s+)?(?:the\s+|my\s+)?(?P<key>recent\s+apps|recents|app\s+switcher|overview)",
    r"(?:submit)(?:\s+(?:the\s+|this\s+)?(?:login\s+|sign[\s-]*in\s+)?form|\s+(?:it|that|this))?"
    r"(?:\s+(?:empty|blank|as\s+(?:it\s+)?is))?(?P<key>)",
    # "type a@b.c, tab, type x, enter": keys between the typing; "vol up"
    r"(?P<key>tab|enter|return|vol(?:ume)?\s+(?:up|down))(?:\s+key)?",
    r"(?:proceed|continue|carry\s+on|go\s+on)(?P<key>)",
)
def _key(m: re.Match[str]) -> Intent:
    name = " ".join(m["key"].lower().split())
    # "submit": the form's submit button when the screen has one, else the enter key
    return Intent("key", text=_KEY_NAMES[name] if name else "enter", target="" if name else "submit")


@rule(
    r"(?:move|go|jump|switch|skip|advance|tab)\s+(?:to|on\s+to|into)\s+(?:the\s+)?next\s+(?:field|input|box|text\s+field)"
)
def _next_field(m: re.Match[str]) -> Intent:
    return Intent("key", text="tab")


@rule(
    r"(?:delete|remove|erase|backspace|clear|undo)\s+(?:the\s+)?(?:last|final)\s+(?:(?P<n>\d+|two|three|four|five)\s+)?"
    r"(?:character|char|letter|digit|symbol)s?(?:\s+(?:in|of|from)\s+(?P<field>.+))?",
    r"backspace(?:\s+(?:in|on)\s+(?P<field>.+))?",
    r"(?:delete|remove|erase)\s+(?P<n>one|a|1|two|three|2|3)\s+(?:single\s+)?(?:character|char|letter|digit)s?"
    r"(?:\s+(?:in|of|from)\s+(?P<field2>.+))?",
)
def _backspace(m: re.Match[str]) -> Intent:
    groups = m.groupdict()
    times = int(number(groups["n"])) if groups.get("n") else 1
    return Intent("backspace", target=groups.get("field") or groups.get("field2") or "", times=times)


@rule(
    rf"(?:re-?start|re-?launch|re-?open|reload|reboot|relaunch|(?:cold|hard|force)[\s-]*(?:start|restart|re-?launch|boot))"
    rf"\s+(?P<app>.+?){_FRESH}",
    rf"(?:start|launch|open)\s+(?P<app>.+?)\s+(?:over|again|afresh|anew|from\s+the\s+(?:start|beginning)){_FRESH}",
)
def _restart(m: re.Match[str]) -> Intent | None:
    app = m["app"]
    if re.fullmatch(_CURRENT_APP, app, re.I) or app_package(app, strict=False):
        return Intent("restart", target=app, fresh=bool(m["fresh"]))
    return None


@rule(
    r"(?:reset|(?:clear|wipe|erase|delete)\s+(?:the\s+|all\s+)?(?:app\s+)?(?:data|state|storage|cache)\s+(?:of|for|in))"
    r"\s+(?P<app>.+)",
    r"(?:clear|wipe|erase|delete|reset)\s+(?:the\s+|all\s+(?:the\s+)?)?(?P<app>app)(?:'s|lication)?\s+(?:data|state|storage)",
    r"(?:clear|wipe|erase|delete|reset)\s+(?P<app>its)\s+(?:app\s+)?(?:data|state|storage|cache)",
    r"(?:clear|wipe|erase|delete|reset)\s+(?:the|all(?:\s+the)?)\s+(?:app\s+|saved\s+)?(?P<app>)(?:data|state|storage|cache)",
)
def _reset(m: re.Match[str]) -> Intent | None:
    app = "it" if m["app"].lower() in ("its", "") else m["app"]
    if re.fullmatch(_CURRENT_APP, app, re.I) or app_package(app, strict=False):
        return Intent("open", target=app, fresh=True)
    return None


_ACCOUNT_FLOWS = {
    r"sign\s*up(?:\s+for\s+.*)?|(?:create|make)\s+(?:a\s+|an\s+)?(?:new\s+)?account": "Sign up",
    r"register(?:\s+(?:a\s+|an\s+)?(?:new\s+)?(?:account|user))?": "Register",
    r"(?:reset|recover|forgot|retrieve)\s+(?:my\s+|the\s+|a\s+)?password": "Forgot password",
    r"(?:tick\s+|check\s+)?remember\s+me": "Remember me",
}


@rule(*_ACCOUNT_FLOWS)
def _account_flow(m: re.Match[str]) -> Intent:
    """ "sign up", "reset my password": the screen's link or button for it, if it has one."""
    return Intent(
        "tap", target=next(label for pattern, label in _ACCOUNT_FLOWS.items() if re.fullmatch(pattern, m[0], re.I))
    )


@rule(r"(?:show|reveal|unhide|unmask)\s+(?:the\s+|my\s+)?(?:password|passcode|pin)(?:\s+(?:text|characters|field))?")
def _show_password(m: re.Match[str]) -> Intent:
    """ "show the password": a show-password button, if the screen has one (never a tap of the field)."""
    return Intent("tap", target="show password")


@rule(
    r"(?:open(?:\s+up)?|launch|start(?:\s+up)?|run|bring\s+up|fire\s+up|boot\s+up|switch\s+to|go\s+(?:in)?to|navigate\s+to|"
    r"show\s+me|show|"
    r"get\s+(?:in)?to|head\s+(?:over\s+)?to|visit|load|pull\s+up|jump\s+to|take\s+me\s+to|access|look\s+at|check\s+out|"
    r"view|move\s+to|pop\s+(?:open|into|in\s+to|over\s+to)|head\s+(?:in)?to|head\s+over\s+to|hop\s+(?:over\s+)?(?:in)?to|"
    r"navigate\s+(?:in)?to|bring\s+(?:me|us)\s+to|go\s+over\s+to|go\s+inside|(?:jump|dive|hop|step)\s+into|enter(?=\s+(?:the\s+)?\S+(?:\s+\S+)?\s+(?:menu|page|screen|section|app)$))"
    rf"\s+(?P<app>.+?){_FRESH}",
)
def _open(m: re.Match[str]) -> Intent:
    return Intent("open", target=m["app"], fresh=bool(m["fresh"]))


@rule(
    r"(?:turn|set|change|adjust|increase|decrease|raise|lower|reduce|max(?:imi[sz]e)?)\s+(?:up\s+|down\s+)?(?:the\s+)?"
    r"(?:screen\s+)?brightness.*|(?:brighten|dim|darken)\s+(?:the\s+)?(?:screen|display|phone)"
)
def _brightness(m: re.Match[str]) -> Intent:
    """The brightness: a setting of the screen that shows one (its slider is reached by tapping it), if any."""
    return Intent("tap", target="brightness")


@rule(
    r"(?:i|we)\s+(?:want|need|would\s+like|'d\s+like)\s+(?:the\s+)?(?P<app>.+?)\s+(?:app\s+)?(?:to\s+be\s+)?"
    r"(?:open(?:ed)?|launched|running|started|up|in\s+front|on\s+screen)",
    r"(?:get|have)\s+(?:the\s+)?(?P<app>.+?)\s+(?:app\s+)?(?:open(?:ed)?|launched|running|started|up)",
)
def _want_open(m: re.Match[str]) -> Intent | None:
    """ "I need the settings app open": an app to open (a switch wanted on is `_toggle`'s)."""
    if not app_package(m["app"], strict=False):
        return None
    return Intent("open", target=m["app"])


@rule(
    r"(?:leave|exit|close|(?:get|go|back|step)\s+out\s+of)\s+(?:this|the\s+current|the)\s+(?:page|screen|view|section|menu)"
)
def _leave_page(m: re.Match[str]) -> Intent:
    return Intent("key", text="back")


@rule(r"(?P<app>)(?:close|quit|exit|leave|terminate)(?:\s+(?:it|out))?")
def _exit(m: re.Match[str]) -> Intent:
    """ "close it": what "it" stands for, else the app (or a question when a dialog shows a Cancel)."""
    return Intent("stop", target="it" if re.search(r"\bit$", m[0], re.I) else "the app")


@rule(
    r"(?:close|stop|kill|quit|exit|leave|terminate|end|force[\s-]*(?:stop|close|quit)|shut)\s+(?:down\s+)?(?:out\s+(?:of\s+)?)?(?P<app>.+)"
)
def _stop(m: re.Match[str]) -> Intent:
    return Intent("stop", target=m["app"])


# Touching, typing, swiping -------------------------------------------------------------------------


@rule(
    rf"(?:long[\s-]*(?:press|tap|click|touch)|hold(?:\s+down)?|press\s+and\s+hold)\s+(?:on\s+|at\s+)?(?P<target>.+?)"
    rf"(?:\s+for\s+{N})?",
)
def _long_press(m: re.Match[str]) -> Intent:
    point = re.fullmatch(POINT.format(""), m["target"])
    at = (int(point["x"]), int(point["y"])) if point else None
    return Intent("long_press", target=m["target"], ms=_ms(m), point=at)


_TEXT_NOISE = re.compile(r"^(?:the\s+)?(?:text|word|words|value|string)\s+", re.I)
_FIELD_WORDS = r"email|e-mail|password|passcode|passwd|pwd|pw|username|user\s+name|user|pass"


@rule(
    rf"(?:type|enter|input|write|key\s+in|fill\s+in|fill)\s+(?:in\s+|into\s+|out\s+)?(?:the\s+|my\s+|a\s+)?"
    rf"(?P<field>{_FIELD_WORDS}|(?:(?!(?:in|into|to|on|with|as|for)\b)\S+\s+){{0,3}}(?:field|box|input|form))(?:\s+field)?",
    r"(?:use|enter|type|put\s+in|give)\s+(?:my|the|your|our)\s+(?P<field3>password|email|username|user\s+name|pin)",
    r"(?:put|type|enter|fill|key|punch)\s+(?:my|the|your|our)\s+(?P<field6>password|email|username|user\s+name|pin)\s+in"
    r"(?:\s+(?:there|here|now))?",
    r"(?:use|enter|type|put\s+in|give|try)\s+(?:a|an|some|the)\s+(?:wrong|bad|incorrect|invalid|random|fake|different)\s+"
    r"(?P<field5>password|email|username)",
    r"fill\s+(?P<it>it|that|this)(?:\s+(?:in|out))?|fill\s+(?:in|out)\s+(?P<it2>it|that|this)",
    r"(?:fill\s+in|fill\s+out|enter|type(?:\s+in)?|put\s+in|input|provide)\s+(?:my|the|your|our|some)\s+"
    r"(?P<form>details|credentials|creds|login(?:\s+details)?|info|information|sign[\s-]*in\s+details)",
    r"(?:fill(?:\s+in|\s+out)?|complete|populate)\s+(?P<form2>(?:both|all|the)\s+(?:of\s+)?(?:the\s+)?(?:fields|boxes|inputs)|"
    r"(?:the\s+)?(?:login\s+|sign[\s-]*in\s+)?form|everything)",
    r"(?:put|type|enter|write|key)\s+(?P<it3>it|that|this|them)\s+(?:in|into|inside)(?:\s+(?P<field4>.+))?",
    r"(?:fill(?:\s+(?:in|out))?|type|enter|write)(?:\s+(?:in|into|something|text|anything|some\s+text))?"
    rf"(?:\s+(?:in|into)\s+(?P<field2>(?:the\s+|a\s+|my\s+)?(?:{_FIELD_WORDS}|(?:(?!(?:in|into|to|on|with|as|for)\b)\S+\s+){{0,3}}(?:field|box|input|form))))?",
)
def _type_unknown(m: re.Match[str]) -> Intent:
    """ "type into the email field", "enter the password": the text is missing."""
    groups = m.groupdict()
    if groups.get("it") or groups.get("it2"):
        return Intent("type", target="it", text="")
    if groups.get("form") or groups.get("form2"):
        return Intent("type", target="the form", text="")  # "enter the credentials": which ones is asked
    field = next((groups[k] for k in ("field", "field2", "field3", "field4", "field5", "field6") if groups.get(k)), "")
    return Intent("type", target=field, text="")


@rule(
    rf"(?:type|enter|input|write|fill\s+in|key\s+in|put|add|use|provide|supply|give|insert)\s+(?:in\s+)?(?:my\s+|the\s+|a\s+)?"
    rf"(?P<field>{_FIELD_WORDS})(?:\s+(?:address|field|box))?(?:\s+(?:as|is|=|:|of))?\s+"
    r"(?P<text>(?!(?:in|into|there|here|now|please|again|too|first|it|that|field|box|address|in\s+there)$)\S+)",
    r"(?P<verb>fill(?:\s+(?:in|out))?|populate|complete)\s+(?P<field>.+?)(?:\s+(?:in|out))?\s+with\s+(?P<text>.+)",
    r"(?P<verb>set|change|update|fix|correct)\s+(?P<field>.+?)\s+to\s+(?P<text>.+)",
    r"(?P<verb>replace)\s+(?P<field>.+?)\s+with\s+(?P<text>.+)",
    r"(?P<append>append|add)\s+(?P<text>.+?)\s+(?:(?:to|at)\s+the\s+end\s+of|to)\s+(?P<field>.+?)",
    r"(?:type|key|punch)\s+in\s+(?P<text>\S+)",
    r"(?:in|into|inside)\s+(?P<field>(?:the\s+)?\S+(?:\s+\S+)?\s+(?:field|box|input|text\s+box)|(?:the\s+|my\s+)?"
    rf"(?:{_FIELD_WORDS}))\s*,?\s+"
    r"(?:type|enter|input|write|put|key\s+in|fill\s+in)\s+(?P<text>.+)",
    r"(?:type|enter|input|write|put|key\s+in|fill\s+in)\s+(?:in|into|inside)\s+"
    r"(?P<field>(?:the\s+)?\S+(?:\s+\S+)?\s+(?:field|box|input|text\s+box))\s+(?P<text>.+)",
    r"(?:(?:type|enter|input|write|put|key|punch|fill)(?:\s+in)?|insert|add|use|paste|provide|supply|give)\s+"
    r"(?P<text>.+?)\s+(?:in|into|inside|in\s+to|on|to|for|as)\s+(?P<field>.+?)",
    r"(?:type|enter|input|write|key\s+in)\s+(?P<text>.+)",
)
def _type(m: re.Match[str]) -> Intent:
    field = m["field"] if "field" in m.re.groupindex else ""
    credentials = re.fullmatch(r"(?P<email>\S+@\S+)\s+with\s+password\s+(?P<pw>\S+)", m["text"].strip(), re.I)
    if credentials and (re.search(r"form|login|sign|credential|details|fields|e-?mail|user", field, re.I) or not field):
        return Intent("credentials", target=credentials["email"], text=credentials["pw"])
    if re.fullmatch(r"(?:it|that|this|them|those|these)", m["text"].strip(), re.I):
        return Intent("type", target=field, text="")  # "type it": the text is not said
    intent = Intent("type", target=field, text=_TEXT_NOISE.sub("", m["text"]))
    groups = m.groupdict()
    if groups.get("verb"):
        intent.form = groups["verb"] + " "
        intent.fresh = groups["verb"].lower() in ("set", "change", "update", "replace")  # the field holds only this
    intent.on = True if groups.get("append") else None  # "append": keep what the field holds
    return intent


@rule(
    r"(?:clear|empty|erase|wipe|blank)(?:\s+out)?\s+(?:(?:the\s+)?(?:text|contents?|input|value|what'?s|what\s+is|"
    r"everything|all\s+(?:the\s+)?text)\s+(?:in|of|from|inside)\s+)?(?P<field>.+)",
    r"(?:delete|remove)\s+(?:the\s+|all\s+(?:the\s+)?)?(?:text|contents?|input|value|what'?s|what\s+is|everything)\s+"
    r"(?:in|of|from|inside)\s+(?P<field>.+)",
    rf"(?:delete|remove|erase)\s+(?:the\s+|my\s+)?(?P<field>(?:{_FIELD_WORDS})(?:\s+(?:field|box|address))?)(?:\s+text)?",
    r"(?:clear|empty|erase|delete)\s+(?:it|that|the\s+text|text|everything)(?P<field>)",
    r"(?:clear|empty|erase)(?P<field>)",
)
def _clear(m: re.Match[str]) -> Intent:
    field = m["field"]
    intent = Intent("clear", target="" if re.fullmatch(r"(?:the\s+text|text)?", field, re.I) else field)
    return intent


@rule(rf"(?:swipe|fling|drag|slide)\s+(?:from\s+)?{POINT.format('a')}\s+to\s+{POINT.format('b')}")
def _swipe_points(m: re.Match[str]) -> Intent:
    return Intent("swipe", point=(int(m["ax"]), int(m["ay"])), end=(int(m["bx"]), int(m["by"])))


@rule(
    r"(?:swipe|fling|slide|flick)\s+(?:the\s+)?(?:screen\s+|page\s+|list\s+)?(?P<dir>up|down|left|right)(?:wards?)?"
    r"(?:\s+on\s+(?:the\s+)?(?:screen|page|list))?",
)
def _swipe(m: re.Match[str]) -> Intent:
    return Intent("swipe", direction=m["dir"].lower())


@rule(
    r"scroll\s+(?:back\s+)?(?:the\s+)?(?:screen\s+|page\s+|list\s+)?(?P<dir>up|down|left|right)(?:wards?)?"
    r"(?:\s+(?:on\s+|in\s+)?(?:the\s+)?(?:[\w-]+\s+){0,2}(?:screen|page|list))?(?:\s+(?:a\s+(?:bit|little)|some|more|a\s+little\s+more|a\s+lot|"
    r"(?:by\s+)?(?:one|a)\s+(?:page|screen)))?",
    r"scroll(?P<dir>)(?:\s+(?:the\s+)?(?:screen|page|list))?(?:\s+(?:a\s+(?:bit|little)|some|more))?",
)
def _scroll(m: re.Match[str]) -> Intent:
    return Intent("scroll", direction=(m["dir"] or "down").lower())


@rule(
    r"(?:move|go|page|head|travel)\s+(?P<dir>up|down)\s+(?:the|a|one)?\s*(?:list|page|screen|bit|a\s+bit)",
    r"page\s+(?P<dir>up|down)",
)
def _scroll_synonym(m: re.Match[str]) -> Intent:
    return Intent("scroll", direction=m["dir"].lower())


@rule(
    r"(?:go|navigate|move)\s+up(?:\s+(?:a|one)\s+(?:level|step|screen))?",
    r"(?:go|navigate|move)\s+(?:a|one)\s+(?:level|step|screen)\s+up",
)
def _go_up(m: re.Match[str]) -> Intent:
    return Intent("tap", target="up", terse=True)


@rule(r"(?P<dir>up|down)(?:wards?)?")
def _up_down(m: re.Match[str]) -> Intent:
    """ "up": the screen's Navigate up button when there is one, else a scroll; "down": a scroll."""
    if m["dir"].lower() == "up":
        return Intent("tap", target="up", terse=True)
    return Intent("scroll", direction="down")


@rule(rf"{TAP}\s+(?:on\s+|at\s+)?{POINT.format('')}")
def _tap_point(m: re.Match[str]) -> Intent:
    return Intent("tap", point=(int(m["x"]), int(m["y"])))


@rule(r"double[\s-]*(?:tap|click)\s+(?:on\s+)?(?P<target>.+)")
def _double_tap(m: re.Match[str]) -> Intent:
    return Intent("tap", target=m["target"], times=2)


@rule(
    rf"{TAP}(?:\s+(?:on|at))?\s+(?P<target>.+)",
    r"(?P<target>log\s*out|sign\s*out|logout|signout|log\s+off|sign\s+off|sign\s+me\s+out|log\s+me\s+out)",
)
def _tap(m: re.Match[str]) -> Intent:
    return Intent("tap", target=m["target"])


# No verb at all: the planner checks these against the screen ----------------------------------------


@rule(r"(?P<target>.+?)\s*[,:-]?\s+(?P<verb>long[\s-]*press|tap|click|double[\s-]*tap|select|open)")
def _verb_last(m: re.Match[str]) -> Intent:
    """ "item 9 long press": the verb said last."""
    verb = m["verb"].lower()
    kind = "long_press" if verb.startswith("long") else "tap"
    return Intent(kind, target=m["target"], times=2 if verb.startswith("double") else 1)


@rule(r"(?:back\s+|then\s+)?(?P<state>on|off)(?:\s+again)?")
def _toggle_again(m: re.Match[str]) -> Intent:
    """ "turn Bluetooth on, then off": the same switch."""
    return Intent("toggle", target="it", on=m["state"].lower() == "on")


@rule(
    r"(?P<target>.+?)\s+(?:is\s+|should\s+be\s+)?(?:back\s+|again\s+)?"
    r"(?P<state>on|off|enabled|disabled|activated|deactivated|enable|disable|activate|deactivate)"
    r"(?:\s+again)?"
)
def _terse_toggle(m: re.Match[str]) -> Intent:
    on = m["state"].lower() in ("on", "enabled", "activated", "enable", "activate")
    return Intent("toggle", target=m["target"], on=on, terse=True)


@rule(
    rf"(?:the\s+|my\s+)?(?P<field>{_FIELD_WORDS})(?:\s+(?:field|box|input))?\s*(?:[:=]|is)?\s+"
    r"(?P<text>(?!(?:field|box|input|address|too|again|now|please|next|first|then)$)\S+)",
    rf"(?P<text>\S+)\s+(?:in|into|for|as)\s+(?:the\s+|my\s+)?(?P<field>{_FIELD_WORDS})(?:\s+(?:field|box|input))?",
)
def _terse_type(m: re.Match[str]) -> Intent:
    return Intent("type", target=m["field"], text=m["text"], terse=True)


@rule(r"(?P<target>.+)")
def _terse(m: re.Match[str]) -> Intent:
    return Intent("tap", target=m["target"], terse=True)
