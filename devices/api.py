"""REST interfaces of devices: the list for everyone, registration and heartbeats for host agents.

A host agent's token belongs to one host (`create_api_user NAME --host-agent [HOST]`): it speaks for
that host's devices only. A request that names another host is refused (403 `host_mismatch`).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictSerializer

from . import selectors, services
from .errors import HostMismatch
from .models import Device


class IsHostAgent(permissions.BasePermission):
    message = "Only a host agent's token may do this (create_api_user NAME --host-agent HOST)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.agent_host(user=request.user) is not None


def _host(request: Request, named: str | None) -> str:
    """The token's host; a body that names another one is refused."""
    host = selectors.agent_host(user=request.user) or ""
    if named and named != host:
        raise HostMismatch(f"This token belongs to host '{host}'; it cannot speak for '{named[:200]}'.")
    return host


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = [
            "serial",
            "name",
            "host",
            "transport",
            "model",
            "os_version",
            "screen_width",
            "screen_height",
            "status",
            "last_heartbeat",
        ]


class RegisterSerializer(StrictSerializer):
    serial = serializers.RegexField(r"^[A-Za-z0-9._:@-]{1,128}$", max_length=128)
    host = serializers.CharField(max_length=200, required=False, help_text="The token's host (may be left out).")
    transport = serializers.ChoiceField(choices=Device.Transport.choices, default=Device.Transport.ADB)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    os_version = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    screen_width = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=20000)
    screen_height = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=20000)


class HeartbeatSerializer(StrictSerializer):
    host = serializers.CharField(max_length=200, required=False, help_text="The token's host (may be left out).")
    serials = serializers.ListField(child=serializers.CharField(max_length=128), max_length=1000)


class OfflineSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, default="")


class DeviceRegisterView(APIView):
    permission_classes = [IsHostAgent]

    @extend_schema(request=RegisterSerializer, responses=DeviceSerializer)
    def post(self, request: Request) -> Response:
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        device = services.device_register_on_host(
            host=_host(request, data.pop("host", None)),
            serial=data.pop("serial"),
            transport=data.pop("transport"),
            facts=data,
        )
        return Response(DeviceSerializer(device).data)


class DeviceHeartbeatView(APIView):
    permission_classes = [IsHostAgent]

    @extend_schema(request=HeartbeatSerializer, responses={200: None})
    def post(self, request: Request) -> Response:
        body = HeartbeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        host = _host(request, body.validated_data.get("host"))
        alive = services.devices_heartbeat(host=host, serials=body.validated_data["serials"])
        return Response({"alive": alive, "host": host})


class DeviceOfflineView(APIView):
    permission_classes = [IsHostAgent]

    @extend_schema(request=OfflineSerializer, responses=DeviceSerializer)
    def post(self, request: Request, serial: str) -> Response:
        body = OfflineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"] or f"Device {serial} went offline."
        host = _host(request, None)
        device = services.device_mark_offline(serial=serial, reason=reason, host=host)
        if device is None:
            message = f"Host '{host}' has no device '{serial[:128]}'."
            return Response({"code": "not_found", "message": message}, status=404)
        return Response(DeviceSerializer(device).data)
