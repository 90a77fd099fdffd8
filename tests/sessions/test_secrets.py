"""`secrets_mask_png`: the nodes of a picture's UI tree that hold a secret's value are blacked out; a picture with
none is not decoded; one whose tree is missing or unreadable is blacked out whole."""

from __future__ import annotations

import io

from PIL import Image

from sessions.secrets import BLACKOUT, secrets_mask_png

Bounds = tuple[int, int, int, int]


def _blacked_out(png: bytes, bounds: Bounds) -> bool:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.crop(bounds).getextrema() == tuple((c, c) for c in BLACKOUT)


TREE = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
    '<node text="" resource-id="root" content-desc="" bounds="[0,0][100,200]">'
    '<node text="user-{value}" resource-id="email" content-desc="" bounds="[10,20][60,40]" />'
    '<node text="" resource-id="icon" content-desc="{desc}" bounds="[10,100][30,120]" />'
    '<node text="Welcome" resource-id="title" content-desc="" bounds="[10,150][90,170]" />'
    "</node></hierarchy>"
)


def _picture(mode: str = "RGB") -> bytes:
    image = Image.new("RGB", (100, 200), (200, 180, 160))
    image.putpixel((99, 199), BLACKOUT)
    out = io.BytesIO()
    (image.quantize(colors=4) if mode == "P" else image.convert(mode)).save(out, format="PNG")
    return out.getvalue()


def _pixel(png: bytes, at: tuple[int, int]) -> tuple[int, ...]:
    return tuple(Image.open(io.BytesIO(png)).convert("RGB").getpixel(at))  # type: ignore[arg-type]


def test_the_nodes_that_hold_a_secret_are_blacked_out_and_nothing_else():
    tree = TREE.format(value="a&amp;b", desc="key a&amp;b")
    masked = secrets_mask_png(_picture(), ui_xml=tree, secrets={"TOKEN": "a&b", "EMPTY": ""})
    assert _blacked_out(masked, (10, 20, 60, 40))  # its text holds it
    assert _blacked_out(masked, (10, 100, 30, 120))  # its content-desc does
    assert _pixel(masked, (60, 40)) == _pixel(masked, (5, 5)) == _pixel(masked, (50, 160)) == (200, 180, 160)
    for mode in ("P", "RGBA", "L"):  # a palette picture (with black in it), a device's screencap, a grey one
        other = secrets_mask_png(_picture(mode), ui_xml=tree, secrets={"TOKEN": "a&b"})
        assert _blacked_out(other, (10, 20, 60, 40)), mode
        assert not _blacked_out(other, (60, 40, 100, 100)), mode
        assert Image.open(io.BytesIO(other)).mode == {"L": "RGB"}.get(mode, mode)  # not converted when it can be


def test_a_picture_without_a_secret_on_it_is_not_touched():
    png = _picture()
    tree = TREE.format(value="someone", desc="")
    assert secrets_mask_png(png, ui_xml=tree, secrets={}) is png
    assert secrets_mask_png(png, ui_xml=tree, secrets={"TOKEN": "absent"}) is png
    assert secrets_mask_png(png, ui_xml=tree, secrets={"TOKEN": ""}) is png


def test_a_picture_whose_tree_is_missing_or_unreadable_is_blacked_out_whole():
    for tree in (None, "<hierarchy><node text='Sup3r"):
        masked = secrets_mask_png(_picture(), ui_xml=tree, secrets={"TOKEN": "Sup3r"})
        assert _blacked_out(masked, (0, 0, 100, 200)), tree
    assert _blacked_out(secrets_mask_png(b"not a png", ui_xml=None, secrets={"TOKEN": "x"}), (0, 0, 1, 1))
