"""The browser IDE's pages: interfaces that read through selectors and act through one service call each."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import NotFound, ServiceError
from core.jsonsafe import JsonRefused, json_load
from core.steps import PACKAGE_RE, StepInvalid, common_fields, selector_fields, step_catalog, step_parse
from devices.models import Device
from runs.maestro import maestro_export
from sessions import selectors as session_selectors
from sessions import services
from sessions.models import TestSession
from turns.selectors import chat_history

from . import selectors
from .forms import SessionOpenForm
from .states import session_shown

# What a tester reads when a session cannot be opened; the service's own message is the fallback.
OPEN_ERRORS = {
    "session_limit": (
        "You already have {active} sessions open, and {limit} is the most you can have at once. "
        "Stop one of them (below) to open a new one."
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


def _session_row(session: Any) -> dict[str, Any]:
    shown = session_shown(
        status=session.status,
        steps=session.step_count,
        failed=session.failed_count,
        passed=session.passed_count,
        running=session.running_count,
        waiting=session.waiting_count,
    )
    return {"session": session, "shown": shown, "active": session.status in TestSession.ACTIVE}


def _home(request: HttpRequest, form: SessionOpenForm, error: str = "", status: int = 200) -> HttpResponse:
    rows = [_session_row(s) for s in selectors.session_rows(owner=request.user)[:50]]
    context = {
        "sessions": rows,
        "open_sessions": [row for row in rows if row["active"]],
        "devices": selectors.device_rows(user=request.user),
        "form": form,
        "open_error": error,
    }
    return render(request, "ide/home.html", context, status=status)


def _open_form(request: HttpRequest, data: Any = None) -> SessionOpenForm:
    free = Device.objects.filter(status__in=[Device.Status.AVAILABLE, Device.Status.BUSY]).order_by("serial")
    return SessionOpenForm(data, devices=free, initial={"app": "com.cognisim.demo"})


@login_required
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest) -> HttpResponse:
    return _home(request, _open_form(request))


@require_http_methods(["GET", "HEAD"])
def api_page(request: HttpRequest) -> HttpResponse:
    """The header's "API": the OpenAPI document read in the browser (`/api/schema/` is a file to download)."""
    return render(request, "ide/api.html", {"api": selectors.api_document()})


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
@require_POST
def session_stop(request: HttpRequest, session_id: str) -> HttpResponse:
    """The home page's Stop buttons (a form, so they work without JavaScript)."""
    try:
        services.session_stop(session_id=session_id, owner=request.user)
    except NotFound:
        raise Http404("No such session.") from None
    return redirect("ide:home")


@login_required
@require_http_methods(["GET", "HEAD"])
def session_page(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        session = session_selectors.session_get(owner=request.user, session_id=session_id)
    except NotFound:
        raise Http404("No such session.") from None
    device = session.device
    config = {
        "id": str(session.pk),
        "name": session.name,
        "status": session.status,
        "app": session.app_package,
        "screenUrl": session.screen_url,
        "device": None
        if device is None
        else {
            "serial": device.serial,
            "name": device.name,
            "width": device.screen_width,
            "height": device.screen_height,
        },
        "chat": chat_history(session=session),
    }
    return render(request, "ide/session.html", {"session": session, "config": config})


@login_required
@require_http_methods(["GET", "HEAD"])
def screen_tree(request: HttpRequest, session_id: str, screen_hash: str) -> JsonResponse:
    """The inspector's tree of one screen the session's device showed (a screen never changes: cached)."""
    try:
        tree = selectors.screen_tree_get(owner=request.user, session_id=session_id, screen_hash=screen_hash)
    except NotFound as exc:
        return JsonResponse({"code": exc.code, "message": exc.message}, status=404)
    response = JsonResponse(tree)
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_POST
def export_maestro(request: HttpRequest, session_id: str) -> JsonResponse:
    """The export dialog's Maestro form: `{name, app, steps}` (steps as the step API takes them) → `{flow}`,
    or 400 naming the first step Maestro cannot express. The server then checks the file like any flow."""
    try:
        session_selectors.session_get(owner=request.user, session_id=session_id)
    except NotFound as exc:
        return JsonResponse({"code": exc.code, "message": exc.message}, status=404)
    try:
        name, app, steps = _export_body(request.body)
        flow = maestro_export(name=name, app=app, steps=steps)
    except (JsonRefused, StepInvalid) as exc:
        return JsonResponse({"code": exc.code, "message": exc.message, "field": exc.field}, status=400)
    except ValueError as exc:  # a step Maestro has no command for
        return JsonResponse({"code": "not_exportable", "message": str(exc)}, status=400)
    return JsonResponse({"flow": flow})


def _export_body(raw: bytes) -> tuple[str, str, list[dict[str, Any]]]:
    """`{name?, app, steps}` read strictly: each step as the step API takes it, or the error naming it."""
    body = json_load(raw)
    if not isinstance(body, dict):
        raise JsonRefused("invalid", "Send {name, app, steps: [{action, …}]}.", "body")
    name, app, steps = body.get("name") or "", body.get("app"), body.get("steps")
    if not isinstance(name, str):
        raise JsonRefused("invalid", "'name' must be a string.", "name")
    if not isinstance(app, str) or not PACKAGE_RE.match(app):
        raise JsonRefused("invalid", "'app' must be a package name (the Maestro appId): com.example.app.", "app")
    if not isinstance(steps, list):
        raise JsonRefused("invalid", "'steps' must be a list of steps: [{action, …}].", "steps")
    for n, step in enumerate(steps):
        try:
            step_parse(step)
        except StepInvalid as exc:
            raise StepInvalid(f"steps[{n}].{exc.field}", f"Step {n + 1}: {exc.message}") from None
    return name, app, steps


@require_http_methods(["GET", "HEAD"])
@cache_control(public=True, max_age=300)
def steps_catalog(request: HttpRequest) -> JsonResponse:
    """The step vocabulary (core.steps): every action with its fields, the fields every step takes, and a
    selector's fields. The composer is built from it."""
    return JsonResponse({"actions": step_catalog(), "common": common_fields(), "selector": selector_fields()})


@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(render_to_string("ide/favicon.svg"), content_type="image/svg+xml")
