"""The element inspector's view of a screen: every node of a UI dump as a tree, with its attributes and
the selectors that find it, each with how many elements it matches (so ambiguity can be shown)."""

from __future__ import annotations

from typing import Any

from devices.uitree import parse
from sessions.selectors import element_selectors, short_id

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
                "selectors": element_selectors(nodes, node),
            }
        )
    return tree
