"""Reading `uiautomator dump` XML: flat nodes, selector matching, and words for error messages."""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import regex

from devices.drivers.base import PatternTooSlow, TransportError

Bounds = tuple[int, int, int, int]
Predicate = Callable[["Node"], bool]

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")
SELECTOR_KEYS = ("text", "id", "desc")
STATE_KEYS = ("enabled", "checked", "selected", "focused")
STOCK_HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
STOCK_ATTRS = (
    "index",
    "text",
    "resource-id",
    "class",
    "package",
    "content-desc",
    "checkable",
    "checked",
    "clickable",
    "enabled",
    "focusable",
    "focused",
    "scrollable",
    "long-clickable",
    "password",
    "selected",
    "bounds",
)
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Node:
    text: str
    resource_id: str
    content_desc: str
    class_name: str
    package: str
    bounds: Bounds
    checkable: bool
    checked: bool
    clickable: bool
    enabled: bool
    focusable: bool
    focused: bool
    scrollable: bool
    long_clickable: bool
    password: bool
    selected: bool
    parent: int | None
    """Position of the parent node in the flat list, None for a root."""

    @property
    def center(self) -> tuple[int, int]:
        x1, y1, x2, y2 = self.bounds
        return (x1 + x2) // 2, (y1 + y2) // 2

    @property
    def is_empty(self) -> bool:
        x1, y1, x2, y2 = self.bounds
        return x2 <= x1 or y2 <= y1


def parse(xml: str) -> list[Node]:
    """All nodes of a dump, in document order."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise TransportError(f"The device returned an unreadable UI dump ({exc}).") from exc
    nodes: list[Node] = []

    def walk(element: ET.Element, parent: int | None) -> None:
        for child in element:
            if child.tag != "node":
                continue
            nodes.append(_node(child.attrib, parent))
            walk(child, len(nodes) - 1)

    walk(root, None)
    return nodes


def _node(attrs: Mapping[str, str], parent: int | None) -> Node:
    match = _BOUNDS.fullmatch(attrs.get("bounds", ""))
    bounds: Bounds = (int(match[1]), int(match[2]), int(match[3]), int(match[4])) if match else (0, 0, 0, 0)

    def flag(name: str, default: bool = False) -> bool:
        value = attrs.get(name)
        return default if value is None else value == "true"

    return Node(
        text=attrs.get("text", ""),
        resource_id=attrs.get("resource-id", ""),
        content_desc=attrs.get("content-desc", ""),
        class_name=attrs.get("class", ""),
        package=attrs.get("package", ""),
        bounds=bounds,
        checkable=flag("checkable"),
        checked=flag("checked"),
        clickable=flag("clickable"),
        enabled=flag("enabled", True),
        focusable=flag("focusable"),
        focused=flag("focused"),
        scrollable=flag("scrollable"),
        long_clickable=flag("long-clickable"),
        password=flag("password"),
        selected=flag("selected"),
        parent=parent,
    )


def escape_attr(value: str) -> str:
    """An attribute value as Android's XML serializer writes it."""
    return _NOT_XML.sub("", value).translate(_ESCAPES)


def stock_form(xml: str) -> str:
    """Any uiautomator-style hierarchy (the uiautomator2 server's, say) as stock `uiautomator dump` writes it.

    Same attributes in the same order, no indentation, and no node the user cannot see
    (`visible-to-user="false"`, which the stock dumper skips): the same screen gives the same
    text, hence the same `ui_hash`, whichever tool read it.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise TransportError(f"The device returned an unreadable UI dump ({exc}).") from exc
    parts = [STOCK_HEAD.replace('rotation="0"', f'rotation="{escape_attr(root.get("rotation", "0"))}"')]

    def write(node: ET.Element) -> None:
        attrs = " ".join(f'{name}="{escape_attr(node.get(name, ""))}"' for name in STOCK_ATTRS)
        children = [child for child in node if child.tag == "node" and child.get("visible-to-user") != "false"]
        if not children:
            parts.append(f"<node {attrs} />")
            return
        parts.append(f"<node {attrs}>")
        for child in children:
            write(child)
        parts.append("</node>")

    for child in root:
        if child.tag == "node" and child.get("visible-to-user") != "false":
            write(child)
    parts.append("</hierarchy>")
    return "".join(parts)


def ui_hash(xml: str) -> str:
    return hashlib.sha256(xml.encode()).hexdigest()


def _selector_fields(selector: Mapping[str, Any]) -> list[tuple[str, str]]:
    fields = [(key, str(selector[key])) for key in SELECTOR_KEYS if key in selector]
    if not fields:
        raise ValueError(f"A selector needs one or more of text, id, desc; got {sorted(selector)}.")
    return fields


MAESTRO_FLAGS = regex.IGNORECASE | regex.DOTALL | regex.MULTILINE
"""Maestro compiles a selector's text with IGNORE_CASE, DOT_MATCHES_ALL and MULTILINE."""
MATCH_LIMIT_S = 0.25
"""The longest one match of a selector's regular expression against one text may take: Python's `re` cannot
be interrupted, so a pattern that backtracks without end would hold the device's worker (and its lease)."""


def maestro_pattern(text: str) -> regex.Pattern[str]:
    """The regular expression Maestro makes of a selector's text; one that does not compile is the text itself
    (escaped), as Maestro's `toRegexSafe` does. `regex`, not `re`: the same syntax, with a time limit."""
    try:
        return regex.compile(text, MAESTRO_FLAGS)
    except (regex.error, OverflowError, RecursionError):
        return regex.compile(regex.escape(text), MAESTRO_FLAGS)


def _maestro_text(node: Node, wanted: str, pattern: regex.Pattern[str]) -> bool:
    """Maestro's text match: the node's text or content-desc (its accessibility text) equals `wanted` or fully
    matches it as a regular expression, also with line breaks read as spaces."""
    values = (node.text, node.content_desc)
    return _maestro_matches({seen for value in values for seen in (value, value.replace("\n", " "))}, wanted, pattern)


def _maestro_id(node: Node, wanted: str, pattern: regex.Pattern[str]) -> bool:
    """Maestro's id match: the node's resource-id, or its part after the last `/`, equals `wanted` or fully
    matches it as a regular expression."""
    values = {node.resource_id, node.resource_id.rsplit("/", 1)[-1]} if node.resource_id else set()
    return _maestro_matches(values, wanted, pattern)


def _maestro_matches(values: Iterable[str], wanted: str, pattern: regex.Pattern[str]) -> bool:
    for seen in values:
        try:
            if seen == wanted or pattern.fullmatch(seen, timeout=MATCH_LIMIT_S):
                return True
        except TimeoutError:
            message = (
                f'The pattern "{wanted[:100]}" took over {MATCH_LIMIT_S} s to match "{seen[:100]}": it '
                'backtracks without end. Write it without a repetition inside a repetition, like "(a|aa)+".'
            )
            raise PatternTooSlow(message, details={"pattern": wanted[:500]}) from None
    return False


_MAESTRO_MATCH = {"text": _maestro_text, "id": _maestro_id}
"""The selector fields `text_match: maestro` applies to, and how each matches."""


def _values(node: Node, key: str) -> tuple[str, ...]:
    if key == "text":
        return (node.text,)
    if key == "desc":
        return (node.content_desc,)
    short = node.resource_id.split(":id/", 1)[1] if ":id/" in node.resource_id else ""
    return (node.resource_id, short)


def _loose(value: str) -> str:
    return value.strip().casefold()


def _distance(a: Node, b: Node) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return float(math.hypot(ax - bx, ay - by))


_PLACES = {"below": (1, True), "above": (1, False), "right_of": (0, True), "left_of": (0, False)}
"""Relation → (the bounds' edge compared: 0 left, 1 top; whether the element's edge is the greater)."""


def _narrowed(nodes: list[Node], matches: list[Node], selector: Mapping[str, Any]) -> list[Node]:
    """The matches that also meet the selector's states and relations; with a place (`below` …), nearest first."""
    for state in STATE_KEYS:
        if state in selector:
            matches = [node for node in matches if getattr(node, state) is bool(selector[state])]
    if "child_of" in selector:
        parents = {id(node) for node in find_nodes(nodes, selector["child_of"])}
        matches = [node for node in matches if any(id(up) in parents for up in _ancestors(nodes, node))]
    nearest: dict[int, float] = {}
    for relation, (edge, later) in _PLACES.items():
        if relation not in selector:
            continue
        anchors = find_nodes(nodes, selector[relation])
        kept = []
        for node in matches:
            own = node.bounds[edge]
            placed = [a for a in anchors if (own > a.bounds[edge] if later else own < a.bounds[edge])]
            if placed:
                kept.append(node)
                distance = min(_distance(node, a) for a in placed)
                nearest[id(node)] = min(distance, nearest.get(id(node), distance))
        matches = kept
    if nearest:
        matches = sorted(matches, key=lambda node: nearest[id(node)])
    return matches


def _ancestors(nodes: list[Node], node: Node) -> Iterable[Node]:
    while node.parent is not None:
        node = nodes[node.parent]
        yield node


def _exact(node: Node, key: str, wanted: str) -> bool:
    return bool(wanted) and wanted in _values(node, key)


def _similar(node: Node, key: str, relaxed: str) -> bool:
    return bool(relaxed) and any(_loose(v) == relaxed for v in _values(node, key) if v)


def _predicates(selector: Mapping[str, Any]) -> tuple[list[Predicate], list[Predicate]]:
    """Per selector field, the exact test and the loose one (ignoring case and surrounding whitespace); a text
    matched as Maestro's (`text_match: maestro`) has one test for both."""
    exact: list[Predicate] = []
    loose: list[Predicate] = []
    for key, wanted in _selector_fields(selector):
        if key in _MAESTRO_MATCH and selector.get("text_match") == "maestro":
            test = partial(_MAESTRO_MATCH[key], wanted=wanted, pattern=maestro_pattern(wanted))
            exact.append(test)
            loose.append(test)
        else:
            exact.append(partial(_exact, key=key, wanted=wanted))
            loose.append(partial(_similar, key=key, relaxed=_loose(wanted)))
    return exact, loose


def find_nodes(nodes: Iterable[Node], selector: Mapping[str, Any]) -> list[Node]:
    """Nodes matching `{text? id? desc?: value, text_match?, index?, states?, below? above? left_of? right_of?
    child_of?}`.

    Every field given must match (text and id: an element with both). Exact matches win; only when none of
    them meets the rest of the selector does the match ignore case and surrounding whitespace. `id` matches
    the full resource-id or the part after `:id/`. With `text_match: maestro`, `text` matches as Maestro's
    does: the element's text or content-desc equals it or fully matches it as a regular expression, ignoring
    case (`maestro_pattern`); so does `id`, against the resource-id or its part after the last `/`. Nodes with
    empty bounds are not on screen and never match. `enabled`, `checked`, `selected` and `focused` keep the
    nodes in that state. `child_of` keeps the nodes inside an element its anchor (a selector) matches; `below` /
    `above` the nodes whose top edge is lower / higher than the top edge of an element the anchor matches,
    `right_of` / `left_of` likewise with left edges, ordered by the distance between their centres, nearest first
    (as Maestro does); otherwise the order is the document's. With `index` the result is that one match, or empty.
    """
    nodes = list(nodes)
    exact, loose = _predicates(selector)
    candidates = [node for node in nodes if not node.is_empty]
    found = [node for node in candidates if all(test(node) for test in exact)]
    matches = _narrowed(nodes, found, selector) if found else []
    if not matches and loose != exact:
        similar = [node for node in candidates if all(test(node) for test in loose)]
        matches = _narrowed(nodes, similar, selector)
    index = selector.get("index")
    if index is None:
        return matches
    return matches[index : index + 1] if 0 <= index < len(matches) else []


RELATION_WORDS = {
    "below": "below",
    "above": "above",
    "left_of": "left of",
    "right_of": "right of",
    "child_of": "inside",
}


def describe_selector(selector: Mapping[str, Any]) -> str:
    """`text "Sign in"`, `id "email" (index 1)`, `id "title" below text "Bluetooth"`: how messages name what was
    looked for."""
    maestro = selector.get("text_match") == "maestro"
    described = " and ".join(
        f"{'text or desc matching' if key == 'text' and maestro else key} {json.dumps(wanted, ensure_ascii=False)}"
        for key, wanted in _selector_fields(selector)
    )
    for state in STATE_KEYS:
        if state in selector:
            described += f", {'' if selector[state] else 'not '}{state}"
    for relation, words in RELATION_WORDS.items():
        if isinstance(selector.get(relation), Mapping):
            anchor = describe_selector(selector[relation])
            described += f" {words} " + (
                f"[{anchor}]" if "," in anchor or "(" in anchor or " and " in anchor else anchor
            )
    if selector.get("index") is not None:
        described += f" (index {selector['index']})"
    return described


def visible_texts(nodes: Iterable[Node], *, limit: int = 8) -> list[str]:
    """Distinct texts (or content descriptions) on screen, in document order."""
    seen: list[str] = []
    for node in nodes:
        label = (node.text or node.content_desc).strip()
        if label and not node.is_empty and label not in seen:
            seen.append(label)
            if len(seen) == limit:
                break
    return seen


def tappable(nodes: list[Node], node: Node) -> bool:
    """Whether a touch on the node reaches a clickable view: itself or an ancestor."""
    current: Node | None = node
    while current is not None:
        if current.clickable and current.enabled:
            return True
        current = nodes[current.parent] if current.parent is not None else None
    return False
