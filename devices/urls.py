from django.urls import path

from . import api

urlpatterns = [path("devices/", api.DeviceListView.as_view())]
