"""Reads of the session domain; every read is scoped to its owner."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery, Sum, TextField
from django.db.models.functions import Cast

from core.errors import NotFound
from core.storage import artifact_read
from devices.logcat import MAX_LINE, LogLine, level_at_least, parse
from devices.models import Device
from devices.uitree import Node, find_nodes
from devices.uitree import parse as ui_parse

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


def short_id(resource_id: str) -> str:
    """`com.example:id/sign_in` → `sign_in` (the form selectors use); other ids stay as they are."""
    return resource_id.partition(":id/")[2] or resource_id


def element_selectors(nodes: list[Node], node: Node) -> list[dict[str, Any]]:
    """The node's text, id and desc selectors: `{kind, value, matches, index}`, where `index` is the node's
    place among the elements the selector finds (0 when it is unique); a selector that finds the element
    only with its index is ambiguous. Also the IDE inspector's (ide/inspector.py)."""
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


EDITABLE_CLASSES = ("EditText", "AutoCompleteTextView")
"""A view whose class's name ends so is a text field: what it shows is its hint until something is typed,
then what was typed (or dots, in a password field), so its text finds it only for a while."""


def _text_holds(node: Node) -> bool:
    return not (node.password or node.class_name.endswith(EDITABLE_CLASSES))


def screen_elements(*, owner: AbstractBaseUser, session_id: Any) -> list[dict[str, Any]]:
    """The latest screen's elements with the selectors that find them, for suggestions in the IDE.

    Each selector finds exactly that element: with `index` when its value finds several (`suggestions`
    says how many, as the inspector does). A text field's text (its hint, what was typed, a password's
    dots) is never suggested: it does not stay."""
    screen = session_screen(owner=owner, session_id=session_id)
    nodes = ui_parse(screen.ui_xml) if screen.ui_xml else []
    elements = []
    for node in nodes:
        suggestions = [
            found for found in element_selectors(nodes, node) if found["kind"] != "text" or _text_holds(node)
        ]
        if suggestions:
            elements.append(
                {
                    "class": node.class_name.rsplit(".", 1)[-1],
                    "bounds": list(node.bounds),
                    "clickable": node.clickable,
                    "selectors": [
                        {found["kind"]: found["value"], **({"index": found["index"]} if found["matches"] > 1 else {})}
                        for found in suggestions
                    ],
                    "suggestions": suggestions,
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


# --- device logs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """Which lines of a device log to show: at least `level`, this `tag`, containing `text` (any case)."""

    level: str = ""
    tag: str = ""
    text: str = ""

    def keeps(self, line: LogLine | None) -> bool:
        if line is None:  # not a log line (`--------- beginning of main`): only in the unfiltered log
            return not (self.level or self.tag or self.text)
        if self.level and not level_at_least(line.level, self.level):
            return False
        if self.tag and line.tag != self.tag:
            return False
        return not self.text or self.text.lower() in f"{line.tag}: {line.message}".lower()


def _log_lines(session: TestSession, *, after: int = 0) -> Iterator[tuple[int, str, LogLine | None]]:
    """The lines of a session's device log after line `after`, in order: (its number from 1, as the device
    printed it, parsed). Chunks wholly before `after` are counted, not read."""
    n = 0
    chunks = Artifact.objects.filter(session=session, kind=Artifact.Kind.LOG).order_by("id")
    for name, count in chunks.values_list("file", "lines"):
        if n + count <= after:
            n += count
            continue
        try:
            text = artifact_read(name=name).decode("utf-8", errors="replace")
        except FileNotFoundError:  # deleted by retention meanwhile
            n += count
            continue
        for raw in text.split("\n")[:-1]:  # as written: one line and "\n" each
            n += 1
            if n > after:
                yield n, raw, parse(raw)


def session_log_page(
    *, owner: AbstractBaseUser, session_id: Any, keep: LogFilter, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The parsed lines `keep` keeps, each with its number `n` in the whole log: those after line `after` (at
    most `limit`), or without `after` the last `limit`; and the number of the log's last line."""
    session = session_get(owner=owner, session_id=session_id)
    last = Artifact.objects.filter(session=session, kind=Artifact.Kind.LOG).aggregate(n=Sum("lines"))["n"] or 0
    page: deque[dict[str, Any]] = deque(maxlen=None if after is not None else limit)
    for n, _, line in _log_lines(session, after=after or 0):
        if line is None or not keep.keeps(line):
            continue
        page.append({"n": n, **line.as_dict()})
        if after is not None and len(page) >= limit:
            break
    return list(page), last


def session_log_text(*, owner: AbstractBaseUser, session_id: Any, keep: LogFilter) -> str:
    """The session's device log as the device printed it, the lines `keep` keeps."""
    session = session_get(owner=owner, session_id=session_id)
    return "".join(f"{raw}\n" for _, raw, line in _log_lines(session) if keep.keeps(line))


def device_log_lines(*, session_id: Any) -> list[str]:
    """The session's device log, each line as the device printed it (the capture bundle's `device_log`)."""
    session = TestSession.objects.get(pk=session_id)
    return [raw[:MAX_LINE] for _, raw, _ in _log_lines(session)]


def step_failure_log(*, owner: AbstractBaseUser, session_id: Any, step_id: int) -> bytes:
    """A failed step's last log lines at the moment of failure."""
    session = session_get(owner=owner, session_id=session_id)
    name = (
        Artifact.objects.filter(session=session, step_id=step_id, kind=Artifact.Kind.FAILURE_LOG)
        .values_list("file", flat=True)
        .first()
    )
    if not name and not session.steps.filter(pk=step_id).exists():
        raise NotFound(f"This session has no step {step_id}.")
    if not name:
        raise NotFound("That step kept no log lines (it did not fail, or they were deleted by retention).")
    return artifact_bytes(name=name, what="step's log")
