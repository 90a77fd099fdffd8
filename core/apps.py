from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: the step vocabulary, the errors' base class, Redis locks. Imports no other app."""

    name = "core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.urls import register_converter

        from .converters import DatabaseIdConverter
        from .dbfiles import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="core.database_files_private")
        register_converter(DatabaseIdConverter, "id")
