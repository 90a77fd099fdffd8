"""The step vocabulary of SPEC §3, written once on top of the driver primitives.

`perform` takes params already validated upstream. A primitive that changes the
device is only sent while the deadline has not passed, and nothing after the
last one raises a retryable error: a retried step never applies its effect twice.

Reads. A step reads the UI tree once to find its element (a tree the driver read
moments ago, with no input sent since, serves), sends its input, and reads the screen
again afterwards only when asked to (`observe=True`, the default). With `observe=False`
it returns as soon as its own work is done; `observe()` then reads the new screen (tree,
state and picture) off the step's critical path, and `observed()` joins the two into the
outcome `perform` would have returned.

Auto-wait. Every action with a selector waits for its element (and, through the
driver's idle-aware reads, for the screen to settle) up to `timeout_ms` when the step's
params carry one, else `ELEMENT_WAIT_MS`, never past the step's deadline;
`assert_not_visible` waits for the element to go. A screen whose tree cannot be read
because it keeps animating is read again with backoff until then, and the step fails
with `ScreenNotSettled`, which says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, overload

from core.steps import BLOCK_ACTIONS, KEYS, SELECTOR_FIELDS
from devices.drivers.base import (
    ActionOutcome,
    ActionTimeout,
    AssertionFailed,
    DeviceDriver,
    ElementNotFound,
    PointOffScreen,
    ScreenBusy,
    ScreenNotSettled,
    StepOutcome,
    StepStopped,
    UnsupportedInput,
)
from devices.screencast import device_busy
from devices.uitree import Node, describe_selector, find_nodes, parse, tappable, ui_hash, visible_texts

LONG_PRESS_MS = 800
SWIPE_MS = 300
ELEMENT_WAIT_MS = 5000
"""How long an action with a selector waits for its element when the step gives no `timeout_ms`."""
WAIT_POLL = 0.05
"""Pause between two reads while waiting for an element (a read of a real phone takes longer than this)."""
BUSY_PAUSES = (0.05, 1.0)
"""First and longest pause between reads of a screen that keeps animating (doubling in between)."""
TREE_REUSE_S = 1.0
"""A tree the driver read at most this long ago, with no input sent since, serves a step's first look-up."""
AFTER_CHANGE_MIN_S = 1.0
"""The read after a step's input gets at least this long, even when the step's deadline is nearer."""

STOP_CHECK_S = 0.25
"""While a step waits, how often it asks whether its session was stopped (`stoppable`)."""

Params = Mapping[str, Any]


@dataclass
class _StopCheck:
    stopped: Callable[[], bool]
    asked_at: float = -math.inf


_stop_check: ContextVar[_StopCheck | None] = ContextVar("stop_check", default=None)


@contextmanager
def stoppable(stopped: Callable[[], bool]) -> Iterator[None]:
    """Within it, every wait of a step (for its element, for the screen to settle, a `sleep`) asks
    `stopped()` at most every `STOP_CHECK_S` and gives up with `StepStopped` when it says yes: a
    stopped session's device is free at once, not when the wait would have ended."""
    token = _stop_check.set(_StopCheck(stopped))
    try:
        yield
    finally:
        _stop_check.reset(token)


def stoppable_sleep(seconds: float) -> None:
    """Sleep within a step's wait; `StepStopped` as soon as the step's session is stopped (`stoppable`)."""
    check = _stop_check.get()
    if check is None:
        time.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if time.monotonic() - check.asked_at >= STOP_CHECK_S:
            check.asked_at = time.monotonic()
            if check.stopped():
                raise StepStopped("The session was stopped while the step waited.")
        time.sleep(min(STOP_CHECK_S, left))


@dataclass(frozen=True)
class _Screen:
    xml: str
    nodes: list[Node]

    @property
    def package(self) -> str:
        return self.nodes[0].package if self.nodes else "the screen"


@dataclass(frozen=True)
class Observation:
    """The screen after a step: the state `device_state` gives, the UI tree it was computed from, the picture."""

    state: dict[str, str]
    ui_xml: str
    png: bytes | None
    """None when the caller said, once the tree was read, that the picture was no longer wanted."""


@dataclass
class _Done:
    """What a handler did. `seen` is the tree it read after its last input, None when it has not read one."""

    result: dict[str, Any]
    effect: dict[str, Any] = field(default_factory=dict)
    seen: str | None = None
    screenshot: bytes | None = None


@overload
def perform(
    driver: DeviceDriver, *, action: str, params: Params, deadline: float, observe: Literal[True] = True
) -> ActionOutcome: ...


@overload
def perform(driver: DeviceDriver, *, action: str, params: Params, deadline: float, observe: bool) -> StepOutcome: ...


def perform(driver: DeviceDriver, *, action: str, params: Params, deadline: float, observe: bool = True) -> StepOutcome:
    """Run one step; `deadline` is a `time.monotonic()` value.

    With `observe` (the default) the outcome carries the device state after the step, read
    once the screen settled. Without, it returns when the step's own work is done; its
    `state` is None (and its effect lacks `foreground` and `screen`) when the step did not
    read the screen after its input: call `observe` and `observed` for them.
    """
    if action in BLOCK_ACTIONS:  # control flow runs its inner steps through this function
        from devices import flowcontrol

        return flowcontrol.perform(driver, action=action, params=params, deadline=deadline)
    handler = _HANDLERS.get(action)
    if handler is None:
        raise ValueError(f"Unknown action {action!r}.")
    _check(deadline, action)
    with device_busy(driver.serial):  # the live view's screen reads wait for the step's input (screencast.py)
        done = handler(driver, params, deadline)
    xml = done.seen
    if xml is None and observe:
        xml = _after_change(driver, deadline)
    if xml is None:
        effect = {"action": action, **done.effect}
        return StepOutcome(result=done.result, effect=effect, state=None, screenshot=done.screenshot)
    state = _state(driver, _Screen(xml, parse(xml)))
    effect = {"action": action, **done.effect, **state}
    return ActionOutcome(result=done.result, effect=effect, state=state, screenshot=done.screenshot)


def observe(driver: DeviceDriver, *, deadline: float, picture: Callable[[], bool] | None = None) -> Observation:
    """The screen once it settled: its state, UI tree and picture (a tree read moments ago with no input since serves).

    `picture`, asked once the tree is read: False leaves the picture out (its `png` is None).
    Raises `ScreenNotSettled` when the tree cannot be read before the deadline because the
    screen keeps animating.
    """
    screen = _read(driver, deadline, reuse=True, after="reading the screen")
    png = driver.screenshot() if picture is None or picture() else None
    return Observation(state=_state(driver, screen), ui_xml=screen.xml, png=png)


def observed(outcome: StepOutcome, observation: Observation) -> ActionOutcome:
    """The outcome `perform(observe=True)` gives, from `perform(observe=False)` and the `observe` after it."""
    if outcome.state is not None:
        return ActionOutcome(outcome.result, outcome.effect, outcome.state, outcome.screenshot)
    state = dict(observation.state)
    return ActionOutcome(outcome.result, {**outcome.effect, **state}, state, outcome.screenshot)


def settled_nodes(driver: DeviceDriver, *, deadline: float, doing: str) -> list[Node]:
    """The settled screen's nodes, read once (a tree read moments ago with no input since serves); a screen that
    keeps animating is read again with backoff until the deadline, then `ScreenNotSettled`."""
    return _read(driver, deadline, reuse=True, after=doing).nodes


def device_state(driver: DeviceDriver) -> dict[str, str]:
    return _state(driver, _read(driver, time.monotonic() + 30, after="reading the screen"))


def _state(driver: DeviceDriver, screen: _Screen) -> dict[str, str]:
    """The app in front is the one whose window the tree is of."""
    foreground = screen.nodes[0].package if screen.nodes and screen.nodes[0].package else driver.foreground_package()
    return {"foreground": foreground, "screen": ui_hash(screen.xml)}


def _check(deadline: float, doing: str) -> None:
    if time.monotonic() >= deadline:
        raise ActionTimeout(f"The step ran out of time before {doing}.")


def _never_settled(since: float, busy: ScreenBusy, after: str) -> ScreenNotSettled:
    waited, when = time.monotonic() - since, f" {after}" if after else ""
    return ScreenNotSettled(
        f"The screen never settled{when}: for {waited:.1f} s its UI tree could not be read because something "
        f"on screen kept changing ({busy.message}). A progress bar, a video or a blinking cursor does this: wait "
        "until it stops, or give the step a longer timeout_ms.",
        details={"waited_ms": round(waited * 1000), **busy.details},
    )


def _read(driver: DeviceDriver, deadline: float, *, reuse: bool = False, after: str) -> _Screen:
    """One read of the settled screen; one that keeps animating is read again with backoff until the deadline."""
    since, pause = time.monotonic(), BUSY_PAUSES[0]
    while True:
        try:
            xml = driver.dump_ui(deadline=deadline, max_age=TREE_REUSE_S if reuse else 0.0)
            return _Screen(xml, parse(xml))
        except ScreenBusy as busy:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _never_settled(since, busy, after) from busy
        stoppable_sleep(min(pause, left))
        pause = min(pause * 2, BUSY_PAUSES[1])


def _after_change(driver: DeviceDriver, deadline: float) -> str:
    """The tree once the screen settled after the step's input; never a retryable error (the input was sent)."""
    deadline = max(deadline, time.monotonic() + AFTER_CHANGE_MIN_S)
    try:
        return _read(driver, deadline, after="after the step's input was sent").xml
    except ActionTimeout as exc:
        raise ScreenNotSettled(
            f"The step's input was sent, but the screen could not be read afterwards in time: {exc.message}"
        ) from exc


def _budget(params: Params, deadline: float) -> tuple[int, float, bool]:
    """How long to wait for an element: ms, the monotonic time to give up, and whether the deadline cut a wait
    the step asked for (the default wait is simply shortened by a nearer deadline)."""
    now = time.monotonic()
    wait_ms = int(params.get("timeout_ms", ELEMENT_WAIT_MS))
    wanted = now + wait_ms / 1000
    if wanted > deadline and "timeout_ms" not in params:
        return max(0, round((deadline - now) * 1000)), deadline, False
    return wait_ms, min(wanted, deadline), wanted > deadline


def _until(
    driver: DeviceDriver, deadline: float, give_up: float, done: Callable[[_Screen], bool], *, after: str
) -> tuple[_Screen, bool]:
    """Read the screen until `done(screen)` or `give_up`: the last screen read, and whether it was done.

    The first read may be a tree the driver read moments ago; a screen that keeps animating is
    read again with backoff; never having read one by `give_up` is `ScreenNotSettled`.
    """
    since, pause, first = time.monotonic(), BUSY_PAUSES[0], True
    screen: _Screen | None = None
    busy: ScreenBusy | None = None
    while True:
        try:
            xml = driver.dump_ui(deadline=deadline, max_age=TREE_REUSE_S if first else 0.0)
            screen, busy = _Screen(xml, parse(xml)), None
            if done(screen):
                return screen, True
        except ScreenBusy as exc:
            busy = exc
        except ActionTimeout:
            if screen is None:
                raise
            return screen, False  # the last read ran into the deadline: judge by the screen read before it
        first = False
        left = give_up - time.monotonic()
        if left <= 0:
            if screen is None:
                assert busy is not None
                raise _never_settled(since, busy, after)
            return screen, False
        if busy is None:
            stoppable_sleep(min(WAIT_POLL, left))
        else:
            stoppable_sleep(min(pause, left))
            pause = min(pause * 2, BUSY_PAUSES[1])


def _selector(params: Params) -> dict[str, Any]:
    return {key: params[key] for key in SELECTOR_FIELDS if key in params}


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


def _timed_out(wanted: str, wait_ms: int) -> ActionTimeout:
    return ActionTimeout(f"The step ran out of time waiting {wait_ms} ms for {wanted}.")


def _find(driver: DeviceDriver, selector: Mapping[str, Any], params: Params, deadline: float) -> Node:
    """The element to act on, once it is on screen (auto-wait); `ElementNotFound` after the wait."""
    wait_ms, give_up, cut = _budget(params, deadline)
    screen, found = _until(driver, deadline, give_up, lambda s: bool(find_nodes(s.nodes, selector)), after="")
    if not found:
        if cut:
            raise _timed_out(describe_selector(selector), wait_ms)
        raise _not_found(screen, selector, f" within {wait_ms} ms")
    return _resolve(screen, selector)


def _focus(driver: DeviceDriver, selector: Mapping[str, Any], params: Params, deadline: float) -> Node:
    field = _find(driver, selector, params, deadline)
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
        x, y = _on_screen(driver, (int(params["x"]), int(params["y"])))
    else:
        target = _find(driver, _selector(params), params, deadline)
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
    """Type into the field `into` selects (tapped first), or into the focused one; with neither, nothing
    would take the text, and the step fails as `clear_text` does."""
    text: str = params["text"]
    field = _focus(driver, params["into"], params, deadline) if params.get("into") else _focused(driver, deadline)
    _check(deadline, "typing")
    driver.input_text(text)
    return _Done(
        {"into": _element(field), "length": len(text)},
        {"text": text, "into": _recorded(field)},
    )


def _focused(driver: DeviceDriver, deadline: float) -> Node:
    """The focused field (a step without `into` acts on it); `ElementNotFound` when none is."""
    screen = _read(driver, deadline, reuse=True, after="")
    focused = next((node for node in screen.nodes if node.focused), None)
    if focused is None:
        message = f"No focused text field on {screen.package}: tap one first, or give 'into'. {_visible(screen)}"
        raise ElementNotFound(message, details={"package": screen.package})
    return focused


def _clear_text(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    """Delete the field's text from its end.

    An empty field shows its hint as its text in the dump, and the dump cannot tell the
    two apart, so such a field gets as many (harmless) presses of del as its hint has
    characters.
    """
    field = _focus(driver, params["into"], params, deadline) if params.get("into") else _focused(driver, deadline)
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


def _on_screen(driver: DeviceDriver, point: tuple[int, int]) -> tuple[int, int]:
    """The point, if it is on the screen in either orientation (the screen's size is its portrait size)."""
    _, _, width, height = _screen_box(driver)
    x, y = point
    if (x < width and y < height) or (x < height and y < width):
        return point
    raise PointOffScreen(
        f"({x}, {y}) is off the screen, which is {width}×{height}; give a point inside it, or a selector.",
        details={"point": [x, y], "screen": [width, height]},
    )


def _swipe(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    duration = int(params.get("duration_ms", SWIPE_MS))
    if "direction" in params:
        start, end = _points(params["direction"], _screen_box(driver))
    else:
        start = _on_screen(driver, (int(params["from"]["x"]), int(params["from"]["y"])))
        end = _on_screen(driver, (int(params["to"]["x"]), int(params["to"]["y"])))
    driver.swipe(*start, *end, duration)
    path = {"from": list(start), "to": list(end)}
    return _Done(path, {**path, "duration_ms": duration})


def _scroll_until_visible(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    """Swipe the biggest scrollable view on screen (or the screen) until the element shows.

    Each look is one read of the settled screen; the screen read after the last swipe is the
    step's own after-change read.
    """
    selector = _selector(params)
    finger = "down" if params.get("direction", "down") == "up" else "up"
    max_swipes = int(params.get("max_swipes", 10))
    screen, swipes = _read(driver, deadline, reuse=True, after=""), 0
    while not (matches := find_nodes(screen.nodes, selector)):
        if swipes == max_swipes:
            raise _not_found(screen, selector, f" after {swipes} swipes")
        lists = [node.bounds for node in screen.nodes if node.scrollable and not node.is_empty]
        box = max(lists, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])) if lists else _screen_box(driver)
        _check(deadline, "the next swipe")
        start, end = _points(finger, box)
        driver.swipe(*start, *end, SWIPE_MS)
        swipes += 1
        after = _Screen(xml := _after_change(driver, deadline), parse(xml))
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
    """Passes as soon as the element is (or, for not visible, is no longer) on screen, waiting up to the budget."""
    selector = _selector(params)
    wait_ms, give_up, cut = _budget(params, deadline)
    screen, passed = _until(
        driver, deadline, give_up, lambda s: bool(find_nodes(s.nodes, selector)) is visible, after=""
    )
    matches = find_nodes(screen.nodes, selector)
    wanted, details = describe_selector(selector), {"selector": selector, "package": screen.package}
    if not passed and cut:
        raise _timed_out(wanted + ("" if visible else " to go"), wait_ms)
    if visible and not passed:
        message = f"Expected {wanted} to be visible on {screen.package} within {wait_ms} ms. {_visible(screen)}"
        raise AssertionFailed(message, details={**details, "visible": visible_texts(screen.nodes)})
    if not visible and not passed:
        x1, y1, x2, y2 = matches[0].bounds
        message = (
            f"Expected {wanted} not to be visible on {screen.package}, but it is still at [{x1},{y1}][{x2},{y2}] "
            f"after {wait_ms} ms."
        )
        raise AssertionFailed(message, details={**details, "found": _element(matches[0])})
    result = {"element": _element(matches[0])} if visible else {"visible": False}
    return _Done(result, {"selector": selector, "found": _recorded(matches[0]) if visible else None}, seen=screen.xml)


def _wait_for(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    selector = _selector(params)
    wait_ms, give_up, cut = _budget(params, deadline)
    screen, found = _until(driver, deadline, give_up, lambda s: bool(find_nodes(s.nodes, selector)), after="")
    if not found:
        if cut:
            raise _timed_out(describe_selector(selector), wait_ms)
        raise _not_found(screen, selector, f" within {wait_ms} ms")
    matches = find_nodes(screen.nodes, selector)
    found_effect = {"selector": selector, "found": _recorded(matches[0])}
    return _Done({"element": _element(matches[0])}, found_effect, seen=screen.xml)


def _screenshot(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    png = driver.screenshot()
    width, height = struct.unpack(">II", png[16:24]) if png.startswith(b"\x89PNG") else (0, 0)
    shot = {"sha256": hashlib.sha256(png).hexdigest(), "size": len(png), "width": width, "height": height}
    return _Done(shot, shot, screenshot=png)


def _sleep(driver: DeviceDriver, params: Params, deadline: float) -> _Done:
    ms = int(params["ms"])
    if time.monotonic() + ms / 1000 > deadline:
        raise ActionTimeout(f"Sleeping {ms} ms would run past the step's time limit.")
    stoppable_sleep(ms / 1000)
    return _Done({"slept_ms": ms}, {"ms": ms})


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
