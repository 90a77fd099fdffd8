from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the step vocabulary, the errors' base class, Redis locks. Imports no other app."""

    name = "core"
