"""The element inspector's view of a screen: every node of a UI dump as a tree, with its attributes and
the selectors that find it, each with how many elements it matches (so ambiguity can be shown)."""

from __future__ import annotations

from typing import Any

from devices.uitree import Node, find_nodes, parse

FLAGS = (
    "clickable",
    "long_clickable",
    "enabled",
    "focusable",
    "focused",
    "scrollable",
    "checkable",
    "checked",
    "selected",
    "password",
)


def short_id(resource_id: str) -> str:
    """`com.example:id/sign_in` → `sign_in` (the form selectors use); other ids stay as they are."""
    return resource_id.partition(":id/")[2] or resource_id


def _selectors(nodes: list[Node], node: Node) -> list[dict[str, Any]]:
    """The node's text, id and desc selectors: `{kind, value, matches, index}`, where `index` is the node's
    place among the elements the selector finds (0 when it is unique); a selector that finds the element
    only with its index is ambiguous."""
    found = []
    for kind, value in (("text", node.text), ("id", short_id(node.resource_id)), ("desc", node.content_desc)):
        if not value.strip() or node.is_empty:
            continue
        matches = find_nodes(nodes, {kind: value})
        place = next((i for i, other in enumerate(matches) if other is node), None)
        if place is None:  # a looser match elsewhere wins over this node: the selector cannot reach it
            continue
        found.append({"kind": kind, "value": value, "matches": len(matches), "index": place})
    return found


def screen_tree(ui_xml: str) -> list[dict[str, Any]]:
    """Every node of the dump in document order; `parent` and `depth` give the tree."""
    nodes = parse(ui_xml) if ui_xml else []
    depths: list[int] = []
    tree = []
    for position, node in enumerate(nodes):
        depth = 0 if node.parent is None else depths[node.parent] + 1
        depths.append(depth)
        tree.append(
            {
                "i": position,
                "parent": node.parent,
                "depth": depth,
                "class": node.class_name,
                "text": node.text,
                "id": short_id(node.resource_id),
                "resource_id": node.resource_id,
                "desc": node.content_desc,
                "package": node.package,
                "bounds": list(node.bounds),
                **{flag: getattr(node, flag) for flag in FLAGS},
                "selectors": _selectors(nodes, node),
            }
        )
    return tree
