"""`GET /api/sessions/{id}/ui/`: each suggested selector finds exactly its element on the latest screen."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.drivers.sim.phone import dump, fresh_state, input_text, launch, tap
from devices.uitree import find_nodes, parse
from sessions.models import Screen, TestSession


def suggested(user, device, ui_xml: str) -> list[dict]:
    session = TestSession.objects.create(owner=user, device=device, status="READY")
    Screen.objects.create(session=session, screen_hash="c" * 64, ui_xml=ui_xml)
    client = APIClient()
    client.force_authenticate(user)
    answer = client.get(f"/api/sessions/{session.pk}/ui/")
    assert answer.status_code == 200
    return answer.json()


def by_id(elements: list[dict], short: str) -> dict:
    return next(e for e in elements if {"id": short} in e["selectors"])


@pytest.mark.django_db
def test_a_text_two_elements_show_is_suggested_with_the_index_of_each(user, device):
    state = fresh_state()
    launch(state, "com.cognisim.demo", clear_state=True)  # the sign-in screen: its title and its button say "Sign in"
    xml = dump(state)
    elements = suggested(user, device, xml)

    title, button = by_id(elements, "title"), by_id(elements, "sign_in")
    assert title["selectors"] == [{"text": "Sign in", "index": 0}, {"id": "title"}]
    assert button["selectors"] == [{"text": "Sign in", "index": 1}, {"id": "sign_in"}]
    assert button["suggestions"] == [
        {"kind": "text", "value": "Sign in", "matches": 2, "index": 1},
        {"kind": "id", "value": "sign_in", "matches": 1, "index": 0},
    ]
    nodes = parse(xml)
    for element in elements:
        for selector in element["selectors"]:
            assert [list(n.bounds) for n in find_nodes(nodes, selector)] == [element["bounds"]], selector


@pytest.mark.django_db
def test_a_text_fields_hint_typed_text_or_dots_are_never_suggested(user, device):
    state = fresh_state()
    launch(state, "com.cognisim.demo", clear_state=True)
    empty = suggested(user, device, dump(state))
    assert by_id(empty, "email")["selectors"] == [{"id": "email"}]  # not its hint, "Email"
    assert by_id(empty, "password")["selectors"] == [{"id": "password"}]  # not its hint, "Password"

    for field, text in (("email", "demo@example.com"), ("password", "hunter22")):
        x1, y1, x2, y2 = next(n.bounds for n in parse(dump(state)) if n.resource_id.endswith(f":id/{field}"))
        tap(state, (x1 + x2) // 2, (y1 + y2) // 2)
        input_text(state, text)
    typed = suggested(user, device, dump(state))
    assert "•" * 8 in dump(state)  # the password shows as dots
    assert by_id(typed, "email")["selectors"] == [{"id": "email"}]
    assert by_id(typed, "password")["selectors"] == [{"id": "password"}]
    assert all(
        s.get("text") not in ("Email", "Password", "demo@example.com", "•" * 8) for e in typed for s in e["selectors"]
    )
