"""Reads of the session domain; every read is scoped to its owner."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from core.errors import NotFound
from core.storage import artifact_read
from devices.models import Device

from .events import event_text
from .models import Artifact, Screen, SessionEvent, Step, TestSession


def session_list(*, owner: AbstractBaseUser) -> QuerySet[TestSession]:
    return TestSession.objects.filter(owner=owner).select_related("device")


def session_get(*, owner: AbstractBaseUser, session_id: Any) -> TestSession:
    try:
        return session_list(owner=owner).get(pk=session_id)
    except (TestSession.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such session.") from None


def step_list(*, owner: AbstractBaseUser, session_id: Any) -> QuerySet[Step]:
    return session_get(owner=owner, session_id=session_id).steps.order_by("index")


def step_screenshot(*, owner: AbstractBaseUser, session_id: Any, step_id: int) -> bytes:
    session = session_get(owner=owner, session_id=session_id)
    name = session.steps.filter(pk=step_id).values_list("screenshot", flat=True).first()
    if not name:
        raise NotFound("That step has no screenshot.")
    return artifact_bytes(name=name, what="screenshot")


def artifact_bytes(*, name: str, what: str) -> bytes:
    """A stored file's content; NotFound when the file is gone (deleted by retention)."""
    try:
        return artifact_read(name=name)
    except FileNotFoundError:
        raise NotFound(f"The {what} is no longer kept (retention, docs/settings.md).") from None


def screen_picture(*, screen: Screen) -> bytes:
    if not screen.picture:
        raise NotFound("The picture of that screen is no longer kept (retention, docs/settings.md).")
    return artifact_bytes(name=screen.picture.name, what="picture of that screen")


def screen_get(*, session: TestSession, screen_hash: str | None = None) -> Screen:
    """One of the screens the session's device showed; the latest when no hash is given."""
    screens = Screen.objects.filter(session=session)
    screen = (screens.filter(screen_hash=screen_hash) if screen_hash else screens.order_by("-seen_at")).first()
    if screen is None:
        raise NotFound("No such screen: the device has not shown it in this session.")
    return screen


def session_screen(*, owner: AbstractBaseUser, session_id: Any, screen_hash: str | None = None) -> Screen:
    """`screen_get` of one of the owner's sessions (someone else's → NotFound)."""
    return screen_get(session=session_get(owner=owner, session_id=session_id), screen_hash=screen_hash)


def failure_evidence(*, session_id: Any, step_id: int, screen_hash: str, logged: bool) -> dict[str, str | None]:
    """Where a failed step's evidence is: the screen at the moment of failure, its UI tree, and the device's
    last log lines then (docs/api.md "Artifacts"); None for what was not kept."""
    screens = f"/api/sessions/{session_id}/screens/{screen_hash}"
    return {
        "screen": f"{screens}.png" if screen_hash else None,
        "ui_tree": f"{screens}.xml" if screen_hash else None,
        "log": f"/api/sessions/{session_id}/steps/{step_id}/log.txt" if logged else None,
    }


def failure_logged(*, session_id: Any) -> set[int]:
    """The steps of a session whose last log lines at failure are kept."""
    kept = Artifact.objects.filter(session_id=session_id, kind=Artifact.Kind.FAILURE_LOG)
    return set(kept.values_list("step_id", flat=True))


def screen_elements(*, owner: AbstractBaseUser, session_id: Any) -> list[dict[str, Any]]:
    """The latest screen's elements with the selectors that find them, for suggestions in the IDE."""
    from devices.uitree import parse

    screen = session_screen(owner=owner, session_id=session_id)
    elements = []
    for node in parse(screen.ui_xml) if screen.ui_xml else []:
        selectors = [
            {"text": node.text} if node.text else None,
            {"id": node.resource_id.partition(":id/")[2] or node.resource_id} if node.resource_id else None,
            {"desc": node.content_desc} if node.content_desc else None,
        ]
        if any(selectors):
            elements.append(
                {
                    "class": node.class_name.rsplit(".", 1)[-1],
                    "bounds": list(node.bounds),
                    "clickable": node.clickable,
                    "selectors": [s for s in selectors if s],
                }
            )
    return elements


def event_page(*, owner: AbstractBaseUser, session_id: Any, after: int, limit: int) -> tuple[list[SessionEvent], int]:
    """Events of one of the owner's sessions with seq > after (at most `limit`), and the session's last seq."""
    session = session_get(owner=owner, session_id=session_id)
    return event_list(session_id=session.pk, after=after, limit=limit), session.last_seq


def event_list(*, session_id: Any, after: int, limit: int) -> list[SessionEvent]:
    """Events with seq > after, in order, at most `limit` of them."""
    return list(SessionEvent.objects.filter(session_id=session_id, seq__gt=after).order_by("seq")[:limit])


def event_texts(*, session_id: Any, after: int, limit: int) -> list[tuple[int, str]]:
    """Events with seq > after, in order, at most `limit` of them, as (seq, the text a socket sends)."""
    rows = (
        SessionEvent.objects.filter(session_id=session_id, seq__gt=after)
        .order_by("seq")
        .annotate(payload_json=Cast("payload", TextField()))
        .values_list("seq", "type", "created_at", "payload_json")[:limit]
    )
    return [
        (seq, event_text(seq=seq, type=type, session_id=session_id, created_at=created_at, payload_json=payload))
        for seq, type, created_at, payload in rows
    ]


def session_last_seq(*, session_id: Any) -> int:
    return TestSession.objects.values_list("last_seq", flat=True).get(pk=session_id)


def devices_with_holders(*, viewer: AbstractBaseUser) -> QuerySet[Device]:
    """Devices with the id of the session holding each one (`held_by`), where that session is the viewer's
    own (staff see every holder): other people's session ids are theirs."""
    holders = TestSession.objects.filter(device=OuterRef("pk"), status__in=TestSession.HOLDING_DEVICE)
    if not getattr(viewer, "is_staff", False):
        holders = holders.filter(owner=viewer)
    return Device.objects.annotate(held_by=Subquery(holders.values("pk")[:1])).order_by("serial")
