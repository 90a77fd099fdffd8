"""REST interfaces of sessions (SPEC §4): parse, call one service or selector, serialize."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.converters import DATABASE_ID_MAX, database_id_problem
from core.errors import ServiceError
from core.serializers import NoControlCharacters, StrictSerializer
from core.steps import PACKAGE_RE, StepRequest
from devices.api import DeviceSerializer
from devices.logcat import LEVELS

from . import selectors, services
from .events import event_message
from .models import Step, TestSession
from .services import recording


class AppSerializer(StrictSerializer):
    package = serializers.RegexField(
        PACKAGE_RE, max_length=255, error_messages={"invalid": "Not a valid Android package name."}
    )


class SessionCreateSerializer(StrictSerializer):
    device = serializers.CharField(required=False, allow_null=True, min_length=1, max_length=128, trim_whitespace=False)
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="", validators=[NoControlCharacters("name")]
    )
    app = AppSerializer(required=False, allow_null=True)
    source = serializers.ChoiceField(choices=TestSession.Source.choices, required=False, default="api")
    queue = serializers.BooleanField(required=False, default=False)


class SessionSerializer(serializers.ModelSerializer):
    device = serializers.SlugRelatedField(slug_field="serial", read_only=True, allow_null=True)
    app = serializers.SerializerMethodField()
    ws_url = serializers.SerializerMethodField()
    live_url = serializers.SerializerMethodField()

    class Meta:
        model = TestSession
        fields = [
            "id",
            "name",
            "status",
            "source",
            "device",
            "app",
            "ws_url",
            "live_url",
            "trace_id",
            "screen_url",
            "error",
            "last_seq",
            "current_state",
            "created_at",
            "ready_at",
            "ended_at",
            "last_activity_at",
        ]

    def get_app(self, session: TestSession) -> dict[str, str] | None:
        return {"package": session.app_package} if session.app_package else None

    def get_ws_url(self, session: TestSession) -> str:
        url = self.context["request"].build_absolute_uri(f"/ws/sessions/{session.pk}/")
        return "ws" + url.removeprefix("http")

    def get_live_url(self, session: TestSession) -> str | None:
        """The live device view (seed 000's `iframe_url`) while the session is open on a device (docs/ide.md)."""
        if session.device is None or session.status not in TestSession.ACTIVE:
            return None
        return str(self.context["request"].build_absolute_uri(f"/devices/{quote(session.device.serial)}/live/"))


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = [
            "id",
            "index",
            "action",
            "params",
            "status",
            "attempt",
            "timeout_ms",
            "max_retries",
            "backoff",
            "result",
            "error",
            "state_patch",
            "effect",
            "effect_hash",
            "optional",
            "always",
            "screen_hash",
            "timings",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class InputSerializer(StrictSerializer):
    input_id = serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX)
    value = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4096, required=False)
    cancel = serializers.BooleanField(
        required=False, default=False, help_text="Leave the question unanswered: the step ends CANCELLED."
    )

    def to_internal_value(self, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("input_id") is not None
            and (why := database_id_problem(data["input_id"]))
        ):
            raise serializers.ValidationError({"input_id": [why]})  # the socket's words (sessions/consumers.py)
        return super().to_internal_value(data)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data["cancel"] and "value" not in data:
            raise serializers.ValidationError({"value": ["This field is required unless 'cancel' is true."]})
        return data


def _input_body(cancel: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "input_id": {"type": "integer", "minimum": 1, "maximum": DATABASE_ID_MAX},
            "value": {"type": "string", "maxLength": 4096},
            "cancel": {"type": "boolean", "enum": [cancel]},
        },
        "required": ["input_id", "cancel" if cancel else "value"],
        "additionalProperties": False,
    }


INPUT_BODY = {"oneOf": [_input_body(cancel=False), _input_body(cancel=True)]}
"""`InputSerializer` as OpenAPI says it: an answer (`value`), or `cancel: true`."""


class SessionListView(APIView):
    @extend_schema(responses=SessionSerializer(many=True))
    def get(self, request: Request) -> Response:
        sessions = selectors.session_list(owner=request.user)[:200]
        return Response(SessionSerializer(sessions, many=True, context={"request": request}).data)

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def post(self, request: Request) -> Response:
        body = SessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        session = services.session_open(
            owner=request.user,
            device_serial=data.get("device"),
            name=data["name"],
            app_package=(data.get("app") or {}).get("package", ""),
            source=data["source"],
            queue=data["queue"],
        )
        return Response(SessionSerializer(session, context={"request": request}).data, status=status.HTTP_201_CREATED)


class SessionDetailView(APIView):
    @extend_schema(responses=SessionSerializer)
    def get(self, request: Request, session_id: str) -> Response:
        session = selectors.session_get(owner=request.user, session_id=session_id)
        return Response(SessionSerializer(session, context={"request": request}).data)


class SessionStepsView(APIView):
    @extend_schema(responses=StepSerializer(many=True))
    def get(self, request: Request, session_id: str) -> Response:
        return Response(StepSerializer(selectors.step_list(owner=request.user, session_id=session_id), many=True).data)

    @extend_schema(
        request=StepRequest,
        responses={
            201: inline_serializer(
                "StepCreated",
                {
                    "id": serializers.IntegerField(),
                    "index": serializers.IntegerField(),
                    "action": serializers.CharField(),
                    "status": serializers.ChoiceField(choices=Step.Status.choices),
                },
            )
        },
    )
    def post(self, request: Request, session_id: str) -> Response:
        step = services.step_submit(session_id=session_id, owner=request.user, data=request.data)
        return Response(
            {"id": step.pk, "index": step.index, "action": step.action, "status": step.status},
            status=status.HTTP_201_CREATED,
        )


STEP_ID = OpenApiParameter(
    "step_id", {"type": "integer", "minimum": 1, "maximum": DATABASE_ID_MAX}, OpenApiParameter.PATH
)


class StepScreenshotView(APIView):
    @extend_schema(parameters=[STEP_ID], responses={(200, "image/png"): bytes})
    def get(self, request: Request, session_id: str, step_id: int) -> HttpResponse:
        png = selectors.step_screenshot(owner=request.user, session_id=session_id, step_id=step_id)
        return HttpResponse(png, content_type="image/png")


class SessionScreenView(APIView):
    """The device's latest screen, or one it showed earlier by hash (every step's effect names its screen)."""

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, session_id: str, screen_hash: str | None = None) -> HttpResponse:
        screen = selectors.session_screen(owner=request.user, session_id=session_id, screen_hash=screen_hash)
        response = HttpResponse(selectors.screen_picture(screen=screen), content_type="image/png")
        response["Cache-Control"] = "private, max-age=86400" if screen_hash else "no-cache"
        return response


class SessionScreenTreeView(APIView):
    """The UI tree (`uiautomator dump` XML) of a screen the device showed: a failed step's evidence."""

    @extend_schema(responses={(200, "application/xml"): bytes})
    def get(self, request: Request, session_id: str, screen_hash: str) -> HttpResponse:
        screen = selectors.session_screen(owner=request.user, session_id=session_id, screen_hash=screen_hash)
        response = HttpResponse(screen.ui_xml, content_type="application/xml; charset=utf-8")
        response["Cache-Control"] = "private, max-age=86400"
        return response


class SessionUiView(APIView):
    @extend_schema(
        description=(
            "The elements of the device's latest screen that a selector finds, with selectors that find exactly"
            " that element: a selector whose value several elements match carries the element's `index` among"
            " them, and `suggestions` says how many match (as the IDE's inspector). A text field's text (its"
            " hint, what was typed, a password's dots) is not suggested."
        ),
        responses=inline_serializer(
            "UiElement",
            {
                "class": serializers.CharField(),
                "bounds": serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4),
                "clickable": serializers.BooleanField(),
                "selectors": serializers.ListField(
                    child=serializers.DictField(), help_text="`{text|id|desc: value, index?}`, ready for a step"
                ),
                "suggestions": inline_serializer(
                    "UiSuggestion",
                    {
                        "kind": serializers.CharField(help_text="text, id or desc"),
                        "value": serializers.CharField(),
                        "matches": serializers.IntegerField(help_text="how many elements the value finds"),
                        "index": serializers.IntegerField(help_text="this element's place among them"),
                    },
                    many=True,
                ),
            },
            many=True,
        ),
    )
    def get(self, request: Request, session_id: str) -> Response:
        return Response(selectors.screen_elements(owner=request.user, session_id=session_id))


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise serializers.ValidationError({name: [f"Must be an integer from {low} to {high}."]})
    return int(raw)


class PastLastSeq(ServiceError):
    """A resume point no client can have reached: a schema-valid `after` the session's state refuses."""

    code = "past_last_seq"
    status = 409


class EventQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**31, help_text="events with seq > after")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=5000, help_text="page size (default EVENTS_PAGE_SIZE)"
    )


class SessionEventsView(APIView):
    @extend_schema(
        parameters=[EventQuerySerializer],
        responses=inline_serializer(
            "EventPage",
            {
                "results": serializers.ListField(child=serializers.DictField()),
                "next_after": serializers.IntegerField(),
                "has_more": serializers.BooleanField(),
            },
        ),
    )
    def get(self, request: Request, session_id: str) -> Response:
        try:
            after = _query_int(request, "after", 0, 0, 2**31)
            limit = _query_int(request, "limit", settings.EVENTS_PAGE_SIZE, 1, 5000)
        except serializers.ValidationError:
            selectors.session_get(owner=request.user, session_id=session_id)  # not yours: 404 before 400
            raise
        events, last_seq = selectors.event_page(owner=request.user, session_id=session_id, after=after, limit=limit)
        if after > last_seq:
            raise PastLastSeq(
                f"after: Must be at most {last_seq}, the session's last seq (the last seq you received).",
                field="after",
                last_seq=last_seq,
            )
        next_after = events[-1].seq if events else after
        return Response(
            {"results": [event_message(e) for e in events], "next_after": next_after, "has_more": next_after < last_seq}
        )


class LogQuerySerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=list(LEVELS), required=False, allow_blank=True, help_text="at least this level: V, D, I, W, E, F or A"
    )
    tag = serializers.CharField(required=False, allow_blank=True, max_length=128, help_text="only this tag")
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="only lines whose tag or message contain it"
    )
    after = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31, help_text="lines after line N (else the last `limit`)"
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=500)


def _log_query(request: Request, session_id: str) -> tuple[selectors.LogFilter, dict[str, Any]]:
    query = LogQuerySerializer(data=request.query_params)
    if not query.is_valid():
        selectors.session_get(owner=request.user, session_id=session_id)  # not yours: 404 before 400
        raise serializers.ValidationError(query.errors)
    data = query.validated_data
    keep = selectors.LogFilter(level=data.get("level", ""), tag=data.get("tag", ""), text=data.get("q", ""))
    return keep, data


class SessionLogView(APIView):
    """The session's device log (extension, docs/api.md "Device logs"): its lines, parsed and filtered."""

    @extend_schema(
        parameters=[LogQuerySerializer],
        responses=inline_serializer(
            "DeviceLogPage",
            {
                "results": serializers.ListField(child=serializers.DictField()),
                "next_after": serializers.IntegerField(),
                "last": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request: Request, session_id: str) -> Response:
        keep, data = _log_query(request, session_id)
        lines, last = selectors.session_log_page(
            owner=request.user, session_id=session_id, keep=keep, after=data.get("after"), limit=data["limit"]
        )
        next_after = lines[-1]["n"] if lines else data.get("after", last)
        return Response({"results": lines, "next_after": next_after, "last": last})


class SessionLogDownloadView(APIView):
    """The session's device log as a text file (`logcat -v threadtime` lines), filtered like `…/logs/`."""

    @extend_schema(parameters=[LogQuerySerializer], responses={(200, "text/plain"): bytes})
    def get(self, request: Request, session_id: str) -> HttpResponse:
        keep, _ = _log_query(request, session_id)
        lines = selectors.session_log_text(owner=request.user, session_id=session_id, keep=keep)
        response = HttpResponse(lines, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="device-log-{session_id}.txt"'
        return response


class StepFailureLogView(APIView):
    """A failed step's evidence: the device's last log lines at the moment it failed."""

    @extend_schema(parameters=[STEP_ID], responses={(200, "text/plain"): bytes})
    def get(self, request: Request, session_id: str, step_id: int) -> HttpResponse:
        text = selectors.step_failure_log(owner=request.user, session_id=session_id, step_id=step_id)
        return HttpResponse(text, content_type="text/plain; charset=utf-8")


class SessionRecordingView(APIView):
    """The session's recording: a WebM video of the screens its device showed (extension, docs/api.md)."""

    @extend_schema(responses={(200, "video/webm"): bytes})
    def get(self, request: Request, session_id: str) -> HttpResponse:
        video = recording.recording_get(owner=request.user, session_id=session_id)
        response = HttpResponse(video, content_type="video/webm")
        response["Content-Disposition"] = f'inline; filename="session-{session_id}.webm"'
        return response


class SessionInputView(APIView):
    @extend_schema(request={"application/json": INPUT_BODY}, responses=StepSerializer)
    def post(self, request: Request, session_id: str) -> Response:
        body = InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        step = services.session_input(
            session_id=session_id,
            owner=request.user,
            input_id=body.validated_data["input_id"],
            value=body.validated_data.get("value"),
            cancel=body.validated_data["cancel"],
        )
        return Response(StepSerializer(step).data)


class SessionStopSerializer(StrictSerializer):
    """Stop takes no fields: no body, or `{}`; its body is read like any other (400, 413, 415)."""


class SessionStopView(APIView):
    @extend_schema(request=SessionStopSerializer, responses=SessionSerializer)
    def post(self, request: Request, session_id: str) -> Response:
        SessionStopSerializer(data=request.data).is_valid(raise_exception=True)
        session = services.session_stop(session_id=session_id, owner=request.user)
        return Response(SessionSerializer(session, context={"request": request}).data)


class DeviceWithHolderSerializer(DeviceSerializer):
    held_by = serializers.UUIDField(read_only=True, allow_null=True, help_text="Your session holding it, if any.")

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "held_by"]


class DeviceListView(APIView):
    @extend_schema(responses=DeviceWithHolderSerializer(many=True))
    def get(self, request: Request) -> Response:
        devices = selectors.devices_with_holders(viewer=request.user)
        return Response(DeviceWithHolderSerializer(devices, many=True).data)
