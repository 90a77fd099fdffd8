from django.urls import path

from .consumers import DevicesConsumer
from .liveview import LiveViewConsumer

websocket_urlpatterns = [
    path("ws/devices/", DevicesConsumer.as_asgi()),
    path("ws/devices/<str:serial>/live/", LiveViewConsumer.as_asgi()),
]
