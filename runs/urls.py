from django.urls import path

from . import api

urlpatterns = [
    path("runs/", api.RunListView.as_view()),
    path("runs/<str:run_id>/", api.RunDetailView.as_view()),
    path("runs/<str:run_id>/stop/", api.RunStopView.as_view()),
    path("runs/<str:run_id>/junit.xml", api.RunJunitView.as_view()),
    path("flows/", api.SavedFlowListView.as_view()),
    path("flows/<str:flow_id>/", api.SavedFlowDetailView.as_view()),
    path("flows/<str:flow_id>/run/", api.SavedFlowRunView.as_view()),
    path("flows/<str:flow_id>/trigger/", api.SavedFlowTriggerView.as_view()),
    path("replays/", api.ReplayListView.as_view()),
    path("replays/<str:run_id>/", api.ReplayDetailView.as_view()),
    path("sessions/<str:session_id>/capture/", api.SessionCaptureView.as_view()),
]
