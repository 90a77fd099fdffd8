"""The browser IDE's pages: interfaces that read through selectors and open sessions through one service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import NotFound, ServiceError
from core.steps import ACTIONS, KEYS
from devices.models import Device
from devices.selectors import device_list
from sessions import selectors, services
from sessions.models import Step, TestSession

from .forms import SessionOpenForm

# What a tester reads when a session cannot be opened; the service's own message is the fallback.
OPEN_ERRORS = {
    "session_limit": (
        "You already have {active} sessions open, and {limit} is the most you can have at once. "
        "Stop one of them (in the list below) to open a new one."
    ),
    "device_busy": "That device is being used by another session right now. Pick another device, or “Any free device”.",
    "device_unavailable": "That device is offline or in maintenance. Pick another device.",
    "no_device_available": "Every device is busy right now. Stop one of your sessions or try again in a moment.",
}


def open_error_message(exc: ServiceError) -> str:
    template = OPEN_ERRORS.get(exc.code)
    if template is None:
        return exc.message
    return template.format(**{"active": "", "limit": "", **exc.details})


def _devices(user: Any) -> list[dict[str, Any]]:
    """Devices with who holds each: the user's own session (linked) or someone else's."""
    devices = list(device_list())
    held = [d.held_by for d in devices if getattr(d, "held_by", None)]
    holders = {
        row["pk"]: row
        for row in TestSession.objects.filter(pk__in=held).values("pk", "name", "owner_id", "owner__username")
    }
    rows = []
    for device in devices:
        holder = holders.get(getattr(device, "held_by", None))
        rows.append(
            {
                "device": device,
                "holder": holder,
                "mine": bool(holder and holder["owner_id"] == user.pk),
            }
        )
    return rows


def _home(request: HttpRequest, form: SessionOpenForm, error: str = "", status: int = 200) -> HttpResponse:
    sessions = (
        selectors.session_list(owner=request.user)
        .annotate(
            step_count=Count("steps"),
            failed_count=Count("steps", filter=Q(steps__status=Step.Status.FAILED)),
        )
        .order_by("-created_at")[:50]
    )
    context = {
        "sessions": sessions,
        "devices": _devices(request.user),
        "form": form,
        "open_error": error,
        "active_statuses": TestSession.ACTIVE,
    }
    return render(request, "ide/home.html", context, status=status)


def _open_form(request: HttpRequest, data: Any = None) -> SessionOpenForm:
    free = Device.objects.filter(status__in=[Device.Status.AVAILABLE, Device.Status.BUSY]).order_by("serial")
    return SessionOpenForm(data, devices=free, initial={"app": "com.cognisim.demo"})


@login_required
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest) -> HttpResponse:
    return _home(request, _open_form(request))


@login_required
@require_POST
def session_new(request: HttpRequest) -> HttpResponse:
    form = _open_form(request, request.POST)
    if not form.is_valid():
        return _home(request, form, status=400)
    try:
        session = services.session_open(
            owner=request.user,
            device_serial=form.cleaned_data["device"] or None,
            name=form.cleaned_data["name"],
            app_package=form.cleaned_data["app"],
            source=TestSession.Source.IDE,
        )
    except ServiceError as exc:
        return _home(request, form, error=open_error_message(exc), status=exc.status)
    return redirect("ide:session", session_id=session.pk)


@login_required
@require_http_methods(["GET", "HEAD"])
def session_page(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        session = selectors.session_get(owner=request.user, session_id=session_id)
    except NotFound:
        raise Http404("No such session.") from None
    device = session.device
    config = {
        "id": str(session.pk),
        "name": session.name,
        "status": session.status,
        "screenUrl": session.screen_url,
        "device": None
        if device is None
        else {
            "serial": device.serial,
            "name": device.name,
            "width": device.screen_width,
            "height": device.screen_height,
        },
        "actions": list(ACTIONS),
        "keys": sorted(KEYS),
    }
    return render(request, "ide/session.html", {"session": session, "config": config})
