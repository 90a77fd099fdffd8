"""Reads the IDE's pages and feeds need, each scoped to the signed-in user."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

from sessions import selectors as session_selectors
from sessions.models import Step, TestSession

from .inspector import screen_tree

RUNNING_STEP = (Step.Status.RUNNING,)
WAITING_STEP = (Step.Status.QUEUED, Step.Status.DEFERRED)


def session_rows(*, owner: AbstractBaseUser) -> QuerySet[TestSession]:
    """The user's sessions, newest first, with the step counts a true status needs."""
    return (
        session_selectors.session_list(owner=owner)
        .annotate(
            step_count=Count("steps"),
            failed_count=Count("steps", filter=Q(steps__status=Step.Status.FAILED)),
            passed_count=Count("steps", filter=Q(steps__status=Step.Status.COMPLETED)),
            running_count=Count("steps", filter=Q(steps__status__in=RUNNING_STEP)),
            waiting_count=Count("steps", filter=Q(steps__status__in=WAITING_STEP)),
        )
        .order_by("-created_at")
    )


def device_rows(*, user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Devices with who holds each when it is the user's own session (with its id and name); a device someone
    else holds just shows busy: other people's sessions and names are theirs."""
    devices = list(session_selectors.devices_with_holders(viewer=user))
    held = [d.held_by for d in devices if getattr(d, "held_by", None)]
    holders = {
        row["pk"]: row
        for row in TestSession.objects.filter(pk__in=held).values("pk", "name", "owner_id", "owner__username")
    }
    rows = []
    for device in devices:
        holder = holders.get(getattr(device, "held_by", None))
        mine = bool(holder and holder["owner_id"] == user.pk)
        rows.append(
            {
                "serial": device.serial,
                "name": device.name or device.serial,
                "model": device.model,
                "os_version": device.os_version,
                "status": device.status,
                "holder": None
                if holder is None
                else {
                    "mine": mine,
                    "session": str(holder["pk"]) if mine else None,
                    "name": (holder["name"] or "your session") if mine else "",
                    "user": holder["owner__username"],
                },
            }
        )
    return rows


def screen_tree_get(*, owner: AbstractBaseUser, session_id: Any, screen_hash: str) -> dict[str, Any]:
    """One screen the session's device showed, as the inspector's tree (NotFound for another user's session)."""
    session = session_selectors.session_get(owner=owner, session_id=session_id)
    screen = session_selectors.screen_get(session=session, screen_hash=screen_hash)
    return {"screen": screen.screen_hash, "nodes": screen_tree(screen.ui_xml)}


@cache
def api_document() -> dict[str, Any]:
    """The OpenAPI document (`GET /api/schema/`) as the API page shows it: its operations in path order and the
    whole document as YAML. Made once per process; the API does not change while it runs."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "what": (op.get("summary") or op.get("description") or "").strip().split("\n")[0],
            "tag": ", ".join(op.get("tags", [])),
        }
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]
    return {"info": schema["info"], "operations": operations, "yaml": OpenApiYamlRenderer().render(schema).decode()}
