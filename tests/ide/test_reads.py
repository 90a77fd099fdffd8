"""The IDE's reads without a browser: the inspector's tree, the true badge, the chat history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from core.steps import common_fields, selector_fields, step_catalog
from devices.drivers.sim.phone import dump, fresh_state, launch
from ide.inspector import screen_tree
from ide.states import session_shown
from sessions.models import TestSession
from turns.models import Turn
from turns.selectors import chat_history


def test_the_tree_gives_every_element_its_selectors_and_how_many_they_match() -> None:
    state = fresh_state()
    launch(state, "com.cognisim.demo", clear_state=True)
    nodes = screen_tree(dump(state))
    assert [n["depth"] for n in nodes] == [0, 1, 2, 2, 2, 2]
    assert [n["parent"] for n in nodes] == [None, 0, 1, 1, 1, 1]
    button = next(n for n in nodes if n["id"] == "sign_in")
    assert button["clickable"] and not button["password"] and button["bounds"] == [48, 960, 1032, 1110]
    # "Sign in" is the title's text too: that selector needs index 1 to reach the button.
    assert button["selectors"] == [
        {"kind": "text", "value": "Sign in", "matches": 2, "index": 1},
        {"kind": "id", "value": "sign_in", "matches": 1, "index": 0},
    ]
    password = next(n for n in nodes if n["id"] == "password")
    assert password["password"] and password["resource_id"] == "com.cognisim.demo:id/password"
    assert screen_tree("") == []


@pytest.mark.parametrize(
    ("status", "counts", "label", "result"),
    [
        ("RUNNING", dict(steps=3, failed=0, passed=2, running=1, waiting=0), "RUNNING", "open"),
        ("RUNNING", dict(steps=3, failed=1, passed=2, running=0, waiting=0), "READY", "open"),
        ("RUNNING", dict(steps=3, failed=0, passed=2, running=0, waiting=1), "QUEUED", "open"),
        ("COMPLETED", dict(steps=5, failed=3, passed=2, running=0, waiting=0), "COMPLETED · 3 failed", "3 of 5 failed"),
        ("COMPLETED", dict(steps=0, failed=0, passed=0, running=0, waiting=0), "COMPLETED · no steps", "no steps"),
        ("COMPLETED", dict(steps=2, failed=0, passed=2, running=0, waiting=0), "COMPLETED", "all 2 passed"),
        ("CANCELLED", dict(steps=2, failed=0, passed=1, running=0, waiting=0), "CANCELLED", "stopped early"),
        ("FAILED", dict(steps=0, failed=0, passed=0, running=0, waiting=0), "FAILED", "setup failed"),
        # A CI run that stopped at its failed step: 4 passed, 1 failed, 2 cancelled before they started.
        ("FAILED", dict(steps=7, failed=1, passed=4, running=0, waiting=0), "FAILED", "1 of 7 failed"),
        ("WAITING_INPUT", dict(steps=1, failed=0, passed=0, running=1, waiting=0), "WAITING FOR INPUT", "open"),
    ],
)
def test_the_badge_and_result_say_what_happened(status: str, counts: dict, label: str, result: str) -> None:
    shown = session_shown(status=status, **counts)
    assert (shown.label, shown.result) == (label, result)
    assert shown.css != "st-COMPLETED" or counts["failed"] == 0 < counts["steps"]


def test_the_catalog_is_served_as_the_schema_makes_it(client: Any) -> None:
    answer = client.get("/steps/catalog.json")
    assert answer.status_code == 200 and answer.json() == {
        "actions": step_catalog(),
        "common": common_fields(),
        "selector": selector_fields(),
    }
    typing = next(entry for entry in answer.json()["actions"] if entry["action"] == "type")
    assert {"name": "into", "required": False, "type": "selector"}.items() <= typing["fields"][1].items()
    names = [field["name"] for field in answer.json()["selector"]]
    assert names == [
        "text",
        "id",
        "desc",
        "index",
        "text_match",
        *("enabled", "checked", "selected", "focused"),
        *("below", "above", "left_of", "right_of", "child_of"),
    ]


@pytest.mark.django_db
def test_the_chat_history_has_both_sides_and_says_when_the_agent_is_thinking() -> None:
    owner = get_user_model().objects.create_user("dave")
    session = TestSession.objects.create(owner=owner)
    done = Turn.objects.create(
        session=session,
        status=Turn.Status.COMPLETED,
        messages=[{"text": "open settings", "at": 1.0}, {"text": "and wifi", "at": 1.2}],
        reply="Done, 2 steps passed.",
    )
    planning = Turn.objects.create(session=session, status=Turn.Status.RUNNING, messages=[{"text": "go", "at": 3.0}])
    assert chat_history(session=session) == [
        {"who": "you", "turn_id": done.pk, "text": "open settings", "at": 1.0},
        {"who": "you", "turn_id": done.pk, "text": "and wifi", "at": 1.2},
        {"who": "agent", "turn_id": done.pk, "text": "Done, 2 steps passed.", "status": "COMPLETED"},
        {"who": "you", "turn_id": planning.pk, "text": "go", "at": 3.0},
        {"who": "agent", "turn_id": planning.pk, "thinking": True},
    ]


@pytest.mark.django_db
def test_only_the_owner_stops_a_session_from_the_home_page(client: Any) -> None:
    owner = get_user_model().objects.create_user("erin")
    session = TestSession.objects.create(owner=owner)
    client.force_login(get_user_model().objects.create_user("frank"))
    assert client.post(f"/sessions/{session.pk}/stop/").status_code == 404
    assert client.get(f"/sessions/{session.pk}/screens/{'0' * 64}/tree.json").status_code == 404
    maestro = f"/sessions/{session.pk}/export/maestro/"
    steps = {"name": "n", "app": "com.example.app", "steps": [{"action": "tap", "text": "OK"}]}
    assert client.post(maestro, steps, content_type="application/json").status_code == 404
    client.force_login(owner)
    answer = client.post(maestro, steps, content_type="application/json")
    assert answer.status_code == 200 and "tapOn: OK" in answer.json()["flow"]
    steps["steps"].append({"action": "sleep", "ms": 10})
    refused = client.post(maestro, steps, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["message"] == "step 2 (sleep) has no Maestro command"
    assert refused.json()["code"] == "not_exportable"
    for body, code, field in (
        ("{not json", "parse_error", ""),
        ([], "invalid", "body"),
        ({"steps": [{"action": "tap", "text": "OK"}]}, "invalid", "app"),
        ({"app": "com.example.app", "steps": "tap OK"}, "invalid", "steps"),
        (
            {"app": "com.example.app", "steps": [{"action": "tap", "text": "OK"}, {"action": "tap"}]},
            "invalid_step",
            "steps[1].text",
        ),
        ({"app": "com.example.app", "steps": [{"action": "fly"}]}, "invalid_step", "steps[0].action"),
    ):
        answer = client.post(maestro, body, content_type="application/json")
        assert (answer.status_code, answer.json()["code"], answer.json().get("field", "")) == (400, code, field), body
    assert client.post(f"/sessions/{session.pk}/stop/").status_code == 302
    session.refresh_from_db()
    assert session.status == TestSession.Status.COMPLETED


@pytest.mark.django_db
def test_the_home_page_shows_sessions_that_have_no_device(client: Any) -> None:
    """A session waiting in the queue for a device, and one that ended before it got one."""
    owner = get_user_model().objects.create_user("gina")
    waiting = TestSession.objects.create(owner=owner, name="Queued run")
    TestSession.objects.create(owner=owner, name="Never started", status=TestSession.Status.CANCELLED)
    client.force_login(owner)
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Queued run" in html and "Never started" in html and "waiting for a device" in html
    refused = client.post("/sessions/new/", {"device": "no-such-phone", "app": "com.cognisim.demo"})
    assert refused.status_code == 400 and "Queued run" in refused.content.decode()
    assert waiting.device is None


@pytest.mark.django_db
def test_a_session_name_too_long_is_refused_in_words(client: Any) -> None:
    client.force_login(get_user_model().objects.create_user("hana"))
    refused = client.post("/sessions/new/", {"name": "x" * 600, "app": "com.cognisim.demo"})
    assert refused.status_code == 400
    assert "at most 200 characters" in refused.content.decode()


@pytest.mark.django_db
def test_the_api_link_shows_the_api_document_in_the_browser(client: Any) -> None:
    client.force_login(get_user_model().objects.create_user("ivan"))
    home = client.get("/").content.decode()
    link = re.search(r'<a href="([^"]+)">API</a>', home)
    assert link is not None, "no API link in the header"
    page = client.get(link.group(1))
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "attachment" not in page.get("Content-Disposition", "")
    html = page.content.decode()
    assert "/api/sessions/{session_id}/steps/" in html and "POST" in html  # the operations, read in the page
    assert 'href="/api/schema/"' in html  # and the document itself to download
