"""The simulated phone's view tree: what the dump, the screenshot and hit-testing all read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

Bounds = tuple[int, int, int, int]

WIDTH, HEIGHT = 1080, 2400
STATUS_BAR, NAV_BAR = 84, 126
CONTENT: Bounds = (0, STATUS_BAR, WIDTH, HEIGHT - NAV_BAR)
LEFT, RIGHT, TOP = 48, WIDTH - 48, STATUS_BAR

_XML_HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class View:
    cls: str
    bounds: Bounds
    text: str = ""
    resource_id: str = ""
    desc: str = ""
    checkable: bool = False
    checked: bool = False
    clickable: bool = False
    enabled: bool = True
    focusable: bool = False
    focused: bool = False
    scrollable: bool = False
    long_clickable: bool = False
    password: bool = False
    selected: bool = False
    children: list[View] = field(default_factory=list)
    role: str = ""
    """How render.py paints it (title, text, field, button, switch, row, item, icon, …)."""
    action: str = ""
    """What a tap does; interpreted by `phone.dispatch`."""
    long_action: str | None = None
    """What a long press does, when it differs from a tap."""
    scroll_key: str = ""
    """For a scrollable list: the key of its offset in the app's task state."""
    scroll_max: int = 0
    frame: Bounds | None = None
    """Unclipped bounds of a list row partly scrolled out; `bounds` is clipped like uiautomator's."""
    hint: bool = False
    """The text shown is the field's hint (painted grey)."""

    def walk(self) -> Iterator[View]:
        yield self
        for child in self.children:
            yield from child.walk()


def window(content: list[View]) -> View:
    """The window around an app's content, as every real dump has it."""
    return View(
        "android.widget.FrameLayout",
        (0, 0, WIDTH, HEIGHT),
        children=[View("android.widget.FrameLayout", CONTENT, resource_id="android:id/content", children=content)],
    )


def clip(bounds: Bounds, to: Bounds) -> Bounds:
    x1, y1 = max(bounds[0], to[0]), max(bounds[1], to[1])
    x2, y2 = min(bounds[2], to[2]), min(bounds[3], to[3])
    return (x1, y1, max(x1, x2), max(y1, y2))


def _contains(bounds: Bounds, x: int, y: int) -> bool:
    return bounds[0] <= x < bounds[2] and bounds[1] <= y < bounds[3]


def hit_test(root: View, x: int, y: int) -> View | None:
    """The topmost (last drawn) enabled clickable view containing the point."""
    hit = None
    for view in root.walk():
        if view.clickable and view.enabled and _contains(view.bounds, x, y):
            hit = view
    return hit


def scrollable_at(root: View, x: int, y: int) -> View | None:
    hit = None
    for view in root.walk():
        if view.scrollable and view.scroll_key and _contains(view.bounds, x, y):
            hit = view
    return hit


def _attr(value: str) -> str:
    return _NOT_XML.sub("", value).translate(_ESCAPES)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def to_xml(root: View, *, package: str) -> str:
    parts = [_XML_HEAD]

    def write(view: View, index: int) -> None:
        x1, y1, x2, y2 = view.bounds
        parts.append(
            f'<node index="{index}" text="{_attr(view.text)}" resource-id="{_attr(view.resource_id)}"'
            f' class="{view.cls}" package="{package}" content-desc="{_attr(view.desc)}"'
            f' checkable="{_bool(view.checkable)}" checked="{_bool(view.checked)}"'
            f' clickable="{_bool(view.clickable)}" enabled="{_bool(view.enabled)}"'
            f' focusable="{_bool(view.focusable)}" focused="{_bool(view.focused)}"'
            f' scrollable="{_bool(view.scrollable)}" long-clickable="{_bool(view.long_clickable)}"'
            f' password="{_bool(view.password)}" selected="{_bool(view.selected)}"'
            f' bounds="[{x1},{y1}][{x2},{y2}]"'
        )
        if not view.children:
            parts.append(" />")
            return
        parts.append(">")
        for child_index, child in enumerate(view.children):
            write(child, child_index)
        parts.append("</node>")

    write(root, 0)
    parts.append("</hierarchy>")
    return "".join(parts)
