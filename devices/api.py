from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import Device


class DeviceSerializer(serializers.ModelSerializer):
    held_by = serializers.UUIDField(read_only=True, allow_null=True)

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
            "held_by",
        ]


class DeviceListView(APIView):
    @extend_schema(responses=DeviceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(DeviceSerializer(selectors.device_list(), many=True).data)
