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


def test_selector_needs_exactly_one_key():
    with pytest.raises(ValueError):
        find_nodes(parse(XML), {"text": "a", "id": "b"})


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
