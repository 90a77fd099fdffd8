"""REST interfaces of devices: the list for everyone, registration and heartbeats for host agents (staff)."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Device


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


class RegisterSerializer(serializers.Serializer):
    serial = serializers.CharField(max_length=128)
    host = serializers.CharField(max_length=200)
    transport = serializers.ChoiceField(choices=Device.Transport.choices, default=Device.Transport.ADB)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    os_version = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    screen_width = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=20000)
    screen_height = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=20000)


class HeartbeatSerializer(serializers.Serializer):
    host = serializers.CharField(max_length=200)
    serials = serializers.ListField(child=serializers.CharField(max_length=128), max_length=1000)


class OfflineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, default="")


class DeviceRegisterView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=RegisterSerializer, responses=DeviceSerializer)
    def post(self, request: Request) -> Response:
        body = RegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        device = services.device_register(
            serial=data.pop("serial"), host=data.pop("host"), transport=data.pop("transport"), facts=data
        )
        return Response(DeviceSerializer(device).data)


class DeviceHeartbeatView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=HeartbeatSerializer, responses={200: None})
    def post(self, request: Request) -> Response:
        body = HeartbeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alive = services.devices_heartbeat(host=body.validated_data["host"], serials=body.validated_data["serials"])
        return Response({"alive": alive})


class DeviceOfflineView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=OfflineSerializer, responses=DeviceSerializer)
    def post(self, request: Request, serial: str) -> Response:
        body = OfflineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"] or f"Device {serial} went offline."
        device = services.device_mark_offline(serial=serial, reason=reason)
        if device is None:
            return Response({"code": "not_found", "message": f"There is no device '{serial}'."}, status=404)
        return Response(DeviceSerializer(device).data)
