"""Reads of the session domain; every read is scoped to its owner."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .errors import NotFound
from .models import SessionEvent, SessionScreen, Step, TestSession


def session_list(*, owner: AbstractBaseUser) -> QuerySet[TestSession]:
    return TestSession.objects.filter(owner=owner).select_related("device")


def session_get(*, owner: AbstractBaseUser, session_id: Any) -> TestSession:
    try:
        return session_list(owner=owner).get(pk=session_id)
    except (TestSession.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such session.") from None


def step_list(*, session: TestSession) -> QuerySet[Step]:
    return session.steps.defer("screenshot").order_by("index")


def step_screenshot(*, session: TestSession, step_id: int) -> bytes:
    shot = session.steps.filter(pk=step_id).values_list("screenshot", flat=True).first()
    if not shot:
        raise NotFound("That step has no screenshot.")
    return bytes(shot)


def session_screen(*, session: TestSession) -> bytes:
    png = SessionScreen.objects.filter(session=session).values_list("png", flat=True).first()
    if not png:
        raise NotFound("No screen yet: the session's device has not been set up.")
    return bytes(png)


def event_list(*, session_id: Any, after: int, limit: int) -> list[SessionEvent]:
    """Events with seq > after, in order, at most `limit` of them."""
    return list(SessionEvent.objects.filter(session_id=session_id, seq__gt=after).order_by("seq")[:limit])


def session_last_seq(*, session_id: Any) -> int:
    return TestSession.objects.values_list("last_seq", flat=True).get(pk=session_id)
