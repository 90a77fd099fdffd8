"""Artifacts in the storage API: the data migration of the old blobs, retention by days and by quota, and the
files of deleted sessions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core.locks import lock_key, redis_client
from core.storage import artifact_storage
from sessions.models import Artifact, Screen, Step, TestSession
from sessions.services.artifacts import artifact_usage, artifacts_expire, artifacts_retention

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_screens_and_screenshots_out_of_the_database(user, device):
    before, after = [("test_sessions", "0006_next_index")], [("test_sessions", "0007_artifacts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        session = old.get_model("test_sessions", "TestSession").objects.create(owner_id=user.pk, device_id=device.pk)
        old.get_model("test_sessions", "Screen").objects.create(session=session, screen_hash="a" * 64, png=PNG)
        step = old.get_model("test_sessions", "Step").objects.create(
            session=session, index=0, action="screenshot", timeout_ms=1000, screenshot=PNG[::-1]
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
    screen = Screen.objects.get(session_id=session.pk)
    assert screen.picture.name == f"sessions/{session.pk}/screens/{'a' * 64}.png"
    assert screen.picture.read() == PNG and screen.size == len(PNG)
    shot = TestSession.objects.get(pk=session.pk).steps.get(pk=step.pk).screenshot
    assert shot.name == f"sessions/{session.pk}/steps/{step.pk}-screenshot.png" and shot.read() == PNG[::-1]
    assert "png" not in {f.name for f in Screen._meta.get_fields()}


def ended_session(user, device, *, days_ago: float, size: int) -> TestSession:
    session = TestSession.objects.create(
        owner=user, device=device, status="COMPLETED", ended_at=timezone.now() - timedelta(days=days_ago)
    )
    name = artifact_storage().save(f"sessions/{session.pk}/logs/000001.log", ContentFile(b"x" * size))
    Artifact.objects.create(session=session, kind="log", file=name, size=size, lines=1)
    return session


@pytest.mark.django_db
def test_retention_deletes_the_files_of_sessions_ended_too_long_ago(user, device, settings):
    settings.ARTIFACT_RETENTION_DAYS, settings.ARTIFACT_QUOTA_MB = 30, 0
    old, recent = ended_session(user, device, days_ago=31, size=10), ended_session(user, device, days_ago=29, size=10)
    running = TestSession.objects.create(owner=user, status="RUNNING")
    name = artifact_storage().save(f"sessions/{running.pk}/logs/000001.log", ContentFile(b"live"))
    Artifact.objects.create(session=running, kind="log", file=name, size=4)
    old_file = old.artifacts.get().file.name

    assert artifacts_expire() == 1
    assert not artifact_storage().exists(old_file) and not old.artifacts.exists()
    assert recent.artifacts.exists() and running.artifacts.exists()
    assert artifacts_expire() == 0  # nothing left to do


@pytest.mark.django_db
def test_a_user_over_quota_loses_the_files_of_their_oldest_ended_sessions(user, other_user, device, settings):
    settings.ARTIFACT_RETENTION_DAYS, settings.ARTIFACT_QUOTA_MB = 0, 1
    mib = 1024 * 1024
    oldest = ended_session(user, device, days_ago=3, size=mib // 2)
    middle = ended_session(user, device, days_ago=2, size=mib // 2)
    newest = ended_session(user, device, days_ago=1, size=mib // 2)
    theirs = ended_session(other_user, device, days_ago=9, size=mib // 2)
    assert artifact_usage()[user.pk] == 3 * (mib // 2)

    assert artifacts_expire() == 1
    assert not oldest.artifacts.exists()
    assert middle.artifacts.exists() and newest.artifacts.exists() and theirs.artifacts.exists()
    assert artifact_usage()[user.pk] == mib


def ended_with_screenshot(user, device, *, days_ago: float, size: int) -> tuple[TestSession, str]:
    session = TestSession.objects.create(
        owner=user, device=device, status="COMPLETED", ended_at=timezone.now() - timedelta(days=days_ago)
    )
    step = Step.objects.create(session=session, index=0, action="screenshot", timeout_ms=1000)
    name = artifact_storage().save(f"sessions/{session.pk}/steps/{step.pk}-screenshot.png", ContentFile(b"p" * size))
    Step.objects.filter(pk=step.pk).update(screenshot=name)
    return session, name


@pytest.mark.django_db
def test_screenshot_steps_pictures_count_in_the_quota_and_go_when_it_frees_space(user, device, settings):
    settings.ARTIFACT_RETENTION_DAYS, settings.ARTIFACT_QUOTA_MB = 0, 1
    mib = 1024 * 1024
    oldest, oldest_shot = ended_with_screenshot(user, device, days_ago=3, size=mib // 2)
    middle = ended_session(user, device, days_ago=2, size=mib // 4)
    newest, newest_shot = ended_with_screenshot(user, device, days_ago=1, size=mib // 2)
    assert artifact_usage()[user.pk] == mib // 2 + mib // 4 + mib // 2

    assert artifacts_expire() == 1  # the oldest session's picture: what is left fits
    assert not artifact_storage().exists(oldest_shot) and oldest.steps.get().screenshot.name == ""
    assert middle.artifacts.exists() and artifact_storage().exists(newest_shot)
    assert artifact_usage()[user.pk] == mib // 4 + mib // 2
    assert artifacts_expire() == 0


@pytest.mark.django_db
def test_the_sweeper_enforces_retention(user, device, settings):
    from cognisim_site.scheduler import sweep

    settings.ARTIFACT_RETENTION_DAYS, settings.ARTIFACT_QUOTA_MB = 30, 0
    old = ended_session(user, device, days_ago=40, size=10)
    name = old.artifacts.get().file.name
    redis_client().delete(lock_key("artifact-retention"))  # once a minute: this pass is the one
    redis_client().set(lock_key("artifact-orphans"), 1, ex=60)  # other tests' leftovers are not counted here
    assert sweep()["artifacts_retention"] == 1
    assert not artifact_storage().exists(name) and not old.artifacts.exists()


@pytest.mark.django_db
def test_a_device_log_pages_across_its_chunks(user, device):
    from devices.logcat import threadtime
    from sessions.selectors import LogFilter, session_log_page
    from sessions.services.artifacts import log_chunk_store

    session = TestSession.objects.create(owner=user, device=device)
    for chunk in range(3):
        lines = [threadtime("W" if n % 2 else "I", "Demo", f"line {chunk * 4 + n + 1}", pid=42) for n in range(4)]
        log_chunk_store(session_id=session.pk, lines=lines)
    every = LogFilter()

    def page(after, limit=3, keep=every):
        found, last = session_log_page(owner=user, session_id=session.pk, keep=keep, after=after, limit=limit)
        assert last == 12
        return [(line["n"], line["message"]) for line in found]

    assert page(None) == [(10, "line 10"), (11, "line 11"), (12, "line 12")]  # the last ones
    assert page(3) == [(4, "line 4"), (5, "line 5"), (6, "line 6")]  # across a chunk's end
    assert page(8, limit=10) == [(n, f"line {n}") for n in range(9, 13)]  # the first two chunks not read
    assert page(0, keep=LogFilter(level="W")) == [(2, "line 2"), (4, "line 4"), (6, "line 6")]
    artifact_storage().delete(session.artifacts.order_by("id")[1].file.name)  # retention took one meanwhile
    assert page(3) == [(4, "line 4"), (9, "line 9"), (10, "line 10")]  # numbers stay the log's own


@pytest.mark.django_db
def test_a_steps_log_is_not_found_in_words_that_say_why(user, device):
    from core.errors import NotFound
    from sessions.models import Step
    from sessions.selectors import step_failure_log

    session = TestSession.objects.create(owner=user, device=device)
    passed = Step.objects.create(session=session, index=0, action="screenshot", params={}, timeout_ms=1000)
    with pytest.raises(NotFound, match="kept no log lines"):
        step_failure_log(owner=user, session_id=session.pk, step_id=passed.pk)
    with pytest.raises(NotFound, match=f"has no step {passed.pk + 1}"):
        step_failure_log(owner=user, session_id=session.pk, step_id=passed.pk + 1)


def session_with_every_file(user, device) -> tuple[TestSession, list[str]]:
    """A session keeping one file of each kind, and one that no row names (written after its step was gone)."""
    session = TestSession.objects.create(owner=user, device=device, status="COMPLETED", ended_at=timezone.now())
    save = artifact_storage().save
    screen = save(f"sessions/{session.pk}/screens/{'a' * 64}.png", ContentFile(PNG))
    Screen.objects.create(session=session, screen_hash="a" * 64, picture=screen, size=len(PNG))
    step = Step.objects.create(session=session, index=0, action="screenshot", timeout_ms=1000)
    shot = save(f"sessions/{session.pk}/steps/{step.pk}-screenshot.png", ContentFile(PNG))
    Step.objects.filter(pk=step.pk).update(screenshot=shot)
    log = save(f"sessions/{session.pk}/logs/000001.log", ContentFile(b"log"))
    Artifact.objects.create(session=session, kind="log", file=log, size=3, lines=1)
    video = save(f"sessions/{session.pk}/recording.webm", ContentFile(b"webm"))
    Artifact.objects.create(session=session, kind="recording", file=video, size=4)
    stray = save(f"sessions/{session.pk}/steps/999-screenshot.png", ContentFile(PNG))
    return session, [screen, shot, log, video, stray]


def kept(names: list[str]) -> list[bool]:
    return [artifact_storage().exists(name) for name in names]


@pytest.mark.django_db
def test_deleting_sessions_deletes_their_files_once_it_commits(user, device, django_capture_on_commit_callbacks):
    first, first_files = session_with_every_file(user, device)
    second, second_files = session_with_every_file(user, device)
    other, other_files = session_with_every_file(user, device)

    with django_capture_on_commit_callbacks(execute=True):
        assert TestSession.objects.filter(pk__in=[first.pk, second.pk]).delete()[1]["test_sessions.TestSession"] == 2
        assert kept(first_files + second_files) == [True] * 10  # not before the deletion commits
    assert kept(first_files + second_files) == [False] * 10
    assert not artifact_storage().exists(f"sessions/{first.pk}")  # nor its folders
    assert kept(other_files) == [True] * 5

    with django_capture_on_commit_callbacks(execute=True):
        other.delete()  # one session, as the admin's delete page does
    assert kept(other_files) == [False] * 5


@pytest.mark.django_db
def test_a_deleted_user_takes_their_sessions_files_and_a_rolled_back_deletion_none(
    user, other_user, device, django_capture_on_commit_callbacks
):
    _, mine = session_with_every_file(user, device)
    _, theirs = session_with_every_file(other_user, device)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        other_user.delete()
        raise RuntimeError("rolled back")
    assert kept(theirs) == [True] * 5

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert kept(mine) == [False] * 5 and kept(theirs) == [True] * 5


@pytest.mark.django_db
def test_the_sweeper_deletes_the_folders_of_sessions_that_no_longer_exist(user, device):
    _, alive = session_with_every_file(user, device)
    gone = uuid.uuid4()  # a session deleted without the ORM, or whose worker wrote a file after its deletion
    orphans = [
        artifact_storage().save(f"sessions/{gone}/screens/{'b' * 64}.png", ContentFile(PNG)),
        artifact_storage().save(f"sessions/{gone}/recording.webm", ContentFile(b"webm")),
    ]
    other = artifact_storage().save("sessions/not-a-session/notes.txt", ContentFile(b"mine"))
    redis_client().set(lock_key("artifact-retention"), 1, ex=60)
    redis_client().delete(lock_key("artifact-orphans"))

    assert artifacts_retention() >= 2  # and the leftovers of earlier tests, whose rows were rolled back
    assert kept(orphans) == [False, False] and not artifact_storage().exists(f"sessions/{gone}")
    assert kept(alive) == [True] * 5 and kept([other]) == [True]
    orphans = [artifact_storage().save(f"sessions/{gone}/recording.webm", ContentFile(b"webm"))]
    assert artifacts_retention() == 0 and kept(orphans) == [True]  # once an hour
