"""One clause of English -> one intent: what to do, to which element, with which text.

Each rule is a regular expression over the whole (masked) clause, tried in order; the
first that matches and whose builder accepts it wins. Nothing here looks at the screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.steps import KEYS

from .known import app_package
from .words import NUMBER, TIMES, UNIT, number, to_ms


@dataclass
class Intent:
    kind: str
    """login, screenshot, sleep, wait_for, ask, toggle, check_state, assert, assert_not, key, open, restart,
    reset, stop, long_press, type, clear, scroll_to, swipe, scroll, tap."""
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

    @property
    def verb(self) -> str:
        """What a following clause without a verb of its own inherits ("tap A and B")."""
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
POINT = r"\(?\s*(?P<{0}x>\d+)\s*[,x ]\s*(?P<{0}y>\d+)\s*\)?"
VERIFY = r"(?:make\s+sure|ensure|verify|check|assert|confirm|validate|expect)\s+(?:that\s+|if\s+|whether\s+)?"
SHOWN = r"(?:shown|visible|displayed|there|present|on\s+(?:the\s+)?screen|showing|appearing)"
TAP = r"(?:tap|click|press|hit|select|choose|pick|touch|push)"
_KEY_NAMES = {name.replace("_", " "): name for name in KEYS} | {
    "return": "enter",
    "backspace": "del",
    "delete": "del",
    "recent apps": "app_switch",
    "recents": "app_switch",
    "app switcher": "app_switch",
    "volume +": "volume_up",
    "volume -": "volume_down",
}
KEY = "|".join(re.escape(name) for name in sorted(_KEY_NAMES, key=len, reverse=True))

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
    repeat = re.search(r"\s+(?P<t>once|twice|thrice|(?P<n>\d+|two|three|four|five)\s+times)$", clause, re.I)
    if repeat:
        times = TIMES.get(repeat["t"].lower()) or int(number(repeat["n"]))
        clause = clause[: repeat.start()]
    for pattern, build in _RULES:
        match = pattern.fullmatch(clause)
        if match and (intent := build(match)):
            intent.times = times * intent.times
            return intent
    return None


def _ms(match: re.Match[str], n: str = "n", unit: str = "unit") -> int | None:
    return to_ms(match[n], match[unit]) if match[n] else None


@rule(
    r"(?:log\s*in(?:to)?|sign\s*in(?:to)?|login|signin)(?:\s+(?:to|into|on))?"
    r"(?:\s+(?:the\s+)?(?:login\s+demo|demo|login\s+app|demo\s+app|app))?"
    r"\s+(?:as|with|using)\s+(?:(?:the\s+)?(?:email|e-mail|user(?:name)?|account)\s+)?(?P<email>\S+?)"
    r",?\s+(?:(?:with|and|using)\s+)?(?:(?:the|a)\s+)?(?:password|pw|pass)\s*(?:of\s+|is\s+|=\s*|:\s*)?(?P<pw>\S+)",
)
def _login(m: re.Match[str]) -> Intent:
    return Intent("login", target=m["email"], text=m["pw"])


@rule(r"(?:log\s*in|sign\s*in|login|signin)\s+(?:with|using)\s+(?:my|the|your)\s+(?:credentials|account|details)")
def _login_unknown(m: re.Match[str]) -> Intent:
    return Intent("login")


@rule(r"(?P<target>(?:log|sign)\s*(?:me\s+)?in|login|signin)(?:\s+now)?")
def _sign_in(m: re.Match[str]) -> Intent:
    return Intent("tap", target="sign in")


@rule(
    r"(?:take|grab|capture|make|save|get|snap)\s+(?P<n>\d+|two|three|four|five)\s+(?:screenshots|screen\s*shots|snapshots)"
)
def _screenshots(m: re.Match[str]) -> Intent:
    return Intent("screenshot", times=int(number(m["n"])))


@rule(
    r"(?:take|grab|capture|make|save|get|snap)(?:\s+(?:a|an|another|one\s+more))?\s+(?:screenshot|screen\s*shot|"
    r"snapshot|screen\s+capture|picture)(?:\s+of\s+(?:the\s+)?(?:screen|this|it))?",
    r"screenshot(?:\s+(?:it|this|the\s+screen))?|capture\s+(?:the\s+)?screen",
)
def _screenshot(m: re.Match[str]) -> Intent:
    return Intent("screenshot")


@rule(
    rf"(?:wait|sleep|pause|hold\s+on|delay|idle)(?:\s+for)?(?:\s+(?:about|around|roughly|another))?\s+{N}",
    r"(?:wait|pause|hold\s+on)(?:\s+for)?\s+a\s+(?:moment|bit|little|little\s+bit)",
)
def _sleep(m: re.Match[str]) -> Intent:
    return Intent("sleep", ms=_ms(m) if "n" in m.re.groupindex else 1000)


_WAIT_TAIL = (
    r"(?:\s+to\s+(?:appear|show(?:\s+up)?|be\s+(?:visible|shown|displayed)|load))?"
    r"(?:\s+(?:is|becomes|gets|to\s+be)\s+(?:visible|shown|displayed))?(?:\s+(?:appears|shows(?:\s+up)?|loads))?"
)


@rule(
    rf"wait(?:\s+(?:up\s+to|at\s+most|max)\s+{N})?\s+(?:for|until|till)\s+(?P<target>.+?){_WAIT_TAIL}"
    rf"(?:,?\s+(?:for|up\s+to|within|at\s+most)\s+(?:up\s+to\s+)?(?P<n2>{NUMBER})\s*(?P<unit2>{UNIT}))?",
    rf"wait\s+{N}\s+(?:for|until|till)\s+(?P<target>.+?){_WAIT_TAIL}",
)
def _wait_for(m: re.Match[str]) -> Intent:
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


@rule(
    r"(?:turn|switch|toggle|flip|set|put)\s+(?P<state>on|off)\s+(?P<target>.+)",
    r"(?:turn|switch|set|put|toggle)\s+(?P<target>.+?)\s+(?:back\s+)?(?:to\s+)?(?P<state>on|off)",
    r"(?P<state>enable|activate|disable|deactivate)\s+(?P<target>.+)",
    r"(?:make\s+sure|ensure)\s+(?:that\s+)?(?P<target>.+?)\s+is\s+(?:turned\s+|switched\s+)?"
    r"(?P<state>on|off|enabled|disabled|activated|deactivated)",
    r"(?:toggle|flip)\s+(?P<target>.+)",
)
def _toggle(m: re.Match[str]) -> Intent:
    state = (m["state"] or "").lower() if "state" in m.re.groupindex else ""
    on = None if not state else state in ("on", "enable", "activate", "enabled", "activated")
    return Intent("toggle", target=m["target"], on=on)


@rule(rf"{VERIFY}(?P<target>.+?)\s+is\s+(?:turned\s+|switched\s+)?(?P<state>on|off|enabled|disabled)")
def _check_state(m: re.Match[str]) -> Intent:
    return Intent("check_state", target=m["target"], on=m["state"].lower() in ("on", "enabled"))


@rule(
    r"(?P<verb>scroll|swipe)(?:\s+(?P<dir>down|up))?\s+(?:to|until(?:\s+(?:you|i|we)\s+(?:see|find|reach))?|till|"
    r"towards?)\s+(?P<target>.+?)(?:\s+(?:is|are)\s+(?:visible|shown|displayed))?(?:\s+(?:appears|shows(?:\s+up)?))?",
    r"(?:find|locate|look\s+for|search\s+for)\s+(?P<target>.+?)(?:\s+(?:by\s+)?scrolling(?:\s+(?P<dir>down|up))?)?",
)
def _scroll_to(m: re.Match[str]) -> Intent:
    direction = (m["dir"] or "down").lower()
    if "verb" in m.re.groupindex and m["verb"].lower() == "swipe" and m["dir"]:
        direction = "down" if direction == "up" else "up"
    return Intent("scroll_to", target=m["target"], direction=direction)


@rule(
    rf"(?:{VERIFY})?(?:there\s+is|there's|there\s+are)\s+no\s+(?P<target>.+?)(?:\s+{SHOWN})?",
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:is|are)\s+(?:not|no\s+longer)\s+(?:being\s+)?{SHOWN}",
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:is\s+|are\s+|has\s+|have\s+)?(?:gone|hidden|absent|missing|disappeared|vanished)",
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:does\s+not|doesn't|did\s+not|didn't|do\s+not|don't|isn't|aren't)\s+"
    r"(?:appear|show(?:\s+up)?|exist|visible|shown|displayed|there|present)",
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:should\s+not|shouldn't|must\s+not|mustn't)\s+(?:be\s+)?"
    r"(?:shown|visible|displayed|there|present|appear|show(?:\s+up)?)",
    rf"(?:{VERIFY})?(?:i|we|you)\s+(?:should\s+not|shouldn't|must\s+not|can\s*not|cannot|can't|don't|do\s+not)\s+"
    r"see\s+(?P<target>.+)",
)
def _assert_not(m: re.Match[str]) -> Intent:
    return Intent("assert_not", target=m["target"])


@rule(
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:(?:is|are)\s+)?(?:now\s+)?(?:shown|visible|displayed|there|present|"
    r"on\s+(?:the\s+)?screen|showing|appears|shows(?:\s+up)?|exists)",
    rf"(?:{VERIFY})?(?P<target>.+?)\s+(?:should|must)\s+(?:now\s+)?(?:be\s+)?(?:shown|visible|displayed|there|present|"
    r"appear|show(?:\s+up)?)",
    rf"(?:{VERIFY})?(?:i|we|you)\s+(?:should\s+|must\s+|can\s+)?(?:now\s+)?see\s+(?P<target>.+)",
    r"(?:check|verify|confirm)\s+for\s+(?P<target>.+)",
    r"(?:the\s+)?(?:screen|page|app)\s+(?:shows|says|displays|contains)\s+(?P<target>.+)",
    r"(?:see|expect)\s+(?P<target>.+)",
    rf"{VERIFY}(?P<target>.+?)",
)
def _assert(m: re.Match[str]) -> Intent:
    return Intent("assert", target=m["target"])


@rule(
    r"(?:go|navigate|move|step)\s+back(?:wards)?|back",
    rf"{TAP}\s+(?:the\s+)?back(?:\s+(?:key|button))?",
)
def _back(m: re.Match[str]) -> Intent:
    return Intent("key", text="back")


@rule(
    r"(?:go|return|navigate)\s+(?:to\s+)?(?:the\s+)?home(?:\s+screen)?|home",
    rf"{TAP}\s+(?:the\s+)?home(?:\s+(?:key|button))?",
)
def _home(m: re.Match[str]) -> Intent:
    return Intent("key", text="home")


@rule(
    rf"(?:press|hit|push|use)\s+(?:the\s+)?(?P<key>{KEY})(?:\s+(?:key|button))?",
    rf"{TAP}\s+(?:the\s+)?(?P<key>{KEY})\s+(?:key|button)",
    r"(?:open|show)\s+(?:the\s+)?(?P<key>recent\s+apps|recents|app\s+switcher)",
    r"(?:submit)(?:\s+(?:the|this)\s+form)?(?P<key>)",
)
def _key(m: re.Match[str]) -> Intent:
    name = " ".join(m["key"].lower().split())
    return Intent("key", text=_KEY_NAMES[name] if name else "enter")


@rule(r"(?:re-?start|re-?launch|re-?open)\s+(?P<app>.+)")
def _restart(m: re.Match[str]) -> Intent | None:
    return Intent("restart", target=m["app"]) if app_package(m["app"], strict=False) else None


@rule(r"(?:reset|clear\s+(?:the\s+)?(?:data|state)\s+(?:of|for))\s+(?P<app>.+)")
def _reset(m: re.Match[str]) -> Intent | None:
    return Intent("open", target=m["app"], fresh=True) if app_package(m["app"], strict=False) else None


@rule(
    r"(?:open|launch|start|run|bring\s+up|fire\s+up|switch\s+to|go\s+to|navigate\s+to|show)\s+(?P<app>.+?)"
    r"(?P<fresh>,?\s+(?:fresh|freshly|clean|from\s+scratch|with\s+(?:a\s+)?(?:clean|fresh|cleared|empty)\s+(?:state|data)|"
    r"with\s+(?:its\s+)?(?:data|state)\s+cleared|clearing\s+(?:its\s+)?(?:data|state)))?",
)
def _open(m: re.Match[str]) -> Intent:
    return Intent("open", target=m["app"], fresh=bool(m["fresh"]))


@rule(r"(?:close|stop|kill|quit|exit|force[\s-]*(?:stop|close|quit))\s+(?P<app>.+)")
def _stop(m: re.Match[str]) -> Intent:
    return Intent("stop", target=m["app"])


@rule(
    rf"(?:long[\s-]*(?:press|tap|click)|hold(?:\s+down)?)\s+(?:on\s+)?(?P<target>.+?)(?:\s+for\s+{N})?",
)
def _long_press(m: re.Match[str]) -> Intent:
    point = re.fullmatch(POINT.format(""), m["target"])
    at = (int(point["x"]), int(point["y"])) if point else None
    return Intent("long_press", target=m["target"], ms=_ms(m), point=at)


_TEXT_NOISE = re.compile(r"^(?:the\s+)?(?:text|word|words|value|string)\s+", re.I)


@rule(
    r"(?:type|enter|input|write|fill\s+in|key\s+in|put)\s+(?:in\s+)?(?:my\s+|the\s+)?"
    r"(?P<field>email|e-mail|password|username|user\s+name)(?:\s+(?:as|is|=|:))?\s+(?P<text>\S+)",
    r"(?:fill(?:\s+(?:in|out))?|populate|complete)\s+(?P<field>.+?)\s+with\s+(?P<text>.+)",
    r"(?:set|change|update)\s+(?P<field>.+?)\s+to\s+(?P<text>.+)",
    r"(?:type|enter|input|write|put|key\s+in|fill\s+in|insert|add|use|paste)\s+(?P<text>.+?)\s+"
    r"(?:in|into|inside|in\s+to|on|to|for|as)\s+(?P<field>.+?)",
    r"(?:type|enter|input|write|key\s+in)\s+(?P<text>.+)",
)
def _type(m: re.Match[str]) -> Intent:
    field = m["field"] if "field" in m.re.groupindex else ""
    return Intent("type", target=field, text=_TEXT_NOISE.sub("", m["text"]))


@rule(
    r"(?:clear|empty|erase|wipe|blank)(?:\s+out)?\s+(?:(?:the\s+)?(?:text|contents?|input)\s+(?:in|of|from)\s+)?"
    r"(?P<field>.+)",
    r"delete\s+(?:the\s+|all\s+(?:the\s+)?)?(?:text|contents?|input)\s+(?:in|of|from)\s+(?P<field>.+)",
    r"(?:clear|empty|erase|delete)\s+(?:it|that|the\s+text|text|everything)(?P<field>)",
)
def _clear(m: re.Match[str]) -> Intent:
    field = m["field"]
    return Intent("clear", target="" if re.fullmatch(r"(?:it|that|the\s+text|text)?", field, re.I) else field)


@rule(rf"(?:swipe|fling|drag|slide)\s+(?:from\s+)?{POINT.format('a')}\s+to\s+{POINT.format('b')}")
def _swipe_points(m: re.Match[str]) -> Intent:
    return Intent("swipe", point=(int(m["ax"]), int(m["ay"])), end=(int(m["bx"]), int(m["by"])))


@rule(
    r"(?:swipe|fling|slide)\s+(?:the\s+)?(?:screen\s+|page\s+|list\s+)?(?P<dir>up|down|left|right)(?:wards?)?"
    r"(?:\s+on\s+(?:the\s+)?(?:screen|page|list))?",
)
def _swipe(m: re.Match[str]) -> Intent:
    return Intent("swipe", direction=m["dir"].lower())


@rule(
    r"scroll\s+(?:the\s+)?(?:screen\s+|page\s+|list\s+)?(?P<dir>up|down|left|right)(?:wards?)?"
    r"(?:\s+(?:on\s+)?(?:the\s+)?(?:screen|page|list))?(?:\s+a\s+(?:bit|little))?",
)
def _scroll(m: re.Match[str]) -> Intent:
    return Intent("scroll", direction=m["dir"].lower())


@rule(rf"{TAP}\s+(?:on\s+|at\s+)?{POINT.format('')}")
def _tap_point(m: re.Match[str]) -> Intent:
    return Intent("tap", point=(int(m["x"]), int(m["y"])))


@rule(r"double[\s-]*(?:tap|click)\s+(?:on\s+)?(?P<target>.+)")
def _double_tap(m: re.Match[str]) -> Intent:
    return Intent("tap", target=m["target"], times=2)


@rule(rf"{TAP}(?:\s+(?:on|at))?\s+(?P<target>.+)", r"(?P<target>log\s*out|sign\s*out|logout)")
def _tap(m: re.Match[str]) -> Intent:
    return Intent("tap", target=m["target"])
