"""Maestro flow files, accepted unchanged: translated into CogniSim's own flow form, line by line.

A Maestro file is a header (`appId`, `name`, `tags`, `env`, `onFlowStart`, `onFlowComplete`), a
`---`, then a list of commands. `maestro_translate` turns it into the native document (`name`, `app`,
`tags`, `env`, `steps`) that `runs.flows` validates; every translated step keeps the line and column
of the Maestro command it came from, so errors point into the file the person wrote. Commands that
CogniSim cannot honour (scripts, location, media …) are refused, naming the command and its line:
a flow with one runs nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from core.jsonsafe import control_problem
from core.steps import MAX_ATTEMPTS, MAX_TIMEOUT_MS, MAX_TIMES

from .yamldoc import Where, YDict, YList, plain_scalar, scalar_text, where_of

HEADER = ("appId", "url", "name", "tags", "env", "secrets", "onFlowStart", "onFlowComplete")
# Android key names Maestro accepts (case-insensitive) → CogniSim's `press_key` names.
KEYS = {
    "enter": "enter",
    "home": "home",
    "back": "back",
    "backspace": "del",
    "tab": "tab",
    "volume up": "volume_up",
    "volume down": "volume_down",
    "power": "power",
    "remote dpad up": "dpad_up",
    "remote dpad down": "dpad_down",
    "remote dpad left": "dpad_left",
    "remote dpad right": "dpad_right",
    "search": "search",
    "menu": "menu",
    "app switch": "app_switch",
    "space": "space",
}
REFUSED = {
    "evalScript": "it runs JavaScript; CogniSim steps are data and run no code",
    "runScript": "it runs JavaScript; CogniSim steps are data and run no code",
    "assertTrue": "its condition is a JavaScript expression; use assertVisible / assertNotVisible",
    "travel": "the device's location cannot be set",
    "setLocation": "the device's location cannot be set",
    "addMedia": "files cannot be pushed to the device's gallery",
    "openLink": "deep links are not part of the step vocabulary",
    "openBrowser": "deep links are not part of the step vocabulary",
    "copyTextFrom": "there is no clipboard in the step vocabulary",
    "pasteText": "there is no clipboard in the step vocabulary",
    "inputRandomText": "random input would make runs unrepeatable; use inputText with a value",
    "inputRandomNumber": "random input would make runs unrepeatable; use inputText with a value",
    "inputRandomEmail": "random input would make runs unrepeatable; use inputText with a value",
    "inputRandomPersonName": "random input would make runs unrepeatable; use inputText with a value",
    "startRecording": "screen recording is not supported; every step keeps its screen instead",
    "stopRecording": "screen recording is not supported; every step keeps its screen instead",
    "setAirplaneMode": "system settings cannot be set directly; tap them in the Settings app",
    "toggleAirplaneMode": "system settings cannot be set directly; tap them in the Settings app",
    "clearKeychain": "there is no keychain on Android",
    "assertWithAI": "AI assertions are not supported",
    "assertNoDefectsWithAI": "AI assertions are not supported",
    "extractTextWithAI": "AI extraction is not supported",
    "setOrientation": "the orientation cannot be set",
    "setPermissions": "permissions cannot be granted from a flow",
}
# Selector fields Maestro has that change nothing about which element is meant, or only its timing.
SELECTOR_IGNORED = {"retryTapIfNoChange", "waitUntilVisible", "waitToSettleTimeoutMs", "label", "optional"}
# Maestro's selector fields that CogniSim's element matching honours → the native selector field.
SELECTOR_STATES = {"enabled": "enabled", "checked": "checked", "selected": "selected", "focused": "focused"}
SELECTOR_RELATIONS = {
    "below": "below",
    "above": "above",
    "leftOf": "left_of",
    "rightOf": "right_of",
    "childOf": "child_of",
}
SELECTOR_UNSUPPORTED = {
    "containsChild",
    "containsDescendants",
    "width",
    "height",
    "tolerance",
    "traits",
    "css",
}
PLAIN_VAR = re.compile(r"\$\{([^}]*)\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MaestroProblem(Exception):
    def __init__(self, where: Where, message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


def is_maestro(documents: list[Any]) -> bool:
    """Two documents (a header mapping, then a list of commands), or a header naming `appId`."""
    if len(documents) == 2 and isinstance(documents[0], dict) and isinstance(documents[1], list):
        return True
    return bool(documents) and isinstance(documents[0], dict) and "appId" in documents[0]


def _step(where: Where, action: str, keys_at: dict[str, Where] | None = None, **fields: Any) -> YDict:
    step = YDict(action=action, **{k: v for k, v in fields.items() if v is not None})
    step.where, step.keys_at = where, dict(keys_at or {})
    return step


def _list(where: Where, items: list[YDict]) -> YList:
    steps = YList(items)
    steps.where, steps.items_at = where, [s.where for s in items]
    return steps


class _Translator:
    def __init__(self, app: str) -> None:
        self.app = app
        self.problems: list[MaestroProblem] = []

    def fail(self, where: Where, message: str) -> None:
        self.problems.append(MaestroProblem(where, message))

    def number(self, value: Any, key: str, where: Where, command: str) -> int | None:
        """`value[key]`, a whole number written as one or as text ("500", 2.0); None, with a problem, otherwise."""
        item = value[key]
        try:
            number = float(str(item).strip()) if not isinstance(item, bool) else math.nan
        except ValueError:
            number = math.nan
        if not number.is_integer():
            at = value.at(key) if isinstance(value, YDict) else where
            self.fail(at, f"{command}: '{key}' must be a whole number, not {item!r}.")
            return None
        return int(number)

    def bounded(self, value: Any, key: str, where: Where, command: str, low: int, high: int) -> int | None:
        """`value[key]` as `number` reads it, within [low, high]; the problem names the Maestro field."""
        number = self.number(value, key, where, command)
        if number is not None and not low <= number <= high:
            at = value.at(key) if isinstance(value, YDict) else where
            self.fail(at, f"{command}: '{key}' must be a whole number from {low} to {high}, not {number}.")
            return None
        return number

    # selectors ---------------------------------------------------------------------------------
    def selector(self, value: Any, where: Where, command: str, *, anchor: str = "") -> dict[str, Any] | None:
        """A Maestro selector → a native one; `anchor` names the relation when this is the element a relation
        (`below`, `above`, `childOf`) is relative to, which cannot have relations of its own.

        Maestro's `text` is `text` with `text_match: maestro` (a regular expression, or the text itself, matched
        against the text and the content-desc); an `id` with a regular expression's syntax in it takes it too
        (matched against the resource-id and its part after the last `/`; a plain id matches as itself). Its
        fields all hold at once, as native ones do; a selector with neither text nor id (only states or
        relations) means any element: the text `.*`."""
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return {"text": str(value), "text_match": "maestro"}
        if not isinstance(value, dict):
            self.fail(where, f"{command}: expected a text or a selector mapping (text, id, index …).")
            return None
        selector: dict[str, Any] = {}
        for key, item in value.items():
            at = value.at(key) if isinstance(value, YDict) else where
            if key == "text":
                selector.update(text=str(item), text_match="maestro")
            elif key == "id":
                selector["id"] = str(item)
                if re.escape(selector["id"]) != selector["id"]:  # a pattern: matched as Maestro's regex
                    selector["text_match"] = "maestro"
            elif key == "index":
                index = self.number(value, "index", where, command)
                if index is not None:
                    selector["index"] = index
            elif key in SELECTOR_STATES:
                flag = {"true": True, "false": False}.get(str(item).lower()) if not isinstance(item, bool) else item
                if flag is None:
                    self.fail(at, f"{command}: '{key}' must be true or false, not {item!r}.")
                else:
                    selector[SELECTOR_STATES[key]] = flag
            elif key in SELECTOR_RELATIONS and anchor:
                self.fail(at, f"{command}: the selector in '{anchor}' cannot have '{key}' itself.")
            elif key in SELECTOR_RELATIONS:
                inner = self.selector(item, where_of(item, at), f"{command} {key}", anchor=key)
                if inner is not None:
                    selector[SELECTOR_RELATIONS[key]] = inner
            elif key in SELECTOR_IGNORED or (not anchor and key in ("repeat", "delay", "point")):
                continue
            elif key in SELECTOR_UNSUPPORTED:
                self.fail(
                    at,
                    f"{command}: the selector field '{key}' is not supported; use text, id, index, "
                    f"{', '.join([*SELECTOR_STATES, *SELECTOR_RELATIONS])}.",
                )
            else:
                self.fail(at, f"{command}: unknown selector field '{key}'.")
        if not ("text" in selector or "id" in selector):
            if not any(key in selector for key in (*SELECTOR_STATES.values(), *SELECTOR_RELATIONS.values())):
                self.fail(where, f"{command}: the selector needs text, id, a state or a relation.")
                return None
            selector = {"text": ".*", "text_match": "maestro", **selector}
        return selector

    def condition(self, value: Any, where: Where, command: str) -> dict[str, Any] | None | bool:
        """`{visible: sel}` / `{notVisible: sel}` (or both: both must hold) → native condition; `platform` is
        decided here.

        Returns False when the condition can never hold on Android (platform: iOS)."""
        if not isinstance(value, dict):
            self.fail(where, f"{command}: the condition must be a mapping (visible, notVisible, platform).")
            return None
        native: dict[str, Any] = {}
        for key, item in value.items():
            at = value.at(key) if isinstance(value, YDict) else where
            if key == "visible" or key == "notVisible":
                selector = self.selector(item, at, f"{command} {key}")
                if selector is not None:
                    native["visible" if key == "visible" else "not_visible"] = selector
            elif key == "platform":
                if str(item).lower() != "android":
                    return False
            elif key == "true":
                self.fail(at, f"{command}: 'true:' conditions are JavaScript expressions, which CogniSim cannot run.")
            elif key not in ("label", "optional"):
                self.fail(at, f"{command}: unknown condition field '{key}'.")
        return native or None

    # commands ----------------------------------------------------------------------------------
    def commands(self, items: Any, where: Where, context: str) -> YList:
        if not isinstance(items, list):
            self.fail(where, f"{context}: expected a list of commands.")
            return _list(where, [])
        out: list[YDict] = []
        for n, item in enumerate(items):
            at = items.at(n) if isinstance(items, YList) else where
            out.extend(self.command(item, at))
        return _list(where, out)

    def command(self, item: Any, where: Where) -> list[YDict]:
        if isinstance(item, str):
            name, value, value_at = item, None, where
        elif isinstance(item, dict) and len(item) == 1:
            name, value = next(iter(item.items()))
            value_at = where_of(value, item.at(name) if isinstance(item, YDict) else where)
        else:
            self.fail(where, "a Maestro command is one name, like '- back' or '- tapOn: Sign in'.")
            return []
        if name in REFUSED:
            self.fail(where, f"the Maestro command '{name}' cannot run on CogniSim: {REFUSED[name]}.")
            return []
        handler = _COMMANDS.get(name)
        if handler is None:
            self.fail(where, f"unknown Maestro command '{name}'.")
            return []
        extras: dict[str, Any] = {}
        if isinstance(value, dict):
            if value.get("label") is not None:
                extras["name"] = scalar_text(value["label"])
                if problem := control_problem("label", extras["name"]):
                    self.fail(value.at("label") if isinstance(value, YDict) else where, f"{name}: {problem}")
                    return []
            if value.get("optional") is True:
                extras["optional"] = True
        steps = handler(self, value, where, value_at)
        for step in steps:
            step.update({k: v for k, v in extras.items() if k not in step})
        return steps

    def app_of(self, value: Any, where: Where, command: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and value.get("appId"):
            return str(value["appId"])
        if not self.app:
            self.fail(where, f"{command}: no appId in the header nor in the command.")
        return self.app

    def only(self, value: Any, where: Where, command: str, allowed: set[str]) -> bool:
        if not isinstance(value, dict):
            return True
        bad = [k for k in value if k not in allowed | {"label", "optional"}]
        for key in bad:
            at = value.at(key) if isinstance(value, YDict) else where
            self.fail(at, f"{command}: '{key}' is not supported.")
        return not bad


def _launch_app(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if not t.only(value, where, "launchApp", {"appId", "url", "clearState", "stopApp", "clearKeychain"}):
        return []
    package = t.app_of(
        value if not isinstance(value, dict) else {"appId": value.get("appId") or value.get("url")}, where, "launchApp"
    )
    options = value if isinstance(value, dict) else {}
    steps = []
    if options.get("stopApp", True) is not False:  # Maestro restarts a running app by default
        steps.append(_step(where, "stop_app", package=package))
    steps.append(_step(where, "launch_app", package=package, clear_state=bool(options.get("clearState", False))))
    return steps


def _press(action: str, command: str) -> Callable[[_Translator, Any, Where, Where], list[YDict]]:
    def translate(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
        if value is None:
            t.fail(where, f"{command}: which element? (tapOn: Sign in, or tapOn: {{id: sign_in}}).")
            return []
        if isinstance(value, dict) and "point" in value:
            point = str(value["point"])
            match = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", point)
            if match is None:
                t.fail(
                    where, f"{command}: point {point!r} must be absolute pixels 'x, y' (percentages are not supported)."
                )
                return []
            target: dict[str, Any] = {"x": int(match[1]), "y": int(match[2])}
        else:
            selector = t.selector(value, value_at, command)
            if selector is None:
                return []
            target = selector
        times = 2 if command == "doubleTapOn" else 1
        if isinstance(value, dict) and value.get("repeat") is not None and command == "tapOn":
            repeat = t.number(value, "repeat", value_at, command)
            if repeat is None:
                return []
            times = max(1, repeat)
        return [_step(where, action, **target) for _ in range(times)]

    return translate


def _assert(action: str, command: str) -> Callable[[_Translator, Any, Where, Where], list[YDict]]:
    def translate(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
        selector = t.selector(value, value_at, command)
        return [_step(where, action, **selector)] if selector else []

    return translate


def _input_text(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if isinstance(value, dict):
        if not t.only(value, where, "inputText", {"text"}):
            return []
        value = value.get("text")
    if value is None or isinstance(value, dict | list):
        t.fail(where, "inputText: the text to type is required.")
        return []
    text = scalar_text(value)
    if problem := control_problem("inputText", text):
        t.fail(where, f"inputText: {problem}")
        return []
    return [_step(where, "type", text=text)]


def _erase_text(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if isinstance(value, dict) and not t.only(value, where, "eraseText", {"charactersToErase"}):
        return []
    count = value.get("charactersToErase") if isinstance(value, dict) else value
    if count is None:
        return [_step(where, "clear_text")]
    times = t.bounded(
        value if isinstance(value, dict) else {"charactersToErase": count},
        "charactersToErase",
        where,
        "eraseText",
        1,
        MAX_TIMES,
    )
    if times is None:
        return []
    inner = _list(where, [_step(where, "press_key", key="del")])
    return [_step(where, "repeat", times=times, steps=inner, name=f"eraseText {times}")]


def _wait_until(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if not isinstance(value, dict) or not t.only(
        value, where, "extendedWaitUntil", {"visible", "notVisible", "timeout"}
    ):
        if not isinstance(value, dict):
            t.fail(where, "extendedWaitUntil: expects 'visible' or 'notVisible', and 'timeout'.")
        return []
    timeout = (
        t.bounded(value, "timeout", where, "extendedWaitUntil", 1, MAX_TIMEOUT_MS) if "timeout" in value else 10_000
    )
    if timeout is None:
        return []
    if "visible" in value:
        selector = t.selector(
            value["visible"], value.at("visible") if isinstance(value, YDict) else where, "extendedWaitUntil visible"
        )
        return [_step(where, "wait_for", timeout_ms=timeout, **selector)] if selector else []
    if "notVisible" in value:
        at = value.at("notVisible") if isinstance(value, YDict) else where
        selector = t.selector(value["notVisible"], at, "extendedWaitUntil notVisible")
        return [_step(where, "assert_not_visible", timeout_ms=timeout, **selector)] if selector else []
    t.fail(where, "extendedWaitUntil: expects 'visible' or 'notVisible'.")
    return []


def _scroll_until_visible(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    allowed = {
        "element",
        "direction",
        "timeout",
        "speed",
        "visibilityPercentage",
        "centerElement",
        "waitToSettleTimeoutMs",
    }
    if not isinstance(value, dict) or "element" not in value:
        t.fail(where, "scrollUntilVisible: 'element' (the selector to scroll to) is required.")
        return []
    if not t.only(value, where, "scrollUntilVisible", allowed):
        return []
    if value.get("centerElement") is True:
        t.fail(
            value.at("centerElement") if isinstance(value, YDict) else where,
            "scrollUntilVisible: 'centerElement' is not supported.",
        )
        return []
    direction = str(value.get("direction", "DOWN")).lower()
    if direction not in ("down", "up"):
        t.fail(where, f"scrollUntilVisible: direction {direction.upper()} is not supported (DOWN or UP).")
        return []
    at = value.at("element") if isinstance(value, YDict) else where
    selector = t.selector(value["element"], at, "scrollUntilVisible")
    fields: dict[str, Any] = {"direction": direction}
    if "timeout" in value:
        fields["timeout_ms"] = t.bounded(value, "timeout", where, "scrollUntilVisible", 1, MAX_TIMEOUT_MS)
        if fields["timeout_ms"] is None:
            return []
    return [_step(where, "scroll_until_visible", **selector, **fields)] if selector else []


def _point(text: Any, where: Where, t: _Translator) -> dict[str, int] | None:
    match = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", str(text))
    if match is None:
        t.fail(where, f"swipe: {text!r} must be absolute pixels 'x, y' (percentages are not supported).")
        return None
    return {"x": int(match[1]), "y": int(match[2])}


def _swipe(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if not isinstance(value, dict):
        t.fail(where, "swipe: give 'direction', or 'start' and 'end'.")
        return []
    if "from" in value:
        t.fail(
            value.at("from") if isinstance(value, YDict) else where,
            "swipe: swiping on an element ('from') is not supported; swipe by direction or points.",
        )
        return []
    if not t.only(value, where, "swipe", {"direction", "start", "end", "duration", "waitToSettleTimeoutMs"}):
        return []
    fields: dict[str, Any] = {}
    if "duration" in value:
        fields["duration_ms"] = t.bounded(value, "duration", where, "swipe", 1, 10_000)
        if fields["duration_ms"] is None:
            return []
    if "direction" in value:
        direction = str(value["direction"]).lower()
        if direction not in ("up", "down", "left", "right"):
            t.fail(where, f"swipe: unknown direction {value['direction']!r}.")
            return []
        return [_step(where, "swipe", direction=direction, **fields)]
    start, end = _point(value.get("start"), where, t), _point(value.get("end"), where, t)
    if start is None or end is None:
        return []
    return [_step(where, "swipe", None, **{"from": start, "to": end}, **fields)]


def _simple(action: str, **fields: Any) -> Callable[[_Translator, Any, Where, Where], list[YDict]]:
    def translate(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
        if isinstance(value, dict):
            t.only(value, where, action, set())
        return [_step(where, action, **fields)]

    return translate


def _press_key(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    name = value.get("key") if isinstance(value, dict) else value
    key = KEYS.get(str(name).strip().lower()) if name is not None else None
    if key is None:
        t.fail(where, f"pressKey: unknown key {name!r}; known: {', '.join(k.title() for k in KEYS)}.")
        return []
    return [_step(where, "press_key", key=key)]


def _nothing(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    """Commands CogniSim does on every step anyway (wait for the screen to settle)."""
    return []


def _screenshot(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    label = value.get("path") if isinstance(value, dict) else value
    return [_step(where, "screenshot", name=f"takeScreenshot {label}" if label else None)]


def _stop_app(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    return [_step(where, "stop_app", package=t.app_of(value, where, "stopApp"))]


def _clear_state(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    """Wipe the app's data: CogniSim clears state when it launches, so launch cleared and stop it again."""
    package = t.app_of(value, where, "clearState")
    return [
        _step(where, "launch_app", package=package, clear_state=True, name="clearState"),
        _step(where, "stop_app", package=package, name="clearState"),
    ]


def _env(t: _Translator, value: Any, where: Where, command: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        t.fail(where, f"{command}: 'env' must be a mapping of names to values.")
        return None
    return value


def _run_flow(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if isinstance(value, str):
        return [_step(where, "run_flow", file=value)]
    if not isinstance(value, dict):
        t.fail(where, "runFlow: give a file name, or 'file' / 'commands' with optional 'when' and 'env'.")
        return []
    if not t.only(value, where, "runFlow", {"file", "commands", "when", "env"}):
        return []
    fields: dict[str, Any] = {}
    if "when" in value:
        condition = t.condition(value["when"], value.at("when") if isinstance(value, YDict) else where, "runFlow")
        if condition is False:
            return []  # only for iOS: never runs on Android
        if condition:
            fields["when"] = condition
    env = _env(t, value.get("env"), where, "runFlow")
    if env:
        fields["env"] = env
    if ("file" in value) == ("commands" in value):
        t.fail(where, "runFlow: give either 'file' or 'commands'.")
        return []
    if "file" in value:
        return [_step(where, "run_flow", file=str(value["file"]), **fields)]
    at = value.at("commands") if isinstance(value, YDict) else where
    body = t.commands(value["commands"], at, "runFlow")
    return [_step(where, "run_flow", steps=body, **fields)] if body else []  # nothing to do (hideKeyboard …)


def _repeat(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if not isinstance(value, dict) or "commands" not in value:
        t.fail(where, "repeat: 'commands' is required, with 'times' and/or 'while'.")
        return []
    if not t.only(value, where, "repeat", {"times", "while", "commands"}):
        return []
    fields: dict[str, Any] = {}
    if "times" in value:
        fields["times"] = t.bounded(value, "times", where, "repeat", 1, MAX_TIMES)
        if fields["times"] is None:
            return []
    if "while" in value:
        condition = t.condition(value["while"], value.at("while") if isinstance(value, YDict) else where, "repeat")
        if condition is False:
            return []
        if condition:
            fields["while"] = condition
    at = value.at("commands") if isinstance(value, YDict) else where
    body = t.commands(value["commands"], at, "repeat")
    return [_step(where, "repeat", steps=body, **fields)] if body else []


def _retry(t: _Translator, value: Any, where: Where, value_at: Where) -> list[YDict]:
    if not isinstance(value, dict):
        t.fail(where, "retry: give 'commands' (or 'file') and 'maxRetries'.")
        return []
    if not t.only(value, where, "retry", {"maxRetries", "commands", "file", "env"}):
        return []
    retries = t.bounded(value, "maxRetries", where, "retry", 0, MAX_ATTEMPTS - 1) if "maxRetries" in value else 1
    if retries is None:
        return []
    if ("file" in value) == ("commands" in value):
        t.fail(where, "retry: give either 'file' or 'commands'.")
        return []
    if "file" in value:
        env = _env(t, value.get("env"), where, "retry")
        body = _list(where, [_step(where, "run_flow", file=str(value["file"]), env=env or None)])
    else:
        body = t.commands(value["commands"], value.at("commands") if isinstance(value, YDict) else where, "retry")
    return [_step(where, "retry", max_attempts=retries + 1, steps=body)] if body else []


_COMMANDS: dict[str, Callable[[_Translator, Any, Where, Where], list[YDict]]] = {
    "launchApp": _launch_app,
    "tapOn": _press("tap", "tapOn"),
    "doubleTapOn": _press("tap", "doubleTapOn"),
    "longPressOn": _press("long_press", "longPressOn"),
    "inputText": _input_text,
    "eraseText": _erase_text,
    "assertVisible": _assert("assert_visible", "assertVisible"),
    "assertNotVisible": _assert("assert_not_visible", "assertNotVisible"),
    "extendedWaitUntil": _wait_until,
    "scrollUntilVisible": _scroll_until_visible,
    "swipe": _swipe,
    "scroll": _simple("swipe", direction="up"),
    "back": _simple("press_key", key="back"),
    "pressKey": _press_key,
    "hideKeyboard": _nothing,
    "waitForAnimationToEnd": _nothing,
    "takeScreenshot": _screenshot,
    "stopApp": _stop_app,
    "killApp": _stop_app,
    "clearState": _clear_state,
    "runFlow": _run_flow,
    "repeat": _repeat,
    "retry": _retry,
}
COMMANDS = tuple(_COMMANDS)


def _check_vars(t: _Translator, value: Any, where: Where) -> None:
    """`${NAME}` only: Maestro's `${…}` also takes JavaScript, which CogniSim does not run."""
    if isinstance(value, str):
        for match in PLAIN_VAR.finditer(value):
            if not NAME.match(match.group(1).strip()):
                t.fail(where, f"'${{{match.group(1)}}}' is a JavaScript expression; only ${{NAME}} variables work.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_vars(t, item, value.at(key) if isinstance(value, YDict) else where)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_vars(t, item, value.at(n) if isinstance(value, YList) else where)


def maestro_translate(documents: list[Any]) -> tuple[YDict, list[MaestroProblem]]:
    """The native flow document of a Maestro file, and every problem found (each with its place)."""
    header = documents[0] if documents and isinstance(documents[0], dict) else YDict()
    commands = documents[1] if len(documents) > 1 else None
    t = _Translator(str(header.get("appId") or header.get("url") or ""))
    head_at = where_of(header)
    if len(documents) != 2 or not isinstance(commands, list):
        t.fail(head_at, "a Maestro flow is a header (appId: …), a line '---', then the list of commands.")
        return YDict(), t.problems
    for key in header:
        if key not in HEADER:
            t.fail(
                header.at(key) if isinstance(header, YDict) else head_at,
                f"unknown Maestro header field '{key}'; CogniSim reads: {', '.join(HEADER)}.",
            )
    _check_vars(t, commands, where_of(commands))
    commands = _bools_as_text(commands)
    header = _bools_as_text(header)
    steps: list[YDict] = []
    for hook in ("onFlowStart",):
        if hook in header:
            hook_value = header[hook]
            hook_at = header.at(hook) if isinstance(header, YDict) else head_at
            items = hook_value.get("commands") if isinstance(hook_value, dict) else hook_value
            steps.extend(t.commands(items, hook_at, hook))
    steps.extend(t.commands(commands, where_of(commands), "commands"))
    if "onFlowComplete" in header:
        hook_value = header["onFlowComplete"]
        hook_at = header.at("onFlowComplete") if isinstance(header, YDict) else head_at
        items = hook_value.get("commands") if isinstance(hook_value, dict) else hook_value
        for step in t.commands(items, hook_at, "onFlowComplete"):  # run even after a failure, as Maestro's do
            step["always"] = True
            steps.append(step)
    native = YDict()
    native.where, native.keys_at = head_at, {}
    for key, native_key in (("name", "name"), ("tags", "tags"), ("env", "env"), ("secrets", "secrets")):
        if key in header:
            value = header[key]
            if key == "env" and isinstance(value, YDict):  # values are text as written (`PIN: 0123` is "0123")
                value = _texts_of(value)
            native[native_key] = value
            native.keys_at[native_key] = header.at(key) if isinstance(header, YDict) else head_at
    if t.app:
        native["app"] = t.app
        native.keys_at["app"] = header.at("appId") if "appId" in header and isinstance(header, YDict) else head_at
    native["steps"] = _list(where_of(commands), steps)
    native.keys_at["steps"] = where_of(commands)
    return native, t.problems


def _texts_of(env: YDict) -> YDict:
    out = YDict({k: v if isinstance(v, dict | list) else scalar_text(v) for k, v in env.items()})
    out.where, out.keys_at = env.where, env.keys_at
    return out


def _short(step: dict[str, Any]) -> Any:
    """A translated step in the short form people write: `tap: {text: OK}`, or just `screenshot`."""
    fields = {k: v for k, v in step.items() if k != "action"}
    if "steps" in fields:
        fields["steps"] = [_short(s) for s in fields["steps"]]
    fields = {k: _plain(v) for k, v in fields.items()}
    return {step["action"]: fields} if fields else step["action"]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return plain_scalar(value)


# Where Maestro reads text (a selector's, the text to type, a label), `true`/`false` are that text.
TEXT_KEYS = {"text", "id", "label", "visible", "notVisible", "element", *SELECTOR_RELATIONS}
TEXT_COMMANDS = {"tapOn", "doubleTapOn", "longPressOn", "assertVisible", "assertNotVisible", "inputText"}


def _bools_as_text(value: Any) -> Any:
    """The commands with a boolean written where text is read (`tapOn: true`, `{text: false}`) as that text."""
    if isinstance(value, dict):
        single = len(value) == 1 and next(iter(value)) in TEXT_COMMANDS
        out = YDict(
            {
                k: scalar_text(v) if isinstance(v, bool) and (k in TEXT_KEYS or single) else _bools_as_text(v)
                for k, v in value.items()
            }
        )
        out.where, out.keys_at = where_of(value), getattr(value, "keys_at", {})
        return out
    if isinstance(value, list):
        items = YList(_bools_as_text(v) for v in value)
        items.where, items.items_at = where_of(value), getattr(value, "items_at", [])
        return items
    return value


def maestro_convert(text: str) -> str:
    """The native flow file of a Maestro file (variables and other files' names kept as written).

    Raises MaestroProblem (the first problem) when the file is not Maestro or cannot be translated."""
    import yaml

    from .yamldoc import yaml_documents

    documents = yaml_documents(text)
    if not is_maestro(documents):
        raise MaestroProblem(
            where_of(documents[0]) if documents else (1, 1),
            "this is not a Maestro flow file (a header with appId, a line '---', then the commands).",
        )
    native, problems = maestro_translate(documents)
    if problems:
        raise problems[0]
    order = ("name", "app", "tags", "env", "secrets")
    document: dict[str, Any] = {k: _plain(native[k]) for k in order if k in native}
    document["steps"] = [_short(s) for s in native["steps"]]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def _maestro_selector(step: dict[str, Any]) -> Any:
    found: dict[str, Any] = {k: step[k] for k in ("text", "id") if k in step}
    if "desc" in step:
        if "text" in step:
            raise ValueError("a selector with both text and desc has no Maestro form (Maestro has one text)")
        found["text"] = step["desc"]  # Maestro's text also matches the accessibility text
    for key in ("index", *SELECTOR_STATES):
        if key in step:
            found[key] = step[key]
    for maestro, native in SELECTOR_RELATIONS.items():
        if isinstance(step.get(native), dict):
            found[maestro] = _maestro_selector(step[native])
    return found["text"] if set(found) == {"text"} else found


def _maestro_command(step: dict[str, Any], n: int) -> list[Any]:
    """One native step as Maestro commands; raises ValueError for a step Maestro cannot express."""
    action = step["action"]
    if action == "launch_app":
        return [
            {"launchApp": {"appId": step["package"], "clearState": bool(step.get("clear_state")), "stopApp": False}}
        ]
    if action == "stop_app":
        return [{"stopApp": step["package"]}]
    if action in ("tap", "long_press"):
        name = "tapOn" if action == "tap" else "longPressOn"
        target = {"point": f"{step['x']}, {step['y']}"} if "x" in step else _maestro_selector(step)
        return [{name: target}]
    if action in ("type", "clear_text"):
        focus = [{"tapOn": _maestro_selector(step["into"])}] if step.get("into") else []
        return focus + ([{"inputText": step["text"]}] if action == "type" else ["eraseText"])
    if action == "swipe":
        if "direction" in step:
            return [{"swipe": {"direction": step["direction"].upper()}}]
        start, end = step["from"], step["to"]
        return [{"swipe": {"start": f"{start['x']}, {start['y']}", "end": f"{end['x']}, {end['y']}"}}]
    if action == "scroll_until_visible":
        direction = step.get("direction", "down").upper()
        return [{"scrollUntilVisible": {"element": _maestro_selector(step), "direction": direction}}]
    if action == "press_key":
        key = step["key"]
        if key == "back":
            return ["back"]
        names = {native: maestro.title() for maestro, native in KEYS.items()}
        if key not in names:
            raise ValueError(f"step {n} (press_key {key}) has no Maestro key")
        return [{"pressKey": names[key]}]
    if action in ("assert_visible", "assert_not_visible"):
        return [{"assertVisible" if action == "assert_visible" else "assertNotVisible": _maestro_selector(step)}]
    if action == "wait_for":
        return [{"extendedWaitUntil": {"visible": _maestro_selector(step), "timeout": step.get("timeout_ms", 10_000)}}]
    if action == "screenshot":
        return [{"takeScreenshot": f"screenshot-{n}"}]
    if action in ("repeat", "retry", "run_flow"):
        inner = [c for i, s in enumerate(step["steps"], start=1) for c in _maestro_command(s, i)]
        if action == "repeat":
            body: dict[str, Any] = {"commands": inner}
            if "times" in step:
                body["times"] = step["times"]
            if "while" in step:
                body["while"] = _maestro_condition(step["while"])
            return [{"repeat": body}]
        if action == "retry":
            return [{"retry": {"maxRetries": step["max_attempts"] - 1, "commands": inner}}]
        return [{"runFlow": {"when": _maestro_condition(step["when"]), "commands": inner}}]
    raise ValueError(f"step {n} ({action}) has no Maestro command")


def _maestro_condition(condition: dict[str, Any]) -> dict[str, Any]:
    return {"visible" if kind == "visible" else "notVisible": _maestro_selector(sel) for kind, sel in condition.items()}


def maestro_export(*, name: str, app: str, steps: list[dict[str, Any]]) -> str:
    """Native steps (as the step API takes them) as a Maestro flow file, for people who keep Maestro files.
    The steps marked `always` at the end become its `onFlowComplete`.

    Raises ValueError naming the first step Maestro cannot express (`sleep`, `ask_user`, `always` before
    the end)."""
    import yaml

    commands: list[Any] = []
    complete: list[Any] = []
    for n, step in enumerate(steps, start=1):
        if not step.get("always") and complete:
            raise ValueError(f"step {n - 1} is marked always: Maestro has such steps only at the end (onFlowComplete).")
        converted = _maestro_command(step, n)
        if step.get("optional"):
            converted = [
                {k: {**(v if isinstance(v, dict) else {"text": v}), "optional": True}} if isinstance(c, dict) else c
                for c in converted
                for k, v in (c.items() if isinstance(c, dict) else [(None, None)])
            ]
        if step.get("always"):
            complete += converted
        else:
            commands += converted
    header: dict[str, Any] = {"appId": app, "name": name} if name else {"appId": app}
    if complete:
        header["onFlowComplete"] = complete
    return yaml.safe_dump(header, sort_keys=False) + "---\n" + yaml.safe_dump(commands, sort_keys=False, width=120)
