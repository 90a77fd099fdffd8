"""Where the files of sessions live: Django's storage API, under the alias "artifacts" (settings.STORAGES).

Files under `ARTIFACTS_DIR` (`$COGNISIM_HOME/artifacts`) by default, an S3-compatible bucket through
django-storages when `ARTIFACTS_S3_BUCKET` is set (docs/settings.md). Screens, step screenshots, device
logs, failure evidence and recordings all go here, never into database blobs. Every name is
`sessions/<session id>/…`, so a session's files are one prefix.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages


def artifact_storage() -> Storage:
    """The storage of artifacts (a callable, so that models and migrations resolve it when used)."""
    return storages["artifacts"]


def artifact_name(session_id: object, *parts: str) -> str:
    return "/".join(("sessions", str(session_id), *parts))


def artifact_save(*, name: str, content: bytes) -> str:
    """Write `content` under `name` (replacing what was there); the name it is stored under."""
    return artifact_storage().save(name, ContentFile(content))


def artifact_read(*, name: str) -> bytes:
    with artifact_storage().open(name, "rb") as file:
        data: bytes = file.read()
    return data


def artifact_delete(*, name: str) -> None:
    if name:
        artifact_storage().delete(name)
