"""The step vocabulary of SPEC §3, written once on top of the driver primitives.

`perform` takes params already validated upstream. A primitive that changes the
device is only sent while the deadline has not passed, and nothing after the
last one raises `ActionTimeout`: a retried step never applies its effect twice.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from core.steps import BLOCK_ACTIONS, KEYS
from devices.drivers.base import (
    ActionOutcome,
    ActionTimeout,
    AssertionFailed,
    DeviceDriver,
    ElementNotFound,
    UnsupportedInput,
)
from devices.uitree import Node, describe_selector, find_nodes, parse, tappable, ui_hash, visible_texts

LONG_PRESS_MS = 800
SWIPE_MS = 300
SETTLE_PAUSE = 0.02
WAIT_POLL = 0.05
AFTER_CHANGE_DUMPS = 3

Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Screen:
    xml: str
    nodes: list[Node]

    @property
    def package(self) -> str:
        return self.nodes[0].package if self.nodes else "the screen"


@dataclass
class _Done:
    """What a handler did. `seen` is the screen it read last, or None when it changed the device."""

    result: dict[str, Any]
    effect: dict[str, Any] = field(default_factory=dict)
    seen: str | None = None
    screenshot: bytes | None = None


def perform(driver: DeviceDriver, *, action: str, params: Params, deadline: float) -> ActionOutcome:
    """Run one step; `deadline` is a `time.monotonic()` value."""
    if action in BLOCK_ACTIONS:  # control flow runs its inner steps through this function
        from devices import flowcontrol

        return flowcontrol.perform(driver, action=action, params=params, deadline=deadline)
    handler = _HANDLERS.get(action)
    if handler is None:
        raise ValueError(f"Unknown action {action!r}.")
    _check(deadline, action)
    done = handler(driver, params, deadline)
    xml = done.seen if done.seen is not None else _after_change(driver, deadline)
    state = _state(driver, xml)
    effect = {"action": action, **done.effect, **state}
    return ActionOutcome(result=done.result, effect=effect, state=state, screenshot=done.screenshot)


def device_state(driver: DeviceDriver) -> dict[str, str]:
    return _state(driver, driver.dump_ui())


def _state(driver: DeviceDriver, xml: str) -> dict[str, str]:
    return {"foreground": driver.foreground_package(), "screen": ui_hash(xml)}


def _check(deadline: float, doing: str) -> None:
    if time.monotonic() >= deadline:
        raise ActionTimeout(f"The step ran out of time before {doing}.")


def _after_change(driver: DeviceDriver, deadline: float) -> str:
    """The screen once it stops changing, as far as the deadline allows; never raises a timeout."""
    xml = driver.dump_ui()
    for _ in range(AFTER_CHANGE_DUMPS):
        if time.monotonic() >= deadline:
            break
        again = driver.dump_ui()
        if again == xml:
            break
        xml = again
    return xml


def _settled(driver: DeviceDriver, deadline: float) -> _Screen:
    """Two equal dumps in a row."""
    xml = driver.dump_ui()
    while True:
        _check(deadline, "the screen settled")
        again = driver.dump_ui()
        if again == xml:
            return _Screen(xml, parse(xml))
        xml = again
        time.sleep(max(0.0, min(SETTLE_PAUSE, deadline - time.monotonic())))


def _selector(params: Params) -> dict[str, Any]:
    return {key: params[key] for key in ("text", "id", "desc", "index") if key in params}


def _element(node: Node) -> dict[str, Any]:
    return {"text": node.text, "id": node.resource_id, "desc": node.content_desc, "bounds": list(node.bounds)}


def _recorded(node: Node | None) -> dict[str, Any] | None:
    return {**_element(node), "class": node.class_name} if node else None


def _visible(screen: _Screen) -> str:
    texts = visible_texts(screen.nodes)
    if not texts:
        return "Nothing readable is on screen."
    return "Visible: " + ", ".join(json.dumps(text, ensure_ascii=False) for text in texts)


def _not_found(screen: _Screen, selector: Mapping[str, Any], why: str = "") -> ElementNotFound:
    index = selector.get("index")
    unindexed = {key: value for key, value in selector.items() if key != "index"}
    total = len(find_nodes(screen.nodes, unindexed)) if index is not None else 0
    where = f"on {screen.package}{why}"
    if total:
        message = f"Only {total} element(s) with {describe_selector(unindexed)} {where}, no index {index}."
    else:
        message = f"No element with {describe_selector(selector)} {where}."
    details = {"selector": dict(selector), "package": screen.package, "visible": visible_texts(screen.nodes)}
    return ElementNotFound(f"{message} {_visible(screen)}", details=details)


def _resolve(screen: _Screen, selector: Mapping[str, Any]) -> Node:
    """The element to act on: without an index, the first match that reacts to a touch, if any."""
    matches = find_nodes(screen.nodes, selector)
    if not matches:
        raise _not_found(screen, selector)
    if selector.get("index") is None:
        return next((node for node in matches if tappable(screen.nodes, node)), matches[0])
    return matches[0]


def _focus(driver: DeviceDriver, selector: Mapping[str, Any], deadline: float) -> Node:
    field = _resolve(_settled(driver, deadline), selector)
    _check(deadline, "focusing the field")
    driver.tap(*field.center)
    return field


def _launch_app(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    package, clear = params["package"], bool(params.get("clear_state", False))
    driver.launch_app(package, clear_state=clear)
    return _Done({"package": package}, {"package": package, "clear_state": clear})


def _stop_app(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    driver.stop_app(params["package"])
    return _Done({"package": params["package"]}, {"package": params["package"]})


def _press(driver: DeviceDriver, params: Params, deadline: float, *, long: bool) -> _Done:
    target: Node | None = None
    if "x" in params and "y" in params:
        x, y = int(params["x"]), int(params["y"])
    else:
        target = _resolve(_settled(driver, deadline), _selector(params))
        x, y = target.center
    _check(deadline, "pressing")
    effect: dict[str, Any] = {"element": _recorded(target), "point": [x, y]}
    if long:
        effect["duration_ms"] = int(params.get("duration_ms", LONG_PRESS_MS))
        driver.long_press(x, y, effect["duration_ms"])
    else:
        driver.tap(x, y)
    return _Done({"element": _element(target)} if target else {"point": [x, y]}, effect)


def _type(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    text: str = params["text"]
    field = _focus(driver, params["into"], deadline) if params.get("into") else None
    _check(deadline, "typing")
    driver.input_text(text)
    return _Done(
        {"into": _element(field) if field else None, "length": len(text)},
        {"text": text, "into": _recorded(field)},
    )


def _clear_text(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    """Delete the field's text from its end.

    An empty field shows its hint as its text in the dump, and the dump cannot tell the
    two apart, so such a field gets as many (harmless) presses of del as its hint has
    characters.
    """
    if params.get("into"):
        field = _focus(driver, params["into"], deadline)
    else:
        screen = _settled(driver, deadline)
        focused = next((node for node in screen.nodes if node.focused), None)
        if focused is None:
            message = f"No focused text field to clear on {screen.package}. {_visible(screen)}"
            raise ElementNotFound(message, details={"package": screen.package})
        field = focused
    _check(deadline, "clearing the field")
    driver.press_key("move_end")
    for _ in field.text:
        _check(deadline, "clearing the field")
        driver.press_key("del")
    deleted = len(field.text)
    return _Done({"into": _element(field), "deleted": deleted}, {"into": _recorded(field), "deleted": deleted})


def _points(finger: str, box: tuple[int, int, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """A swipe across the middle half of `box`; `finger` is where the finger moves."""
    x1, y1, x2, y2 = box
    cx, cy, w, h = (x1 + x2) // 2, (y1 + y2) // 2, x2 - x1, y2 - y1
    top, bottom, left, right = (
        (cx, y1 + h // 4),
        (cx, y1 + h * 3 // 4),
        (x1 + w // 5, cy),
        (x1 + w * 4 // 5, cy),
    )
    return {"up": (bottom, top), "down": (top, bottom), "left": (right, left), "right": (left, right)}[finger]


def _screen_box(driver: DeviceDriver) -> tuple[int, int, int, int]:
    facts = driver.facts()
    return 0, 0, facts.screen_width, facts.screen_height


def _swipe(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    duration = int(params.get("duration_ms", SWIPE_MS))
    if "direction" in params:
        start, end = _points(params["direction"], _screen_box(driver))
    else:
        start = (int(params["from"]["x"]), int(params["from"]["y"]))
        end = (int(params["to"]["x"]), int(params["to"]["y"]))
    driver.swipe(*start, *end, duration)
    path = {"from": list(start), "to": list(end)}
    return _Done(path, {**path, "duration_ms": duration})


def _scroll_until_visible(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    """Swipe the biggest scrollable view on screen (or the screen) until the element shows."""
    selector = _selector(params)
    finger = "down" if params.get("direction", "down") == "up" else "up"
    max_swipes = int(params.get("max_swipes", 10))
    screen, swipes = _settled(driver, deadline), 0
    while not (matches := find_nodes(screen.nodes, selector)):
        if swipes == max_swipes:
            raise _not_found(screen, selector, f" after {swipes} swipes")
        lists = [node.bounds for node in screen.nodes if node.scrollable and not node.is_empty]
        box = max(lists, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])) if lists else _screen_box(driver)
        _check(deadline, "the next swipe")
        start, end = _points(finger, box)
        driver.swipe(*start, *end, SWIPE_MS)
        swipes += 1
        after = _settled(driver, deadline)
        if after.xml == screen.xml:
            raise _not_found(after, selector, f" after scrolling to the end ({swipes} swipes)")
        screen = after
    found = {"selector": selector, "found": _recorded(matches[0]), "swipes": swipes}
    return _Done({"element": _element(matches[0]), "swipes": swipes}, found, seen=screen.xml)


def _press_key(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    key = params["key"]
    if key not in KEYS:
        raise UnsupportedInput(f"Unknown key {key!r}.", details={"key": key})
    driver.press_key(key)
    return _Done({"key": key}, {"key": key, "keycode": KEYS[key]})


def _assert(driver: DeviceDriver, params: Params, deadline: float, *, visible: bool) -> _Done:
    selector = _selector(params)
    screen = _settled(driver, deadline)
    matches = find_nodes(screen.nodes, selector)
    wanted, details = describe_selector(selector), {"selector": selector, "package": screen.package}
    if visible and not matches:
        message = f"Expected {wanted} to be visible on {screen.package}. {_visible(screen)}"
        raise AssertionFailed(message, details={**details, "visible": visible_texts(screen.nodes)})
    if not visible and matches:
        x1, y1, x2, y2 = matches[0].bounds
        message = f"Expected {wanted} not to be visible on {screen.package}, but it is at [{x1},{y1}][{x2},{y2}]."
        raise AssertionFailed(message, details={**details, "found": _element(matches[0])})
    result = {"element": _element(matches[0])} if visible else {"visible": False}
    return _Done(result, {"selector": selector, "found": _recorded(matches[0]) if visible else None}, seen=screen.xml)


def _wait_for(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    selector, timeout_ms = _selector(params), int(params["timeout_ms"])
    give_up = time.monotonic() + timeout_ms / 1000
    while True:
        xml = driver.dump_ui()
        screen = _Screen(xml, parse(xml))
        matches = find_nodes(screen.nodes, selector)
        if matches:
            found = {"selector": selector, "found": _recorded(matches[0])}
            return _Done({"element": _element(matches[0])}, found, seen=xml)
        now = time.monotonic()
        if now >= deadline:
            raise ActionTimeout(f"The step ran out of time waiting for {describe_selector(selector)}.")
        if now >= give_up:
            raise _not_found(screen, selector, f" within {timeout_ms} ms")
        time.sleep(min(WAIT_POLL, give_up - now, deadline - now))


def _screenshot(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    png = driver.screenshot()
    width, height = struct.unpack(">II", png[16:24]) if png.startswith(b"\x89PNG") else (0, 0)
    shot = {"sha256": hashlib.sha256(png).hexdigest(), "size": len(png), "width": width, "height": height}
    return _Done(shot, shot, seen=driver.dump_ui(), screenshot=png)


def _sleep(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    ms = int(params["ms"])
    if time.monotonic() + ms / 1000 > deadline:
        raise ActionTimeout(f"Sleeping {ms} ms would run past the step's time limit.")
    time.sleep(ms / 1000)
    return _Done({"slept_ms": ms}, {"ms": ms}, seen=driver.dump_ui())


_HANDLERS: dict[str, Callable[[DeviceDriver, Params, float], _Done]] = {
    "launch_app": _launch_app,
    "stop_app": _stop_app,
    "tap": partial(_press, long=False),
    "long_press": partial(_press, long=True),
    "type": _type,
    "clear_text": _clear_text,
    "swipe": _swipe,
    "scroll_until_visible": _scroll_until_visible,
    "press_key": _press_key,
    "assert_visible": partial(_assert, visible=True),
    "assert_not_visible": partial(_assert, visible=False),
    "wait_for": _wait_for,
    "screenshot": _screenshot,
    "sleep": _sleep,
}
