"""REST interfaces of runs, capture bundles and replays: parse, call one service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictSerializer
from sessions import selectors as session_selectors

from . import capture, selectors, services
from .capture import Bundle, ReplayRequest
from .flows import VAR_RE
from .junit import run_junit


def _report_fields() -> dict[str, serializers.Field]:
    """A run's report as the list shows it; the report of one run adds its `steps`."""
    return {
        "id": serializers.UUIDField(),
        "session_id": serializers.UUIDField(),
        "status": serializers.ChoiceField(
            choices=["running", "passed", "failed", "identical", "diverged", "error", "cancelled"]
        ),
        "cancel_reason": serializers.CharField(allow_null=True),
        "meta": serializers.DictField(),
        "steps_total": serializers.IntegerField(),
        "steps_done": serializers.IntegerField(),
        "current_step": serializers.DictField(allow_null=True),
        "failures": serializers.ListField(child=serializers.DictField()),
        "artifacts": serializers.DictField(help_text="the session's recording, device log and capture bundle"),
    }


SUMMARY = inline_serializer("RunSummary", _report_fields())
REPORT = inline_serializer(
    "RunReport", {**_report_fields(), "steps": serializers.ListField(child=serializers.DictField())}
)


class MetaField(serializers.DictField):
    """`{key: value}` run metadata (commit, build URL …): at most 32 short entries."""

    child = serializers.CharField(allow_blank=True, max_length=1000)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value: dict[str, str] = super().to_internal_value(data)
        if len(value) > 32 or any(not k or len(k) > 100 for k in value):
            raise serializers.ValidationError("At most 32 entries, keys of 1 to 100 characters.")
        return value


class VariablesField(serializers.DictField):
    """`env` and `secrets`: values of the variables a flow names as `${NAME}`; a key no `${…}` can name (a space
    in it, a leading digit) is refused, not kept unused."""

    child = serializers.CharField(allow_blank=True, max_length=4096)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value: dict[str, str] = super().to_internal_value(data)
        if bad := next((k for k in value if not VAR_RE.fullmatch(f"${{{k}}}")), None):
            raise serializers.ValidationError(
                f"'{bad[:100]}' is not a variable name: letters, digits and _, not starting with a digit."
            )
        return value


class RunCreateSerializer(StrictSerializer):
    flow = serializers.CharField(max_length=1_000_000, trim_whitespace=False, allow_blank=True)  # empty: invalid_flow
    filename = serializers.CharField(required=False, max_length=255, default="flow.yaml")
    files = serializers.DictField(
        child=serializers.CharField(max_length=1_000_000, trim_whitespace=False, allow_blank=True),
        required=False,
        help_text="Other flow files it runs (`run_flow: {file: …}`): path (relative as written) → YAML.",
    )
    device = serializers.CharField(required=False, allow_null=True, min_length=1, max_length=128, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    env = VariablesField(required=False)
    secrets = VariablesField(
        required=False,
        help_text="Values of secret variables: they stay ${NAME} in the steps and are never stored or shown.",
    )
    meta = MetaField(required=False)
    dry_run = serializers.BooleanField(required=False, default=False)


class RunStopSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ReplayCreateSerializer(StrictSerializer):
    bundle = serializers.JSONField()
    device = serializers.CharField(required=False, allow_null=True, min_length=1, max_length=128, trim_whitespace=False)


def _report(run: Any) -> dict[str, Any]:
    return selectors.run_report(run=run)


class RunListView(APIView):
    @extend_schema(responses=serializers.ListSerializer(child=SUMMARY), operation_id="runs_list")
    def get(self, request: Request) -> Response:
        runs = selectors.run_list(owner=request.user)[:100]
        return Response([{k: v for k, v in _report(r).items() if k != "steps"} for r in runs])

    @extend_schema(request=RunCreateSerializer, responses={201: REPORT})
    def post(self, request: Request) -> Response:
        body = RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["dry_run"]:
            flow = services.flow_check(
                text=data["flow"],
                filename=data["filename"],
                env=data.get("env"),
                secrets=data.get("secrets"),
                files=data.get("files"),
                device_serial=data.get("device"),
            )
            return Response(
                {
                    "valid": True,
                    "name": flow.name,
                    "app": flow.app,
                    "tags": flow.tags,
                    "syntax": flow.syntax,
                    "secrets": flow.secrets,
                    "files": flow.files,
                    "steps_total": len(flow.steps),
                    "steps": [{**s.plan(), **s.data} for s in flow.steps],
                }
            )
        run = services.run_start(
            owner=request.user,
            flow_text=data["flow"],
            filename=data["filename"],
            device_serial=data.get("device"),
            name=data["name"],
            env=data.get("env"),
            secrets=data.get("secrets"),
            files=data.get("files"),
            meta=data.get("meta"),
        )
        return Response(_report(run), status=status.HTTP_201_CREATED)


class RunDetailView(APIView):
    @extend_schema(responses=REPORT)
    def get(self, request: Request, run_id: str) -> Response:
        return Response(_report(selectors.run_get(owner=request.user, run_id=run_id)))


class RunStopView(APIView):
    @extend_schema(request=RunStopSerializer, responses=REPORT)
    def post(self, request: Request, run_id: str) -> Response:
        body = RunStopSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        run = services.run_stop(owner=request.user, run_id=run_id, reason=body.validated_data["reason"])
        return Response(_report(run))


class RunJunitView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("per_step", bool, description="one test case per step (default: per flow)")],
        responses={(200, "application/xml"): bytes},
    )
    def get(self, request: Request, run_id: str) -> HttpResponse:
        run = selectors.run_get(owner=request.user, run_id=run_id)
        per_step = request.query_params.get("per_step", "").lower() in ("1", "true", "yes")
        base_url = request.build_absolute_uri("/").rstrip("/")
        document = run_junit(_report(run), per_step=per_step, base_url=base_url)
        return HttpResponse(document, content_type="application/xml; charset=utf-8")


class SessionCaptureView(APIView):
    @extend_schema(responses=Bundle)
    def get(self, request: Request, session_id: str) -> Response:
        session = session_selectors.session_get(owner=request.user, session_id=session_id)
        response = Response(capture.bundle_export(session=session))
        response["Content-Disposition"] = f'inline; filename="capture-{session.pk}.json"'
        return response


class ReplayListView(APIView):
    @extend_schema(request=ReplayRequest, responses={201: REPORT})
    def post(self, request: Request) -> Response:
        body = ReplayCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.replay_start(
            owner=request.user, bundle=body.validated_data["bundle"], device_serial=body.validated_data.get("device")
        )
        return Response(_report(run), status=status.HTTP_201_CREATED)


class ReplayDetailView(APIView):
    @extend_schema(responses=REPORT)
    def get(self, request: Request, run_id: str) -> Response:
        return Response(_report(selectors.replay_get(owner=request.user, run_id=run_id)))


FLOW = inline_serializer(
    "SavedFlow",
    {
        "id": serializers.UUIDField(),
        "name": serializers.CharField(),
        "cron": serializers.CharField(allow_null=True),
        "enabled": serializers.BooleanField(),
        "trigger_url": serializers.URLField(),
        "webhook_secret": serializers.CharField(help_text="Only in the answer to the creation."),
    },
)


class SavedFlowCreateSerializer(StrictSerializer):
    flow = serializers.CharField(max_length=1_000_000, trim_whitespace=False, allow_blank=True)  # empty: invalid_flow
    filename = serializers.CharField(required=False, max_length=255, default="flow.yaml")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    env = VariablesField(required=False)
    device = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=128)
    cron = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    enabled = serializers.BooleanField(required=False, default=True)


def _flow(request: Request, flow: Any) -> dict[str, Any]:
    return {
        **selectors.saved_flow_report(flow=flow),
        "trigger_url": request.build_absolute_uri(f"/api/flows/{flow.pk}/trigger/"),
    }


class SavedFlowListView(APIView):
    @extend_schema(responses=serializers.ListSerializer(child=FLOW), operation_id="flows_list")
    def get(self, request: Request) -> Response:
        return Response([_flow(request, f) for f in selectors.saved_flow_list(owner=request.user)])

    @extend_schema(request=SavedFlowCreateSerializer, responses={201: FLOW})
    def post(self, request: Request) -> Response:
        body = SavedFlowCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        flow, secret = services.saved_flow_create(
            owner=request.user,
            flow_text=data["flow"],
            filename=data["filename"],
            name=data["name"],
            env=data.get("env"),
            device_serial=data.get("device") or "",
            cron=data.get("cron") or "",
            enabled=data["enabled"],
        )
        return Response({**_flow(request, flow), "webhook_secret": secret}, status=status.HTTP_201_CREATED)


class SavedFlowDetailView(APIView):
    @extend_schema(responses=FLOW)
    def get(self, request: Request, flow_id: str) -> Response:
        return Response(_flow(request, selectors.saved_flow_get(owner=request.user, flow_id=flow_id)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, flow_id: str) -> Response:
        services.saved_flow_delete(owner=request.user, flow_id=flow_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SavedFlowRunView(APIView):
    @extend_schema(request=None, responses={201: REPORT})
    def post(self, request: Request, flow_id: str) -> Response:
        run = services.saved_flow_run(owner=request.user, flow_id=flow_id)
        return Response(_report(run), status=status.HTTP_201_CREATED)


class SavedFlowTriggerView(APIView):
    """The webhook: no user authentication; the caller proves it knows the flow's secret."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={201: REPORT}, auth=[])
    def post(self, request: Request, flow_id: str) -> Response:
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        run = services.flow_trigger(
            flow_id=flow_id,
            body=request.body,
            signature=request.headers.get("X-CogniSim-Signature"),
            bearer=credentials if scheme.lower() == "bearer" else None,
            timestamp=request.headers.get("X-CogniSim-Timestamp"),
            delivery=request.headers.get("X-CogniSim-Delivery"),
        )
        return Response(_report(run), status=status.HTTP_201_CREATED)
