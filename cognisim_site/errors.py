"""One error shape for the whole API: `{"code": …, "message": …}` with a 4xx status, never a 5xx for bad input."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import ServiceError
from core.steps import StepInvalid


def _first_message(detail: Any) -> tuple[str, str]:
    """(field, message) of the first problem in a DRF validation detail."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        inner_field, message = _first_message(value)
        name = field if inner_field == "" else f"{field}.{inner_field}"
        return ("" if field == "non_field_errors" else name), message
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return "", str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, StepInvalid):
        return Response({"code": exc.code, "message": exc.message, "field": exc.field}, status=400)
    if isinstance(exc, ServiceError):
        return Response({"code": exc.code, "message": exc.message, **exc.details}, status=exc.status)
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_message(exc.detail)
        body = {"code": "invalid", "message": f"{field}: {message}" if field else message}
        if field:
            body["field"] = field
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is not None:
        code = getattr(exc, "default_code", "error")
        detail = getattr(exc, "detail", str(exc))
        response.data = {"code": code, "message": str(detail)}
        if isinstance(exc, exceptions.UnsupportedMediaType):
            response.data["message"] += " Send the body as JSON, with Content-Type: application/json."
        if getattr(exc, "field", ""):
            response.data["field"] = exc.field  # type: ignore[attr-defined]
    return response


def json_400(request: Any, exception: Exception | None = None) -> HttpResponse:
    """Django's own 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host): JSON for the API."""
    too_big = isinstance(exception, RequestDataTooBig)
    if request.path.startswith("/api/"):
        if too_big:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = {"code": "request_too_large", "message": f"The request body is larger than {limit} bytes."}
            return JsonResponse(body, status=413)
        return JsonResponse({"code": "bad_request", "message": "The request cannot be read."}, status=400)
    if too_big:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    return defaults.bad_request(request, exception or Exception())


def json_404(request: Any, exception: Exception | None = None) -> HttpResponse:
    """JSON for the API, the ordinary page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "No such resource."}, status=404)
    return defaults.page_not_found(request, exception or Http404())


def json_500(request: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "message": "CogniSim failed; the error is logged."}, status=500)
    return defaults.server_error(request)
