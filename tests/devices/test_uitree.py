import pytest

from devices.drivers.base import TransportError
from devices.uitree import describe_selector, find_nodes, parse, ui_hash, visible_texts

ATTRS = (
    'checkable="false" checked="false" clickable="{click}" enabled="true" focusable="false" focused="false" '
    'scrollable="false" long-clickable="false" password="false" selected="false"'
)


def node(text="", rid="", desc="", bounds="[0,0][100,100]", click="false", children=""):
    head = (
        f'<node index="0" text="{text}" resource-id="{rid}" class="android.widget.TextView" package="p" '
        f'content-desc="{desc}" {ATTRS.format(click=click)} bounds="{bounds}"'
    )
    return f"{head}>{children}</node>" if children else f"{head} />"


def dump(*children):
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"
        + node(bounds="[0,0][1080,2400]", children="".join(children))
        + "</hierarchy>"
    )


XML = dump(
    node(text="Sign in", rid="app:id/title", bounds="[0,100][500,200]"),
    node(text="Email", rid="app:id/email", bounds="[0,300][1000,400]", click="true"),
    node(text="Sign in", rid="app:id/sign_in", bounds="[0,500][1000,600]", click="true"),
    node(text="  Sign In  ", rid="app:id/other", bounds="[0,700][1000,800]"),
    node(text="Hidden", bounds="[0,0][0,0]"),
    node(desc="Navigate up", bounds="[0,0][168,168]", click="true"),
)


def test_parse_is_flat_in_document_order_with_parents():
    nodes = parse(XML)
    assert [n.text for n in nodes] == ["", "Sign in", "Email", "Sign in", "  Sign In  ", "Hidden", ""]
    assert nodes[0].parent is None
    assert {n.parent for n in nodes[1:]} == {0}
    email = nodes[2]
    assert email.resource_id == "app:id/email"
    assert email.bounds == (0, 300, 1000, 400)
    assert email.center == (500, 350)
    assert email.clickable and email.enabled and not email.checked and not email.password


def test_exact_match_wins_over_loose_match():
    nodes = parse(XML)
    assert [n.resource_id for n in find_nodes(nodes, {"text": "Sign in"})] == [
        "app:id/title",
        "app:id/sign_in",
    ]
    assert [n.resource_id for n in find_nodes(nodes, {"text": "sign in"})] == [
        "app:id/title",
        "app:id/sign_in",
        "app:id/other",
    ]
    assert [n.resource_id for n in find_nodes(nodes, {"text": "  EMAIL "})] == ["app:id/email"]


def test_id_matches_full_or_short_resource_id_and_index_picks():
    nodes = parse(XML)
    assert find_nodes(nodes, {"id": "email"}) == find_nodes(nodes, {"id": "app:id/email"})
    assert len(find_nodes(nodes, {"id": "email"})) == 1
    assert find_nodes(nodes, {"id": "mail"}) == []
    assert find_nodes(nodes, {"text": "Sign in", "index": 1})[0].resource_id == "app:id/sign_in"
    assert find_nodes(nodes, {"text": "Sign in", "index": 2}) == []
    assert find_nodes(nodes, {"desc": "navigate UP"})[0].content_desc == "Navigate up"


def test_nodes_with_empty_bounds_never_match():
    assert find_nodes(parse(XML), {"text": "Hidden"}) == []


def test_selector_needs_a_key_and_every_key_given_must_match():
    nodes = parse(XML)
    with pytest.raises(ValueError):
        find_nodes(nodes, {"index": 0})
    assert [n.resource_id for n in find_nodes(nodes, {"text": "Sign in", "id": "sign_in"})] == ["app:id/sign_in"]
    assert find_nodes(nodes, {"text": "Sign in", "id": "email"}) == []
    # loose only when no element matches every field exactly: then every field loosely
    assert [n.resource_id for n in find_nodes(nodes, {"text": "sign in", "id": "other"})] == ["app:id/other"]
    assert describe_selector({"text": "Sign in", "id": "sign_in"}) == 'text "Sign in" and id "sign_in"'


MAESTRO = {"text_match": "maestro"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sign.*", ["app:id/title", "app:id/sign_in"]),  # a regex matching the whole text ("  Sign In  ": no)
        (".*sign in.*", ["app:id/title", "app:id/sign_in", "app:id/other"]),  # ignoring case
        (".*Invalid.*", ["app:id/error"]),
        ("Invalid", []),  # the whole text, not a part of it
        ("invalid email or password", ["app:id/error"]),
        ("Price (USD)", ["app:id/price"]),  # equal to the text: a match, though the regex is not
        ("Price (", ["app:id/price_open"]),  # not a regex: the text itself
        ("Line one Line two", ["app:id/lines"]),  # line breaks read as spaces
        ("Line one.Line two", ["app:id/lines"]),  # DOTALL
    ],
)
def test_maestro_text_is_the_text_or_a_regex_matching_all_of_it(text, expected):
    nodes = parse(
        XML.replace(
            "</node></hierarchy>",
            node(text="Invalid email or password", rid="app:id/error", bounds="[0,900][1000,1000]")
            + node(text="Price (USD)", rid="app:id/price", bounds="[0,1000][1000,1100]")
            + node(text="Price (", rid="app:id/price_open", bounds="[0,1100][1000,1200]")
            + node(text="Line one&#10;Line two", rid="app:id/lines", bounds="[0,1200][1000,1300]")
            + "</node></hierarchy>",
        )
    )
    assert [n.resource_id for n in find_nodes(nodes, {"text": text, **MAESTRO})] == expected


def test_maestro_text_matches_the_content_desc_and_plain_text_does_not():
    nodes = parse(XML)
    assert [n.content_desc for n in find_nodes(nodes, {"text": "Navigate up", **MAESTRO})] == ["Navigate up"]
    assert [n.content_desc for n in find_nodes(nodes, {"text": "Navigate.*", **MAESTRO})] == ["Navigate up"]
    assert find_nodes(nodes, {"text": "Navigate up"}) == []
    assert find_nodes(nodes, {"text": "Sign.*"}) == []  # native text stays literal
    assert describe_selector({"text": "Sign.*", **MAESTRO}) == 'text or desc matching "Sign.*"'


def test_maestro_any_text_with_a_relation_is_any_element_in_that_relation():
    nodes = parse(XML)
    below_email = find_nodes(nodes, {"text": ".*", **MAESTRO, "below": {"text": "Email", **MAESTRO}})
    assert [n.resource_id for n in below_email][:2] == ["app:id/sign_in", "app:id/other"]


def test_messages_helpers():
    assert describe_selector({"text": "Sign in"}) == 'text "Sign in"'
    assert describe_selector({"id": "email", "index": 1}) == 'id "email" (index 1)'
    assert visible_texts(parse(XML)) == ["Sign in", "Email", "Sign In", "Navigate up"]
    assert visible_texts(parse(XML), limit=2) == ["Sign in", "Email"]


def test_ui_hash_is_sha256_of_the_dump():
    assert ui_hash(XML) == ui_hash(XML)
    assert len(ui_hash(XML)) == 64
    assert ui_hash(XML) != ui_hash(XML.replace("Email", "E-mail"))


def test_unreadable_dump_is_a_transport_error():
    with pytest.raises(TransportError) as info:
        parse("<hierarchy><node")
    assert info.value.retryable


def stateful(text, rid, bounds, *, enabled=True, checked=False, children=""):
    attrs = ATTRS.format(click="true").replace('enabled="true"', f'enabled="{str(enabled).lower()}"')
    attrs = attrs.replace('checked="false"', f'checked="{str(checked).lower()}"')
    head = (
        f'<node index="0" text="{text}" resource-id="{rid}" class="android.widget.Switch" package="p" '
        f'content-desc="" {attrs} bounds="{bounds}"'
    )
    return f"{head}>{children}</node>" if children else f"{head} />"


ROWS = dump(
    node(text="Settings", rid="app:id/header", bounds="[0,0][1080,200]"),
    node(
        rid="app:id/list",
        bounds="[0,200][1080,1000]",
        children="".join(
            node(
                rid="app:id/row",
                bounds=f"[0,{top}][1080,{top + 200}]",
                children=node(text=label, rid="app:id/title", bounds=f"[40,{top + 50}][800,{top + 150}]")
                + stateful("", f"app:id/{label.lower()}_switch", f"[880,{top + 50}][1040,{top + 150}]", **state),
            )
            for top, label, state in (
                (200, "Wifi", {"checked": True}),
                (400, "Bluetooth", {}),
                (600, "Airplane", {"enabled": False}),
                (800, "Location", {"checked": True, "enabled": False}),
            )
        ),
    ),
    node(text="Wifi", rid="app:id/footer", bounds="[0,2200][1080,2400]"),
)


def _ids(found):
    return [n.resource_id.rsplit("/", 1)[-1] for n in found]


def test_states_keep_the_elements_in_that_state():
    nodes = parse(ROWS)
    switches = {"checked": True}
    assert _ids(find_nodes(nodes, {"id": "wifi_switch", **switches})) == ["wifi_switch"]
    assert find_nodes(nodes, {"id": "bluetooth_switch", **switches}) == []
    assert find_nodes(nodes, {"id": "airplane_switch", "enabled": True}) == []
    assert _ids(find_nodes(nodes, {"id": "airplane_switch", "enabled": False})) == ["airplane_switch"]
    assert _ids(find_nodes(nodes, {"id": "location_switch", "enabled": False, "checked": True})) == ["location_switch"]


def test_below_and_above_keep_the_nearest_first_and_index_counts_in_that_order():
    nodes = parse(ROWS)
    below = find_nodes(nodes, {"id": "title", "below": {"text": "Bluetooth"}})
    assert [n.text for n in below] == ["Airplane", "Location"]
    above = find_nodes(nodes, {"id": "title", "above": {"text": "Airplane"}})
    assert [n.text for n in above] == ["Bluetooth", "Wifi"]
    assert find_nodes(nodes, {"id": "title", "above": {"text": "Airplane"}, "index": 1})[0].text == "Wifi"
    between = {"id": "title", "below": {"text": "Wifi", "index": 0}, "above": {"text": "Location"}}
    assert [n.text for n in find_nodes(nodes, between)] == ["Bluetooth", "Airplane"]
    # A switch in the same row is level with its title: neither below nor above it.
    assert find_nodes(nodes, {"id": "bluetooth_switch", "below": {"text": "Bluetooth"}}) == []
    # The anchor's own states narrow it: Location's switch is disabled, so no enabled one anchors anything.
    assert find_nodes(nodes, {"id": "row", "above": {"id": "location_switch", "enabled": True}}) == []
    # Top edges are compared (as Maestro does): Location's own row starts above its switch.
    rows = find_nodes(nodes, {"id": "row", "above": {"id": "location_switch", "enabled": False}})
    assert [n.bounds[1] for n in rows] == [800, 600, 400, 200]


def test_child_of_keeps_the_elements_inside_the_anchor():
    nodes = parse(ROWS)
    assert _ids(find_nodes(nodes, {"text": "Wifi"})) == ["title", "footer"]
    assert _ids(find_nodes(nodes, {"text": "Wifi", "child_of": {"id": "list"}})) == ["title"]
    assert find_nodes(nodes, {"text": "Settings", "child_of": {"id": "list"}}) == []
    inside_row = {"id": "title", "child_of": {"id": "row", "index": 2}}
    assert [n.text for n in find_nodes(nodes, inside_row)] == ["Airplane"]


def test_a_relation_that_rules_out_the_exact_matches_falls_back_to_loose_ones():
    nodes = parse(XML)
    found = find_nodes(nodes, {"text": "sign in", "below": {"id": "email"}})
    assert _ids(found) == ["sign_in", "other"]
    assert _ids(find_nodes(nodes, {"text": "Sign in", "below": {"id": "sign_in"}})) == ["other"]


def test_descriptions_name_states_and_relations():
    assert describe_selector({"id": "title", "below": {"text": "Wi-Fi"}}) == 'id "title" below text "Wi-Fi"'
    assert (
        describe_selector({"id": "s", "checked": False, "enabled": True, "child_of": {"id": "row", "index": 2}})
        == 'id "s", enabled, not checked inside [id "row" (index 2)]'
    )


def test_left_of_and_right_of_compare_left_edges_nearest_first():
    nodes = parse(ROWS)
    assert _ids(find_nodes(nodes, {"id": "wifi_switch", "right_of": {"text": "Wifi", "index": 0}})) == ["wifi_switch"]
    assert find_nodes(nodes, {"id": "wifi_switch", "left_of": {"text": "Wifi"}}) == []
    left = find_nodes(nodes, {"id": "title", "left_of": {"id": "bluetooth_switch"}})
    # Nearest first; ties in document order.
    assert [n.text for n in left] == ["Bluetooth", "Wifi", "Airplane", "Location"]
    assert describe_selector({"id": "t", "left_of": {"id": "s"}}) == 'id "t" left of id "s"'


def test_selected_and_focused_are_states_too():
    tree = XML.replace(
        'text="Email" resource-id="app:id/email" class="android.widget.TextView" package="p" '
        'content-desc="" checkable="false" checked="false" clickable="true" enabled="true" '
        'focusable="false" focused="false" scrollable="false" long-clickable="false" password="false" '
        'selected="false"',
        'text="Email" resource-id="app:id/email" class="android.widget.TextView" '
        'package="p" content-desc="" checkable="false" checked="false" clickable="true" enabled="true" '
        'focusable="true" focused="true" scrollable="false" long-clickable="false" password="false" '
        'selected="true"',
    )
    nodes = parse(tree)
    assert _ids(find_nodes(nodes, {"id": "email", "focused": True, "selected": True})) == ["email"]
    assert find_nodes(nodes, {"id": "email", "focused": False}) == []
    assert find_nodes(nodes, {"id": "sign_in", "selected": True}) == []
