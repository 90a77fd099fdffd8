"""Where the files of sessions live: Django's storage API, under the alias "artifacts" (settings.STORAGES).

Files under `ARTIFACTS_DIR` (`$COGNISIM_HOME/artifacts`) by default, an S3-compatible bucket through
django-storages when `ARTIFACTS_S3_BUCKET` is set (docs/settings.md). Screens, step screenshots, device
logs, failure evidence and recordings all go here, never into database blobs. Every name is
`sessions/<session id>/…`, so a session's files are one prefix.
"""

from __future__ import annotations

import contextlib

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages


def artifact_storage() -> Storage:
    """The storage of artifacts (a callable, so that models and migrations resolve it when used)."""
    return storages["artifacts"]


SESSIONS_FOLDER = "sessions"


def artifact_name(session_id: object, *parts: str) -> str:
    return "/".join((SESSIONS_FOLDER, str(session_id), *parts))


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


def artifact_size(*, name: str) -> int:
    """The bytes of the file under `name`; 0 when there is none."""
    try:
        return artifact_storage().size(name)
    except FileNotFoundError:
        return 0


def artifact_folders(*, name: str) -> list[str]:
    """The names of the folders directly under `name` (none when it does not exist)."""
    try:
        folders, _ = artifact_storage().listdir(name)
    except FileNotFoundError:
        return []
    return list(folders)


def artifact_tree_delete(*, name: str) -> int:
    """Delete every file under the folder `name`, and on disk the emptied folders; the number of files deleted.

    A file written meanwhile may stay (with its folder): the next sweep of the same folder finds it.
    """
    storage = artifact_storage()
    try:
        folders, files = storage.listdir(name)
    except FileNotFoundError:
        return 0
    deleted = sum(artifact_tree_delete(name=f"{name}/{folder}") for folder in folders)
    for file in files:
        storage.delete(f"{name}/{file}")
        deleted += 1
    if isinstance(storage, FileSystemStorage):  # an object store has no folders to remove
        with contextlib.suppress(OSError):  # not empty: a file came meanwhile
            storage.delete(name)
    return deleted
