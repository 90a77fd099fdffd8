"""The files of sessions in the artifact storage (core/storage.py): what each user keeps, and retention.

Retention (docs/settings.md "Artifacts"), enforced by the sweeper: the files of a session that ended
more than ARTIFACT_RETENTION_DAYS ago are deleted, and a user whose files take more than
ARTIFACT_QUOTA_MB loses those of their sessions that ended first until they fit. A session that is
still open keeps everything. What is deleted is the files (screens' pictures, screenshots, device
logs, failure logs, recordings); the session's steps, events and UI trees stay.

A session deleted from the database (the admin, a queryset's `delete()`, its owner's deletion) takes its
files with it once the deletion commits (`session_files_delete`, hooked in apps.py). Files that outlived
their session all the same (a file written by a worker after the deletion, a storage that failed at that
moment, rows deleted without the ORM) are found by the sweeper: every ORPHANS_EVERY_S it deletes the folder
of every session that no longer exists (`artifacts_orphans_delete`).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from core.locks import lock_key, redis_client
from core.storage import (
    SESSIONS_FOLDER,
    artifact_delete,
    artifact_folders,
    artifact_name,
    artifact_save,
    artifact_size,
    artifact_tree_delete,
)

from ..models import Artifact, Screen, Step, TestSession

logger = logging.getLogger(__name__)
RETENTION_EVERY_S = 60
ORPHANS_EVERY_S = 3600


def session_artifact_names(*, session_id: Any) -> list[str]:
    names = list(Screen.objects.filter(session_id=session_id).exclude(picture="").values_list("picture", flat=True))
    names += Step.objects.filter(session_id=session_id).exclude(screenshot="").values_list("screenshot", flat=True)
    names += Artifact.objects.filter(session_id=session_id).values_list("file", flat=True)
    return names


def session_artifacts_delete(*, session_id: Any) -> int:
    """Delete a session's files, then forget them; the number of files deleted."""
    names = session_artifact_names(session_id=session_id)
    for name in names:
        artifact_delete(name=name)
    Screen.objects.filter(session_id=session_id).exclude(picture="").update(picture="", size=0)
    Step.objects.filter(session_id=session_id).exclude(screenshot="").update(screenshot="")
    Artifact.objects.filter(session_id=session_id).delete()
    return len(names)


def session_files_delete(*, session_id: Any) -> int:
    """Delete every file under a session's folder, whether a row names it or not; the number deleted. For a
    session that is gone: its rows are not touched."""
    return artifact_tree_delete(name=artifact_name(session_id))


def artifacts_orphans_delete() -> int:
    """Delete the folders of sessions that no longer exist; the number of files deleted. A session's row is
    committed before any of its files is written, so a folder listed here whose session is not found is
    an orphan."""
    ids: dict[uuid.UUID, str] = {}
    for folder in artifact_folders(name=SESSIONS_FOLDER):
        try:
            ids[uuid.UUID(folder)] = folder
        except ValueError:  # not a session's folder
            continue
    deleted = 0
    found = list(ids)
    for start in range(0, len(found), 1000):
        chunk = found[start : start + 1000]
        alive = set(TestSession.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        for session_id in chunk:
            if session_id not in alive:
                deleted += session_files_delete(session_id=ids[session_id])
    if deleted:
        logger.info("deleted %d artifact files of sessions that no longer exist", deleted)
    return deleted


def artifact_usage() -> dict[int, int]:
    """Bytes of artifacts kept, by owner: every file a session's rows name (screens' pictures, `screenshot`
    steps' pictures, logs, recordings)."""
    usage: dict[int, int] = {}
    for model in (Screen, Artifact):
        for row in model.objects.values("session__owner").annotate(total=Sum("size")):
            usage[row["session__owner"]] = usage.get(row["session__owner"], 0) + (row["total"] or 0)
    shots = Step.objects.exclude(screenshot="").values_list("session__owner", "screenshot")
    for owner_id, name in shots.iterator():
        usage[owner_id] = usage.get(owner_id, 0) + _screenshot_size(name)
    return usage


_SHOT_SIZES: dict[str, int] = {}
SHOT_SIZES_KEPT = 100_000


def _screenshot_size(name: str) -> int:
    """A `screenshot` step's picture's bytes. Its row has no size (the lane writes the name only), so the storage
    is asked, once per picture in this process (a picture is written once, under its step's name)."""
    size = _SHOT_SIZES.get(name)
    if size is None:
        size = artifact_size(name=name)
        if size:  # a picture not found (yet) is asked again
            if len(_SHOT_SIZES) >= SHOT_SIZES_KEPT:
                _SHOT_SIZES.clear()
            _SHOT_SIZES[name] = size
    return size


def _with_files() -> Q:
    """Sessions that still have a file (one EXISTS each: no join that multiplies rows)."""
    session = OuterRef("pk")
    return (
        Q(Exists(Screen.objects.filter(session=session).exclude(picture="")))
        | Q(Exists(Artifact.objects.filter(session=session)))
        | Q(Exists(Step.objects.filter(session=session).exclude(screenshot="")))
    )


def artifacts_expire(*, now: datetime | None = None) -> int:
    """One retention pass (days, then per-user quota); the number of files deleted."""
    now = now or timezone.now()
    ended = TestSession.objects.filter(status__in=TestSession.TERMINAL, ended_at__isnull=False)
    deleted = 0
    if settings.ARTIFACT_RETENTION_DAYS > 0:
        cutoff = now - timedelta(days=settings.ARTIFACT_RETENTION_DAYS)
        expired = ended.filter(ended_at__lt=cutoff).filter(_with_files()).values_list("pk", flat=True)
        for session_id in list(expired):
            deleted += session_artifacts_delete(session_id=session_id)
    if settings.ARTIFACT_QUOTA_MB > 0:
        quota = settings.ARTIFACT_QUOTA_MB * 1024 * 1024
        for owner_id, used in artifact_usage().items():
            if used <= quota:
                continue
            oldest = ended.filter(owner_id=owner_id).filter(_with_files()).order_by("ended_at")
            for session_id in oldest.values_list("pk", flat=True).iterator():
                freed = _session_bytes(session_id)
                deleted += session_artifacts_delete(session_id=session_id)
                used -= freed
                if used <= quota:
                    break
    if deleted:
        logger.info("retention deleted %d artifact files", deleted)
    return deleted


def _session_bytes(session_id: Any) -> int:
    screens = Screen.objects.filter(session_id=session_id).aggregate(total=Sum("size"))["total"] or 0
    files = Artifact.objects.filter(session_id=session_id).aggregate(total=Sum("size"))["total"] or 0
    shots = Step.objects.filter(session_id=session_id).exclude(screenshot="").values_list("screenshot", flat=True)
    return int(screens + files) + sum(_screenshot_size(name) for name in shots)


def artifacts_retention() -> int:
    """The sweeper's duty: `artifacts_expire` at most once a minute and `artifacts_orphans_delete` at most once
    every ORPHANS_EVERY_S, across every sweeper process; the number of files deleted."""
    deleted = 0
    if redis_client().set(lock_key("artifact-retention"), 1, nx=True, ex=RETENTION_EVERY_S):
        deleted += artifacts_expire()
    if redis_client().set(lock_key("artifact-orphans"), 1, nx=True, ex=ORPHANS_EVERY_S):
        deleted += artifacts_orphans_delete()
    return deleted


# --- device logs ------------------------------------------------------------------------------------------


def log_chunk_store(*, session_id: Any, lines: list[str]) -> Artifact:
    """One chunk of a session's device log (threadtime lines, in the order read), as a file."""
    content = "".join(f"{line}\n" for line in lines).encode()
    name = artifact_save(name=artifact_name(session_id, "logs", f"{time.time_ns()}.log"), content=content)
    return Artifact.objects.create(
        session_id=session_id, kind=Artifact.Kind.LOG, file=name, size=len(content), lines=len(lines)
    )


def failure_log_store(*, session_id: Any, step_id: int, lines: list[str]) -> Artifact:
    """A failed step's evidence: the device's last log lines at the moment it failed."""
    content = "".join(f"{line}\n" for line in lines).encode()
    name = artifact_save(name=artifact_name(session_id, "steps", f"{step_id}-failure.log"), content=content)
    Artifact.objects.filter(step_id=step_id, kind=Artifact.Kind.FAILURE_LOG).delete()  # a retried step's last
    return Artifact.objects.create(
        session_id=session_id,
        step_id=step_id,
        kind=Artifact.Kind.FAILURE_LOG,
        file=name,
        size=len(content),
        lines=len(lines),
    )
