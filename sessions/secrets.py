"""A session's secrets (a CI run's `--secret` values, typed passwords): referred to as `${NAME}` in the steps,
filled in on the device's worker, and masked back to `${NAME}` in everything a step produces."""

from __future__ import annotations

import io
import logging
import re
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, UnidentifiedImageError

from devices.drivers.base import DeviceError
from devices.uitree import Bounds, escape_attr, parse

logger = logging.getLogger(__name__)
BLACKOUT = (0, 0, 0)
"""What covers a secret on a screen's picture."""
_XML_ESCAPED = frozenset("&<>\"'\n\r\t")

SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def secrets_resolve(value: Any, secrets: dict[str, str]) -> Any:
    """`${NAME}` → the secret's value, in every string of a step's params."""
    if isinstance(value, str):
        return SECRET_REF.sub(lambda m: secrets.get(m[1], m[0]), value) if "${" in value else value
    if isinstance(value, dict):
        return {key: secrets_resolve(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_resolve(inner, secrets) for inner in value]
    return value


def secrets_named(value: Any) -> set[str]:
    """The names a step's params refer to as `${NAME}`."""
    if isinstance(value, str):
        return {m[1] for m in SECRET_REF.finditer(value)} if "${" in value else set()
    if isinstance(value, dict):
        return set().union(*(secrets_named(inner) for inner in value.values()))
    if isinstance(value, list):
        return set().union(*(secrets_named(inner) for inner in value))
    return set()


def secrets_mask_xml(xml: str, secrets: dict[str, str]) -> str:
    """Every secret value → `${NAME}` in a screen's UI tree, where a value is also XML-escaped (`&amp;`)."""
    escaped = {name: escape(secret, {'"': "&quot;"}) for name, secret in secrets.items()}
    return str(secrets_mask(secrets_mask(xml, escaped), secrets))


def secrets_mask(value: Any, secrets: dict[str, str]) -> Any:
    """Every secret value → `${NAME}`, in every string of a result, an effect or an error."""
    if not secrets:
        return value
    if isinstance(value, str):
        for name, secret in secrets.items():
            if secret and secret in value:
                value = value.replace(secret, "${" + name + "}")
        return value
    if isinstance(value, dict):
        return {key: secrets_mask(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [secrets_mask(inner, secrets) for inner in value]
    return value


def secrets_mask_png(png: bytes, *, ui_xml: str | None, secrets: dict[str, str]) -> bytes:
    """The device's picture with the bounds of every UI node whose text or content-desc holds a secret's value
    blacked out (`BLACKOUT`); `ui_xml` is the UI tree of the same moment. The same bytes, not decoded, when
    there is no secret or no node holds one. Without a tree (None: it could not be read), or with one that
    cannot be read, the whole picture is blacked out: a picture that may show a secret is not kept as it is."""
    values = [secret for secret in secrets.values() if secret]
    if not values:
        return png
    if ui_xml is not None and not any(
        secret in ui_xml or escape_attr(secret) in ui_xml or not _XML_ESCAPED.isdisjoint(secret) for secret in values
    ):
        return png  # no node can hold one: nothing to decode
    boxes: list[Bounds] | None = None
    if ui_xml is not None:
        try:
            nodes = parse(ui_xml)
        except DeviceError:
            logger.warning("an unreadable UI tree with a secret in it: its picture is blacked out")
        else:
            boxes = [
                node.bounds
                for node in nodes
                if not node.is_empty and any(s in node.text or s in node.content_desc for s in values)
            ]
            if not boxes:
                return png
    return _black_out(png, boxes)


def _black_out(png: bytes, boxes: list[Bounds] | None) -> bytes:
    """`png` with `boxes` (None: all of it) filled with `BLACKOUT`, as a PNG."""
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (UnidentifiedImageError, OSError):
        logger.warning("a picture to mask is not an image: a black one is kept instead")
        image = Image.new("RGB", (1, 1), BLACKOUT)
        boxes = None
    fill = _blackout_ink(image)
    if fill is None:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        fill = BLACKOUT
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2 in boxes if boxes is not None else [(0, 0, *image.size)]:
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=fill)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _blackout_ink(image: Image.Image) -> int | tuple[int, ...] | None:
    """How to paint `BLACKOUT` on the picture as it is (a palette picture whose palette has it stays one: no
    conversion, a smaller PNG made faster); None: convert it first."""
    if image.mode in ("RGB", "RGBA"):
        return BLACKOUT if image.mode == "RGB" else (*BLACKOUT, 255)
    if image.mode == "P" and "transparency" not in image.info:
        palette = image.getpalette() or []
        colors = [tuple(palette[i : i + 3]) for i in range(0, len(palette) - 2, 3)]
        if BLACKOUT in colors:
            return colors.index(BLACKOUT)
    return None
