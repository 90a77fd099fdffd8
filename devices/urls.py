from django.urls import path

from . import api

urlpatterns = [
    path("devices/register/", api.DeviceRegisterView.as_view()),
    path("devices/heartbeat/", api.DeviceHeartbeatView.as_view()),
    path("devices/<str:serial>/offline/", api.DeviceOfflineView.as_view()),
]
