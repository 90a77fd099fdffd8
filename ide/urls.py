from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import liveview, views

app_name = "ide"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("favicon.svg", views.favicon, name="favicon"),
    path("favicon.ico", RedirectView.as_view(url="/favicon.svg", permanent=True)),
    path("docs/api/", views.api_page, name="api"),
    path("steps/catalog.json", views.steps_catalog, name="steps_catalog"),
    path("devices/<str:serial>/live/", liveview.live_page, name="live"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<uuid:session_id>/", views.session_page, name="session"),
    path("sessions/<uuid:session_id>/stop/", views.session_stop, name="session_stop"),
    path("sessions/<uuid:session_id>/export/maestro/", views.export_maestro, name="export_maestro"),
    path(
        "sessions/<uuid:session_id>/screens/<str:screen_hash>/tree.json",
        views.screen_tree,
        name="screen_tree",
    ),
]
