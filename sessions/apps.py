from django.apps import AppConfig


class TestSessionsConfig(AppConfig):
    # Labelled apart from django.contrib.sessions, which Channels' auth middleware needs.
    name = "sessions"
    label = "test_sessions"
    verbose_name = "Test sessions"
    default_auto_field = "django.db.models.BigAutoField"
