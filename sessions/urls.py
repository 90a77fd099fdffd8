from django.urls import path

from . import api

urlpatterns = [
    path("devices/", api.DeviceListView.as_view()),
    path("sessions/", api.SessionListView.as_view()),
    path("sessions/<str:session_id>/", api.SessionDetailView.as_view()),
    path("sessions/<str:session_id>/steps/", api.SessionStepsView.as_view()),
    path("sessions/<str:session_id>/steps/<id:step_id>/screenshot.png", api.StepScreenshotView.as_view()),
    path("sessions/<str:session_id>/events/", api.SessionEventsView.as_view()),
    path("sessions/<str:session_id>/logs/", api.SessionLogView.as_view()),
    path("sessions/<str:session_id>/logs.txt", api.SessionLogDownloadView.as_view()),
    path("sessions/<str:session_id>/recording.webm", api.SessionRecordingView.as_view()),
    path("sessions/<str:session_id>/steps/<id:step_id>/log.txt", api.StepFailureLogView.as_view()),
    path("sessions/<str:session_id>/screen.png", api.SessionScreenView.as_view()),
    path("sessions/<str:session_id>/screens/<str:screen_hash>.png", api.SessionScreenView.as_view()),
    path("sessions/<str:session_id>/screens/<str:screen_hash>.xml", api.SessionScreenTreeView.as_view()),
    path("sessions/<str:session_id>/ui/", api.SessionUiView.as_view()),
    path("sessions/<str:session_id>/input/", api.SessionInputView.as_view()),
    path("sessions/<str:session_id>/stop/", api.SessionStopView.as_view()),
]
