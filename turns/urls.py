from django.urls import path

from . import api

urlpatterns = [path("sessions/<str:session_id>/turns/", api.SessionTurnsView.as_view())]
