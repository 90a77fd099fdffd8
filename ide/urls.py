from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "ide"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<uuid:session_id>/", views.session_page, name="session"),
]
